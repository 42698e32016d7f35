"""day_blocks.added_to (the head of a window's sums, kept with its keys' index, plus its last block)
gives what added (a group-by of both) gives: the same rows in the same order, the same values
bit for bit, a NULL only where both were NULL, a missing department matching itself."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from app.services.kpi_reads.day_blocks import added, added_to, indexed

KEYS = ["person_id", "task", "department_id"]
KEY = st.tuples(st.integers(1, 6), st.sampled_from(["draft", "reply"]),
                st.one_of(st.just(math.nan), st.sampled_from([1.0, 2.0])))
VALUE = st.one_of(st.just(math.nan), st.floats(-1e6, 1e6, allow_nan=False))


def frame(rows: list[tuple]) -> pd.DataFrame:
    # One row per key, as a block read from the rollups (GROUP BY the keys) is.
    unique = list({(p, t, "nan" if math.isnan(d) else d): (p, t, d, n, v) for p, t, d, n, v in rows}.values())
    return pd.DataFrame({"person_id": pd.Series([r[0] for r in unique], dtype="int64"),
                         "task": pd.Series([r[1] for r in unique], dtype="str"),
                         "department_id": pd.Series([r[2] for r in unique], dtype="float64"),
                         "ai_tasks": pd.Series([r[3] for r in unique], dtype="int64"),
                         "ai_dur_min": pd.Series([r[4] for r in unique], dtype="float64")})


ROWS = st.lists(st.tuples(KEY, st.integers(0, 50), VALUE).map(lambda r: (*r[0], r[1], r[2])), max_size=25)


@settings(max_examples=200, deadline=None)
@given(ROWS, ROWS)
def test_adding_the_last_block_to_an_indexed_head_is_the_group_by(head_rows, last_rows):
    head, last = frame(head_rows), frame(last_rows)
    expected = added([head, last], KEYS)
    got = added_to(indexed(head, KEYS), last, KEYS)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_exact=True, check_dtype=not (head.empty or last.empty))


def test_one_key_and_new_people():
    head = pd.DataFrame({"person_id": [3, 1], "days": np.array([2, 5], dtype="int64")})
    last = pd.DataFrame({"person_id": [1, 7], "days": np.array([1, 1], dtype="int64")})
    got = added_to(indexed(head, ["person_id"]), last, ["person_id"])
    assert got.to_dict("list") == {"person_id": [3, 1, 7], "days": [2, 6, 1]}
