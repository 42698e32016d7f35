"""A group's rows picked by person (app/kpi/rows.py) are exactly the rows a filter on the person
ids keeps, in the frame's order, so every sum a breakdown makes adds the same numbers in the same
order as before (hypothesis: random frames, random groups with unknown ids among them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from app.kpi.rows import person_rows


@given(st.lists(st.integers(0, 30), max_size=80), st.sets(st.integers(-5, 40), max_size=30))
def test_picked_rows_are_the_filtered_rows_in_order(persons, group):
    frame = pd.DataFrame({"person_id": np.array(persons, dtype=np.int64),
                          "value": np.arange(len(persons), dtype=np.float64) * 0.1})
    ids = np.fromiter(group, dtype=np.int64, count=len(group))
    picked = person_rows(frame).pick(frame, ids)
    expected = frame[frame["person_id"].isin(ids)]
    pd.testing.assert_frame_equal(picked, expected)


def test_an_empty_frame_or_group_picks_nothing():
    empty = pd.DataFrame({"person_id": np.array([], dtype=np.int64)})
    assert person_rows(empty).pick(empty, np.array([1, 2])).empty
    frame = pd.DataFrame({"person_id": np.array([3, 1, 3])})
    assert person_rows(frame).pick(frame, np.array([], dtype=np.int64)).empty
    assert list(person_rows(frame).pick(frame, np.array([3])).index) == [0, 2]
