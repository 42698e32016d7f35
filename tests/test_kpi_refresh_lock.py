"""One KPI refresh at a time on PostgreSQL (issue #13 bullet 8): two refreshes started at once on
their own connections neither fail on a duplicate key nor lose an event; a second refresh waits
for the first one's commit. Figures from scenario A (tests/kpi_scenarios.py): 6 AI tasks."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from sqlalchemy import create_engine, func, select, text

from app.db import db
from app.jobs.kpi import refresh_kpis
from app.models.kpi import ActivityDay
from app.services.kpi_reads import cache as kpi_cache
from app.services.kpi_reads import figures as kpis
from app.services.rollups import materialise as rollups
from tests.conftest import USING_POSTGRES
from tests.kpi_scenarios import draft_company, event, post_events

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(
    not USING_POSTGRES, reason="PostgreSQL's advisory lock and real concurrency")]


def _refresh_in_thread(app, barrier: threading.Barrier | None, errors: list, full: bool = False
                       ) -> threading.Thread:
    def run():
        with app.app_context():
            try:
                if barrier is not None:
                    barrier.wait(timeout=30)
                refresh_kpis(full=full)
                db.session.commit()
            except BaseException as error:  # reported by the test
                errors.append(error)
                db.session.rollback()
            finally:
                db.session.remove()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _two_at_once(app, full: bool = False) -> list:
    errors: list = []
    barrier = threading.Barrier(2)
    threads = [_refresh_in_thread(app, barrier, errors, full) for _ in range(2)]
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()
    return errors


def _ai_tasks() -> int:
    db.session.commit()
    kpi_cache.clear()
    tasks = kpis.feature_kpis("draft", date(2026, 10, 1), date(2026, 10, 10))["ai_tasks"]
    db.session.commit()  # an open read would hold off a full rebuild's TRUNCATE
    return tasks


def _activity_rows() -> int:
    rows = db.session.scalar(select(func.count()).select_from(ActivityDay))
    db.session.commit()
    return rows


def test_two_refreshes_at_once_neither_fail_nor_lose_events(app, client, ingest_headers):
    _, rows = draft_company()
    post_events(client, ingest_headers, rows)
    db.session.commit()
    assert _two_at_once(app) == []  # the very first refresh, twice: one state row, no duplicate
    assert _ai_tasks() == 6
    first_rows = _activity_rows()
    for round_ in range(3):  # new events, then two incremental refreshes racing for the same days
        post_events(client, ingest_headers, [
            event("draft", "c", f"2026-10-0{7 + round_}T10:00:00Z", duration=300),
            event("draft", "a", "2026-10-01T12:00:00Z", duration=60)])
        db.session.commit()
        assert _two_at_once(app) == []
        assert _ai_tasks() == 6 + 2 * (round_ + 1)
    assert _two_at_once(app, full=True) == []
    assert _ai_tasks() == 12
    assert _activity_rows() == first_rows + 3  # c on three new days; a's day 10-01 existed


def test_a_second_refresh_waits_for_the_first_ones_commit(app, client, ingest_headers):
    _, rows = draft_company()
    post_events(client, ingest_headers, rows)
    db.session.commit()
    rollups.refresh()  # holds the lock until this transaction ends
    errors: list = []
    second = _refresh_in_thread(app, None, errors)
    watcher = create_engine(db.engine.url)
    try:
        waiting = 0
        for _ in range(200):  # up to 10 s
            with watcher.connect() as connection:
                # pg_locks is the whole server's: only this test's database (another test's
                # refresh may be waiting in its own database at the same time).
                waiting = connection.scalar(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND "
                    "database = (SELECT oid FROM pg_database WHERE datname = current_database())"))
            if waiting:
                break
            time.sleep(0.05)
        assert waiting == 1 and second.is_alive()
    finally:
        watcher.dispose()
    db.session.commit()
    second.join(timeout=60)
    assert not second.is_alive() and errors == []
    assert _ai_tasks() == 6
