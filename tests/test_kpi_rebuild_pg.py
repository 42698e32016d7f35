"""PostgreSQL's full rebuild (app/services/rollups/rebuild.py: packed sort key, a second connection
on the same snapshot) writes exactly the rows of the plain per-table statements the incremental
refresh and SQLite use: every rollup table, row for row."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from app import plausible
from app.db import db
from app.services.rollups import materialise as rollups
from app.services.rollups import rebuild as rollup_rebuild
from tests.helpers import gen_department, gen_feature, gen_person
from tests.kpi_scenarios import event, post_events

pytestmark = pytest.mark.postgres
TABLES = ("kpi_activity_days", "kpi_feature_days", "kpi_feature_months", "kpi_first_use")


@pytest.fixture
def events(app, ingest_headers, monkeypatch):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the two-connection rebuild is PostgreSQL's")
    # Days after 2030 exercise the packed key's day bits; ingest refuses them as future events
    # (tested in test_plausible_input.py), so this fixture alone moves that bound out of the way.
    monkeypatch.setattr(plausible, "FUTURE_TOLERANCE", timedelta(days=3650))
    rng = random.Random(5)
    gen_feature("assist")
    gen_feature("draft")
    departments = [gen_department("Sales"), gen_department("Légal"), None]
    for i in range(30):
        gen_person(f"p{i}", departments[i % 3])
    db.session.commit()
    # Tasks whose bytewise and collation orders differ; days far before 2000 and after 2030.
    tasks = ["summary", "Summary", "résumé", "reply-2", "reply_10", None]
    days = [datetime(1999, 12, 31), datetime(2026, 10, 1), datetime(2031, 3, 1)]
    rows = []
    for _ in range(1500):
        at = rng.choice(days) + timedelta(days=rng.randrange(40), minutes=rng.randrange(1440))
        rows.append(event(rng.choice(["assist", "draft"]), f"p{rng.randrange(30)}", at.isoformat() + "Z",
                          ai=rng.random() < 0.6, task=rng.choice(tasks),
                          outcome=rng.choice(["success", "success", "error", "corrected", "abandoned"]),
                          duration=rng.choice([None, rng.uniform(1, 3600)])))
    client = app.test_client()
    for i in range(0, len(rows), 500):
        post_events(client, ingest_headers, rows[i:i + 500])


def _tables() -> dict[str, list[tuple]]:
    return {t: sorted((tuple(r) for r in db.session.execute(text(f"SELECT * FROM {t}"))), key=repr)
            for t in TABLES}


def _assert_same(rebuilt: dict, plain: dict) -> None:
    """Row for row; floating sums only to the last bits (PostgreSQL adds them in scan order, and the
    rebuild sums the department-day rows from the events rather than from the activity rows; the
    close fingerprints round to 6 decimals)."""
    for table in TABLES:
        assert len(rebuilt[table]) == len(plain[table]), table
        for got, want in zip(rebuilt[table], plain[table], strict=True):
            exact = [[v for v in row if not isinstance(v, float)] for row in (got, want)]
            sums = [[v for v in row if isinstance(v, float)] for row in (got, want)]
            assert exact[0] == exact[1], table
            assert sums[0] == pytest.approx(sums[1], rel=1e-12, abs=1e-9), (table, got, want)


def _plain_rebuild() -> dict[str, list[tuple]]:
    db.session.execute(text(f"TRUNCATE {', '.join(TABLES)}"))
    rollups._rebuild_activity(None, None, None)
    rollups._rebuild_feature_days(None)
    rollups._rebuild_feature_months(None)
    rollups._merge_first_use(None, None, None)
    return _tables()


def test_the_full_rebuild_writes_the_plain_statements_rows(events):
    result = rollups.refresh(full=True)
    rebuilt = _tables()
    assert result.rows_written == len(rebuilt["kpi_activity_days"]) > 1000
    assert result.events_read == 1500
    assert {r[1].year for r in rebuilt["kpi_activity_days"]} == {1999, 2000, 2026, 2031}
    _assert_same(rebuilt, _plain_rebuild())


def test_ids_too_large_for_the_packed_key_take_the_plain_sort(events, monkeypatch):
    monkeypatch.setattr(rollup_rebuild, "_fits_packed_key", lambda: False)
    result = rollups.refresh(full=True)
    rebuilt = _tables()
    assert result.rows_written == len(rebuilt["kpi_activity_days"])
    _assert_same(rebuilt, _plain_rebuild())


def test_a_failing_side_connection_fails_the_rebuild_and_keeps_the_old_rollups(events, monkeypatch):
    rollups.refresh(full=True)
    db.session.commit()
    before = _tables()
    monkeypatch.setattr(rollup_rebuild, "FIRST_USE_COLUMNS", ["feature_id", "person_id", "no_such_column"])
    with pytest.raises(Exception, match="no_such_column"):
        rollups.refresh(full=True)
    db.session.rollback()
    assert _tables() == before


def test_the_bulk_read_gives_the_drivers_values_exactly(events):
    """kpis._bulk_frame streams rollup reads as CSV on PostgreSQL: the same rows, the same
    doubles to the last bit, task names kept as text, as reading them row by row."""
    from datetime import date

    from sqlalchemy import func, select

    from app.models.kpi import SUM_COLUMNS, ActivityDay
    from app.services.kpi_reads import figures as kpis

    rollups.refresh(full=True)
    stmt = (select(ActivityDay.person_id, ActivityDay.task,
                   *[func.sum(getattr(ActivityDay, c)) for c in SUM_COLUMNS])
            .where(ActivityDay.day.between(date(1999, 1, 1), date(2031, 12, 31)))
            .group_by(ActivityDay.person_id, ActivityDay.task))
    columns = ["person_id", "task", *SUM_COLUMNS]
    bulk = kpis._bulk_frame(stmt, columns).sort_values(["person_id", "task"]).reset_index(drop=True)
    rows = sorted((tuple(r) for r in db.session.execute(stmt)), key=lambda r: (r[0], r[1]))
    assert len(bulk) == len(rows) > 50
    assert [tuple(r) for r in bulk.itertuples(index=False)] == rows
    assert {"résumé", "Summary", "reply_10"} <= set(bulk["task"])
    empty = kpis._bulk_frame(stmt.where(ActivityDay.person_id < 0), columns)
    assert list(empty.columns) == columns and empty.empty
