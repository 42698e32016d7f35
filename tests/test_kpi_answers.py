"""The shared store of KPI answers (app/services/kpi_reads/answers.py, precompute.py): the
precompute-kpis job stores each feature's answers of the latest 13 months, a process that remembers
nothing reads them back equal to a computation from the rollups, a refresh makes only the months it
touched be computed again, and no answer outlives the inputs it came from. Scenario A
(tests/kpi_scenarios.py): one feature, events in August to October 2026."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, event, func, select, update

from app.db import db
from app.models.kpi import KpiAnswer, KpiRevision
from app.months import month_bounds
from app.services.kpi_reads import cache as kpi_cache
from app.services.kpi_reads import figures as kpis
from app.services.kpi_reads import precompute
from tests.kpi_scenarios import event as an_event
from tests.kpi_scenarios import post_events, refresh, refreshed_draft_company


@pytest.fixture
def scenario(app, client, ingest_headers):
    return refreshed_draft_company(client, ingest_headers)


def month_kpis(month: str) -> dict:
    start, end = month_bounds(month)
    return kpis.feature_kpis("draft", start, end)


def run_job() -> precompute.PrecomputeResult:
    result = precompute.precompute()
    db.session.commit()
    return result


def stored() -> dict[str, dict]:
    """The store's month answers (not the pages') by window (``start|end``), whatever the stamp of
    their inputs."""
    rows = db.session.execute(select(KpiAnswer.question, KpiAnswer.answer)).all()
    return {"|".join(q.split("|")[1:3]): json.loads(a) for q, a in rows if q.split("|")[3] == "-"}


PAGES = 5  # the adoption and quality pages' answers of a month (feature_pages.PRECOMPUTED)
PAGE_MONTHS = 2  # ... of the latest two (feature_pages.PRECOMPUTED_MONTHS)
ALL_PAGES = PAGES * PAGE_MONTHS


def test_the_job_stores_the_latest_13_months_as_they_are_computed(scenario):
    computed = month_kpis("2026-10")  # from the rollups: the store is empty
    kpi_cache.clear()
    result = run_job()
    # The latest month with rollups is 2026-10: it and the 12 months before, one feature, and its
    # pages of 2026-10 and 2026-09.
    assert (result.computed, result.stored, result.missing) == (13 + ALL_PAGES, 13 + ALL_PAGES, 0)
    answers = stored()
    assert sorted(answers)[0] == "2025-10-01|2025-10-31" and sorted(answers)[-1] == "2026-10-01|2026-10-31"
    assert answers["2026-10-01|2026-10-31"] == computed
    assert answers["2026-09-01|2026-09-30"]["ai_tasks"] == 0  # September: manual work only
    assert run_job().computed == 0  # nothing moved: nothing to compute


def test_a_process_that_remembers_nothing_reads_the_store_and_no_rollup(scenario):
    run_job()
    # Mark the stored answer, so its figure can only come from the store.
    db.session.execute(update(KpiAnswer).where(KpiAnswer.question.like("%|2026-10-01|2026-10-31|%"))
                       .values(answer=func.replace(KpiAnswer.answer, '"ai_tasks": 6', '"ai_tasks": 9')))
    db.session.commit()
    kpi_cache.clear()
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        answer = month_kpis("2026-10")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert answer["ai_tasks"] == 9
    assert statements and not [s for s in statements if "kpi_activity_days" in s or "exposure_spells" in s]


def test_new_events_are_never_hidden_by_a_stored_answer(scenario, client, ingest_headers):
    run_job()
    before = month_kpis("2026-10")
    post_events(client, ingest_headers, [an_event("draft", "c", "2026-10-08T10:00:00Z")])
    assert month_kpis("2026-10") == before  # reads show the last refresh (the contract)
    refresh()
    assert month_kpis("2026-10")["ai_tasks"] == before["ai_tasks"] + 1


def test_a_refresh_has_only_the_months_it_touched_computed_again(scenario, client, ingest_headers):
    run_job()
    post_events(client, ingest_headers, [an_event("draft", "c", "2026-11-05T10:00:00Z")])
    refresh()
    result = run_job()
    answers = stored()
    assert "2026-11-01|2026-11-30" in answers and "2025-10-01|2025-10-31" not in answers  # 13 months on
    assert result.dropped >= 1 and len(answers) == 13
    if db.engine.dialect.name == "postgresql":
        # Stamped by the months up to each window's end: only November is new, and its pages
        # (October's were stored before).
        assert result.computed == 1 + PAGES
    else:
        assert result.computed == 13 + ALL_PAGES  # SQLite keys every answer on the KPI revision
    post_events(client, ingest_headers, [an_event("draft", "a", "2026-10-20T10:00:00Z")])
    refresh()
    result = run_job()
    # October, November and the pages of both (November's trend weeks reach October).
    assert result.computed == (2 + ALL_PAGES if db.engine.dialect.name == "postgresql" else 13 + ALL_PAGES)
    assert stored()["2026-10-01|2026-10-31"]["ai_tasks"] == 7


def test_a_run_that_sees_the_inputs_move_stores_nothing_after_it(scenario, monkeypatch):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite: the job's read transaction sees one snapshot, nothing moves under it")
    real = precompute.figures.feature_kpis

    def then_another_process_commits(*args, **kwargs):
        answer = real(*args, **kwargs)
        other = create_engine(db.engine.url)
        with other.begin() as conn:  # a KPI write elsewhere moves the revision
            conn.execute(update(KpiRevision).where(KpiRevision.id == 1)
                         .values(revision=KpiRevision.revision + 1))
        other.dispose()
        return answer

    monkeypatch.setattr(precompute.figures, "feature_kpis", then_another_process_commits)
    result = run_job()
    assert (result.computed, result.stored, result.missing) == (1, 0, 13 + ALL_PAGES) and stored() == {}


def test_the_job_runs_from_the_command_line(scenario, runner):
    result = runner.invoke(args=["liftoff", "jobs", "run", "precompute-kpis"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(KpiAnswer)) == 13 + ALL_PAGES
