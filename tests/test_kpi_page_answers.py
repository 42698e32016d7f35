"""The adoption and quality pages' answers in the shared store (app/services/kpi_reads/feature_pages.py,
page_json.py): the precompute-kpis job stores each feature's pages of the latest two months, a process that
remembers nothing draws them from the store without reading a rollup, equal to a computation, and
a refresh with new events moves their key. Scenario A (tests/kpi_scenarios.py): one feature,
events in August to October 2026."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from app.db import db
from app.models.kpi import KpiAnswer
from app.services.kpi_reads import cache as kpi_cache
from app.services.kpi_reads import page_json, precompute
from dashboards.kpi import data as kpi_data
from tests.kpi_scenarios import event as an_event
from tests.kpi_scenarios import post_events, refresh, refreshed_draft_company

ROLLUPS = ("kpi_activity_days", "kpi_feature_days", "kpi_first_use", "exposure_spells")


@pytest.fixture
def scenario(app, client, ingest_headers):
    return refreshed_draft_company(client, ingest_headers)


def pages(grouping: str = "stage") -> dict[str, dict]:
    return {"adoption": kpi_data.adoption("draft", "2026-10", grouping),
            "adoption_weeks": kpi_data.adoption_weeks("draft", "2026-10", grouping),
            "quality_weeks": kpi_data.quality_weeks("draft", "2026-10")}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name, value in a.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(value, b[name], check_exact=True)
        elif isinstance(value, dict):
            assert_same(value, b[name])
        elif isinstance(value, float) and math.isnan(value):
            assert math.isnan(b[name])
        else:
            assert value == b[name] and type(value) is type(b[name]), name


def reads_of(fn) -> list[str]:
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    return statements


def test_a_process_that_remembers_nothing_draws_the_pages_from_the_store(scenario):
    computed = pages()  # from the rollups: the store is empty
    kpi_cache.clear()
    precompute.precompute()
    db.session.commit()
    questions = list(db.session.scalars(select(KpiAnswer.question)))
    # Five page answers (adoption and its weeks by stage and by department, the quality weeks) of
    # October and of September.
    assert sum(1 for q in questions if q.split("|")[3] != "-") == 10
    kpi_cache.clear()
    drawn: dict = {}
    statements = reads_of(lambda: drawn.update(pages()))
    assert statements and not [s for s in statements if any(t in s for t in ROLLUPS)]
    assert_same(drawn, computed)
    assert drawn["adoption"]["end"] == date(2026, 10, 31) and drawn["adoption"]["record"]["ai_tasks"] == 6
    # The department breakdown is stored too; a cohort breakdown is computed on its first read.
    kpi_cache.clear()
    assert not [s for s in reads_of(lambda: kpi_data.adoption("draft", "2026-10", "department"))
                if any(t in s for t in ROLLUPS)]
    assert [s for s in reads_of(lambda: kpi_data.adoption("draft", "2026-10", "cohort"))
            if "kpi_activity_days" in s]


def test_new_events_move_the_stored_pages_key(scenario, client, ingest_headers):
    precompute.precompute()
    db.session.commit()
    before = kpi_data.adoption("draft", "2026-10")["record"]["ai_tasks"]
    post_events(client, ingest_headers, [an_event("draft", "a", "2026-10-20T10:00:00Z")])
    refresh()
    kpi_cache.clear()
    assert kpi_data.adoption("draft", "2026-10")["record"]["ai_tasks"] == before + 1
    weeks = kpi_data.quality_weeks("draft", "2026-10")["trend"]
    assert weeks["ai_tasks"].sum() == pytest.approx(before + 1)  # every October task lies in the weeks


FRAMES = st.integers(min_value=0, max_value=6).flatmap(lambda n: st.fixed_dictionaries({
    "rate": st.lists(st.one_of(st.floats(allow_infinity=False), st.just(math.nan)), min_size=n, max_size=n),
    "people": st.lists(st.integers(min_value=-2**53, max_value=2**53), min_size=n, max_size=n),
    "hidden": st.lists(st.booleans(), min_size=n, max_size=n),
    "week": st.lists(st.dates(), min_size=n, max_size=n),
    "group": st.lists(st.text(max_size=12), min_size=n, max_size=n),
}))


@settings(max_examples=60, deadline=None)
@given(FRAMES, st.one_of(st.none(), st.floats(allow_infinity=False)))
def test_a_page_answer_reads_back_as_it_was_written(columns, figure):
    frame = pd.DataFrame({"rate": pd.Series(columns["rate"], dtype="float64"),
                          "people": pd.Series(columns["people"], dtype="int64"),
                          "hidden": pd.Series(columns["hidden"], dtype="bool"),
                          "week": pd.Series(columns["week"], dtype="object"),
                          "group": pd.Series(columns["group"], dtype="str")})
    answer = {"trend": frame, "baseline_error_rate": figure, "start": date(2026, 10, 1), "record": {"n": 3}}
    text = page_json.dumps(answer)
    assert text is not None
    assert_same(page_json.loads(text), answer)


def test_what_cannot_read_back_equal_is_not_stored():
    indexed = pd.DataFrame({"x": [1.0, 2.0]}, index=[3, 4])
    assert page_json.dumps({"trend": indexed}) is None
    assert page_json.dumps({"when": pd.Timestamp("2026-10-01")}) is None  # not a page's type
    assert page_json.dumps({"ids": {1, 2}}) is None
