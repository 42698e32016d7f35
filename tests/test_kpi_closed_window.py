"""A closed window's figures never change with later data (KPI_DEFINITIONS.md, issue #13 bullet 3).

October 2026 of a pilot is read (KPI record, with department and cohort groups, and its ROI row),
then November brings events (first uses of people who never used it in October among them), a
stage advance exposing a second wave, a new pilot member, a new person and a cost; after an
incremental refresh and after a full rebuild, October reads the same.
"""

from __future__ import annotations

import math

import pytest

from app.db import db
from app.services.reporting import closes
from app.services.rollout import transitions as rollout
from tests.helpers import utc
from tests.kpi_scenarios import event, post_events, refresh

OCTOBER = {"start": "2026-10-01", "end": "2026-10-31"}
PILOT = [f"s{i}" for i in range(6)] + [f"o{i}" for i in range(5)]  # Sales 6, Ops 5
WAVE = ["s6", "s7", "o5", "o6"]


def _ok(response, code: int = 200) -> dict:
    assert response.status_code == code, response.get_json()
    return response.get_json()


def _same(before, after, path: str = "") -> None:
    """Equal, floats to 1e-9 (an incremental and a full rebuild may sum in another order)."""
    if isinstance(before, dict):
        assert isinstance(after, dict) and set(before) == set(after), path
        for key in before:
            _same(before[key], after[key], f"{path}.{key}")
    elif isinstance(before, list):
        assert isinstance(after, list) and len(before) == len(after), path
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            _same(b, a, f"{path}[{i}]")
    elif isinstance(before, float) and not isinstance(after, bool):
        assert math.isclose(before, after, rel_tol=1e-9, abs_tol=1e-12), (path, before, after)
    else:
        assert before == after, (path, before, after)


def _october(client, headers) -> dict:
    read = {group: _ok(client.get("/api/v1/features/draft/kpis", headers=headers,
                                  query_string={**OCTOBER, **({"group_by": group} if group else {})}))
            for group in (None, "department", "cohort")}
    roi = _ok(client.get("/api/v1/roi/monthly", query_string={"month": "2026-10"}, headers=headers))
    return {"kpis": read, "roi": {"features": roi["features"], "total": roi["total"],
                                  "restated": roi["restated"]}}


@pytest.fixture
def pilot(app, client, admin_headers, ingest_headers):
    for name in ("Sales", "Ops"):
        _ok(client.put(f"/api/v1/departments/{name}", json={"hourly_rate_eur": 50.0}, headers=admin_headers))
    people = [{"person_id": p, "department": "Sales" if p[0] == "s" else "Ops"} for p in PILOT + WAVE]
    _ok(client.post("/api/v1/people", json=people, headers=admin_headers))
    _ok(client.put("/api/v1/cohorts/pilot", json={"members": PILOT}, headers=admin_headers))
    _ok(client.put("/api/v1/cohorts/wave", json={"members": WAVE}, headers=admin_headers))
    rollout.create_feature({"key": "draft", "name": "Draft", "estimated_minutes_saved": 3.0,
                            "per_event_cost_eur": 0.05,
                            "stages": [{"name": "Pilot", "cohorts": ["pilot"], "percentage": 0},
                                       {"name": "Wave", "cohorts": ["wave"], "percentage": 0}]}, "test")
    rollout.advance("draft", "test", effective_at=utc(2026, 9, 20))
    db.session.commit()
    rows = [  # the baseline window 08-23 .. 09-19: manual work
        event("draft", "s0", "2026-08-25T09:00:00Z", ai=False, duration=600),
        event("draft", "o0", "2026-08-26T09:00:00Z", ai=False, duration=900, outcome="error"),
        event("draft", "s6", "2026-09-01T09:00:00Z", ai=False, duration=720),
        # October
        event("draft", "s0", "2026-10-02T09:00:00Z", duration=300),
        event("draft", "s0", "2026-10-03T09:00:00Z", duration=600, outcome="error"),
        event("draft", "s1", "2026-10-05T09:00:00Z"),
        event("draft", "s2", "2026-10-06T09:00:00Z", duration=120, outcome="corrected"),
        event("draft", "s4", "2026-10-07T09:00:00Z", duration=60, outcome="abandoned"),
        event("draft", "o0", "2026-10-02T10:00:00Z", duration=240),
        event("draft", "o1", "2026-10-08T10:00:00Z", duration=300),
        event("draft", "s6", "2026-10-09T10:00:00Z", ai=False, duration=600),  # the wave: controls
        event("draft", "o5", "2026-10-10T10:00:00Z", ai=False, duration=660),
    ]
    post_events(client, ingest_headers, rows)
    _ok(client.post("/api/v1/features/draft/costs", headers=admin_headers,
                    json={"month": "2026-10", "amount_eur": 100.0, "category": "licences"}), 201)
    refresh()
    closes.close_month("2026-10")
    db.session.commit()


def _later_data(client, admin_headers, ingest_headers) -> None:
    post_events(client, ingest_headers, [
        event("draft", "s3", "2026-11-03T09:00:00Z", duration=200),  # first uses after October
        event("draft", "o2", "2026-11-04T09:00:00Z"),
        event("draft", "s0", "2026-11-05T09:00:00Z", duration=100),
        event("draft", "o3", "2026-11-06T09:00:00Z", ai=False, duration=500),
        event("draft", "s6", "2026-11-12T09:00:00Z", duration=150),  # the wave, once exposed
    ])
    rollout.advance("draft", "test", effective_at=utc(2026, 11, 10))  # the wave's stage
    db.session.commit()
    _ok(client.post("/api/v1/people", json=[{"person_id": "o7", "department": "Ops"}], headers=admin_headers))
    _ok(client.put("/api/v1/cohorts/pilot", json={"members": [*PILOT, "o7"]}, headers=admin_headers))
    _ok(client.post("/api/v1/features/draft/costs", headers=admin_headers,
                    json={"month": "2026-11", "amount_eur": 40.0, "category": "compute"}), 201)


def test_a_closed_month_reads_the_same_after_later_data_and_refreshes(pilot, client, admin_headers,
                                                                      ingest_headers):
    before = _october(client, admin_headers)
    record = before["kpis"][None]
    # Hand check of the figures the later data would move if it leaked in: 11 pilot people exposed
    # in October; s0, s1, s2, s4, o0, o1 used it by October's end, s3, s5, o2, o3, o4 did not.
    assert record["exposed_users"] == 11
    assert record["never_used_share"] == pytest.approx(5 / 11)
    assert record["habit"] == {"daily": 0, "weekly": 0, "monthly": 6, "never": 5}
    assert before["roi"]["restated"] is False

    _later_data(client, admin_headers, ingest_headers)
    refresh()
    after_incremental = _october(client, admin_headers)
    _same(before, after_incremental)
    refresh(full=True)
    _same(before, _october(client, admin_headers))

    # The later data did land: November sees the wave and the first uses.
    november = _ok(client.get("/api/v1/features/draft/kpis", headers=admin_headers,
                              query_string={"start": "2026-11-01", "end": "2026-11-30"}))
    assert november["exposed_users"] == 15  # the pilot, the wave and o7 (from today)
    assert november["ai_tasks"] == 4
