"""The refresh-kpis job: incremental, exact, idempotent; and the dashboard's read helpers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db import db, utcnow
from app.models import Event
from app.models.kpi import ActivityDay, DirtyDay, RefreshState
from app.services.reporting.executive import executive_view
from tests.kpi_scenarios import draft_company, event, post_events, refresh


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def scenario(app, client, ingest_headers):
    feature, rows = draft_company()
    post_events(client, ingest_headers, rows)
    return feature


def _rollup() -> list[tuple]:
    return [tuple(r) for r in db.session.execute(
        select(ActivityDay.feature_id, ActivityDay.day, ActivityDay.person_id, ActivityDay.task,
               ActivityDay.ai_tasks, ActivityDay.ai_dur_min, ActivityDay.manual_dur_n)
        .order_by(ActivityDay.feature_id, ActivityDay.day, ActivityDay.person_id, ActivityDay.task))]


def test_ingestion_marks_days_and_the_refresh_absorbs_only_those(scenario, client, ingest_headers):
    marked = set(db.session.execute(select(DirtyDay.feature_id, DirtyDay.day)).all())
    assert len(marked) == 9  # nine distinct UTC days in scenario A
    first = refresh()
    assert first.rows_written == len(_rollup()) == 9
    assert db.session.scalar(select(func.count()).select_from(DirtyDay)) == 0
    post_events(client, ingest_headers, [event("draft", "a", "2026-10-08T10:00:00Z", duration=300)])
    again = refresh()
    assert again.rows_read == 1 and again.rows_written == 1  # one feature-day recomputed
    assert refresh().rows_read == 0  # nothing new: nothing recomputed


def test_events_written_by_another_path_are_picked_up_by_ingested_at(scenario, client):
    refresh()
    person = db.session.scalar(select(Event.person_id).limit(1))
    db.session.add(Event(source="other", event_id="late", feature_id=scenario.id, person_id=person,
                         occurred_at=utcnow().replace(year=2026, month=10, day=9), ai_assisted=True,
                         outcome="success", ingested_at=utcnow() + timedelta(seconds=1)))
    db.session.commit()
    refresh()
    incremental = _rollup()
    refresh(full=True)
    assert _rollup() == incremental  # incremental equals a full rebuild
    assert db.session.get(RefreshState, 1).watermark is not None


def test_the_executive_history_runs_from_the_first_month_with_events(scenario, client):
    refresh()
    history = executive_view("2026-10")["history"]
    assert list(history["month"]) == ["2026-08", "2026-09", "2026-10"]
    assert history["ai_tasks"].tolist() == [0, 0, 6]
    assert history["cumulative_net_eur"].iloc[-1] == pytest.approx(
        13 + 2 + 14 / 60 * 40 - 0.6)
