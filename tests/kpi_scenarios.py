"""Small hand-computable KPI scenarios shared by the KPI, ROI and event tests."""

from __future__ import annotations

import itertools

from app.db import db
from app.jobs.kpi import refresh_kpis
from app.models import ExposureSpell
from tests.helpers import gen_department, gen_feature, gen_person, utc

_ids = itertools.count(1)


def event(feature: str, person: str, at: str, ai: bool = True, outcome: str = "success",
          duration: float | None = None, task: str | None = None, event_id: str | None = None) -> dict:
    """One event as the API takes it."""
    row = {"event_id": event_id or f"e{next(_ids)}", "feature": feature, "person_id": person,
           "occurred_at": at, "ai_assisted": ai, "outcome": outcome}
    if duration is not None:
        row["duration_seconds"] = duration
    if task is not None:
        row["task"] = task
    return row


def spell(feature, person, start, end=None) -> ExposureSpell:
    row = ExposureSpell(feature_id=feature.id, person_id=person.id, start_at=start, end_at=end)
    db.session.add(row)
    db.session.flush()
    return row


def post_events(client, headers, rows, expect: int = 200) -> dict:
    response = client.post("/api/v1/events", json=rows, headers=headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def refresh(full: bool = False):
    stats = refresh_kpis(full=full)
    db.session.commit()
    return stats


def draft_company():
    """Scenario A (see tests/test_kpi_reads.py for the hand computation)."""
    sales = gen_department("Sales", 60.0)
    ops = gen_department("Ops", None)
    feature = gen_feature("draft", estimated_minutes_saved=2.0, per_event_cost_eur=0.1)
    a = gen_person("a", sales)
    b = gen_person("b", sales)
    c = gen_person("c", ops)
    gen_person("d", ops)  # never exposed
    spell(feature, a, utc(2026, 10, 1, 9))
    spell(feature, b, utc(2026, 10, 1), utc(2026, 10, 10))  # rolled back on the 10th
    spell(feature, c, utc(2026, 10, 5, 12))
    db.session.commit()
    rows = [
        # the baseline window: 2026-09-03 .. 2026-09-30, non-AI work
        event("draft", "a", "2026-09-10T10:00:00+00:00", ai=False, duration=600),
        event("draft", "b", "2026-09-15T10:00:00+02:00", ai=False, outcome="error", duration=1200),
        event("draft", "c", "2026-09-20T10:00:00Z", ai=False),
        event("draft", "c", "2026-08-20T10:00:00Z", ai=False, duration=6000),  # before B: ignored
        # the window 2026-10-01 .. 2026-10-10
        event("draft", "a", "2026-10-01T10:00:00Z", duration=300),
        event("draft", "a", "2026-10-02T10:00:00Z", outcome="error", duration=600),
        event("draft", "a", "2026-10-02T11:00:00Z", outcome="abandoned", duration=120),
        event("draft", "b", "2026-10-03T10:00:00Z", outcome="corrected"),
        event("draft", "c", "2026-10-06T10:00:00Z", duration=900),
        event("draft", "d", "2026-10-07T10:00:00Z", duration=60),  # never exposed
    ]
    return feature, rows


def refreshed_draft_company(client, ingest_headers):
    """Scenario A with its events posted and refreshed, every KPI memo emptied first."""
    from app.services.kpi_reads import cache as kpi_cache
    from dashboards.kpi import data as kpi_data

    kpi_cache.clear()
    kpi_data.clear_cache()
    feature, rows = draft_company()
    post_events(client, ingest_headers, rows)
    refresh()
    return feature


def october_licence(client, headers) -> None:
    """Scenario A's cost: a 100 EUR licence for the draft feature in October 2026."""
    r = client.post("/api/v1/features/draft/costs", headers=headers,
                    json={"month": "2026-10", "amount_eur": 100, "category": "licences"})
    assert r.status_code == 201, r.get_json()


def draft_company_with_costs(client, ingest_headers, admin_headers):
    """Scenario A ingested, with its October licence, and rolled up; returns the feature."""
    feature, rows = draft_company()
    post_events(client, ingest_headers, rows)
    october_licence(client, admin_headers)
    refresh()
    return feature
