"""The full rebuild's counts come from the rollups themselves (no second scan of the events)."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import db
from app.models import Event
from app.models.kpi import ActivityDay
from app.services.rollups import materialise as rollups
from tests.kpi_scenarios import draft_company, event, post_events


def test_a_full_rebuild_counts_every_event_and_every_row_it_wrote(app, client, ingest_headers):
    _, rows = draft_company()
    rows.append(event("draft", "a", "2026-10-01T12:00:00Z", ai=False, task="reply"))
    post_events(client, ingest_headers, rows)
    result = rollups.refresh(full=True)
    assert result.full
    assert result.events_read == db.session.scalar(select(func.count()).select_from(Event)) == 11
    assert result.rows_written == db.session.scalar(select(func.count()).select_from(ActivityDay))
    # a, 2026-10-01 holds two rows (tasks default and reply); a, 2026-10-02 two events, one row.
    assert result.rows_written == 10
