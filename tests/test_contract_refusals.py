"""Every refused input of API_CONTRACT.md answers 4xx naming the row (``index``, for list bodies) and
the field, and writes nothing: each table's rows are the same before and after, updates included
(a person upserted by row 0 is not kept when row 1 fails). Expected fields are read off the contract
and KPI_DEFINITIONS.md, not the code."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import db

ANN = {"person_id": "a1", "name": "Ann", "email": "ann@example.com", "department": "Claims"}
ANN_MOVED = {**ANN, "name": "Ann B", "department": "Legal"}  # row 0 of a refused upsert


def event(**fields) -> dict:
    return {"event_id": "e1", "feature": "drafts", "person_id": "a1", "ai_assisted": True,
            "occurred_at": "2026-10-05T09:00:00Z", "outcome": "success", **fields}


def second(**fields) -> list[dict]:
    """A good event, then a second one with ``fields``: the refusal names row 1."""
    return [event(), event(event_id="e2", **fields)]


def opinion(**fields) -> list[dict]:
    return [{"feature": "drafts", "person_id": "a1", "rating": 3, "occurred_at": "2026-10-05T09:00:00Z",
             **fields}]


def measured(**fields) -> dict:
    return {"feature": "drafts", "task": "t", "source": "survey", "measured_at": "2026-09-01T00:00:00Z",
            **fields}


def feature(**fields) -> dict:
    return {"key": "f2", "name": "F2", "stages": [{"name": "s", "cohorts": [], "percentage": 10}], **fields}


def stage(**fields) -> dict:
    return {"name": "s", "cohorts": [], "percentage": 10, **fields}


# (method, path, body, (status, index, field)); index None: the body is one object.
CASES = {
    "person without id": ("POST", "/api/v1/people", [ANN_MOVED, {**ANN, "person_id": ""}],
                          (422, 1, "person_id")),
    "person's unknown field": ("POST", "/api/v1/people", [ANN_MOVED, {**ANN, "person_id": "a2", "nick": "x"}],
                               (422, 1, "nick")),
    "person's bad e-mail": ("POST", "/api/v1/people", [ANN_MOVED, {**ANN, "person_id": "a3", "email": "no"}],
                            (422, 1, "email")),
    "negative rate": ("PUT", "/api/v1/departments/Claims", {"hourly_rate_eur": -1},
                      (422, None, "hourly_rate_eur")),
    "absurd rate": ("PUT", "/api/v1/departments/Claims", {"hourly_rate_eur": 1e308},
                    (422, None, "hourly_rate_eur")),
    "unknown member": ("PUT", "/api/v1/cohorts/pilot", {"name": "P", "members": ["a1", "ghost"]},
                       (422, 1, "members")),
    "cohort change in the future": ("PUT", "/api/v1/cohorts/pilot",
                                    {"name": "P", "members": [], "effective_at": "2999-01-01T00:00:00Z"},
                                    (422, None, "effective_at")),
    "percentage 101": ("POST", "/api/v1/features", feature(stages=[stage(percentage=101)]),
                       (422, None, "stages[0].percentage")),
    "stage of an unknown cohort": ("POST", "/api/v1/features", feature(stages=[stage(cohorts=["ghost"])]),
                                   (422, None, "stages[0].cohorts")),
    "feature's unknown field": ("POST", "/api/v1/features", feature(colour="red"), (422, None, "colour")),
    "minutes saved beyond a week": ("POST", "/api/v1/features", feature(estimated_minutes_saved=1e308),
                                    (422, None, "estimated_minutes_saved")),
    "override not a boolean": ("POST", "/api/v1/features/drafts/advance", {"override": "yes"},
                               (422, None, "override")),
    "kill without a reason": ("POST", "/api/v1/features/drafts/kill", {}, (422, None, "reason")),
    "rollback at no timestamp": ("POST", "/api/v1/features/drafts/rollback",
                                 {"reason": "x", "effective_at": "yesterday"}, (422, None, "effective_at")),
    "month 13": ("POST", "/api/v1/features/drafts/costs",
                 {"month": "2026-13", "amount_eur": 1, "category": "licences"}, (422, None, "month")),
    "absurd cost": ("POST", "/api/v1/features/drafts/costs",
                    {"month": "2026-10", "amount_eur": 1e308, "category": "licences"},
                    (422, None, "amount_eur")),
    "error rate 2": ("POST", "/api/v1/baselines", measured(error_rate=2), (422, None, "error_rate")),
    "baseline of years": ("POST", "/api/v1/baselines", measured(minutes_per_task=1e300),
                          (422, None, "minutes_per_task")),
    "event next year": ("POST", "/api/v1/events", second(occurred_at="2999-01-01T00:00:00Z"),
                        (422, 1, "occurred_at")),
    "event without offset": ("POST", "/api/v1/events", second(occurred_at="2026-10-05T09:00"),
                             (422, 1, "occurred_at")),
    "event of 1e300 seconds": ("POST", "/api/v1/events", second(duration_seconds=1e300),
                               (422, 1, "duration_seconds")),
    "unknown outcome": ("POST", "/api/v1/events", second(outcome="meh"),
                        (422, 1, "outcome")),
    "negative event cost": ("POST", "/api/v1/events", second(cost_eur=-1),
                            (422, 1, "cost_eur")),
    "unknown person": ("POST", "/api/v1/events", second(person_id="ghost"),
                       (422, 1, "person_id")),
    "unknown feature": ("POST", "/api/v1/events", second(feature="ghost"),
                        (422, 1, "feature")),
    "event's unknown field": ("POST", "/api/v1/events", second(mood="ok"),
                              (422, 1, "mood")),
    "rating 6": ("POST", "/api/v1/feedback", opinion(rating=6), (422, 0, "rating")),
    "feedback severity": ("POST", "/api/v1/feedback", opinion(severity="x"), (422, 0, "severity")),
    "void of an unknown event": ("POST", "/api/v1/events/void", {"event_ids": ["e0", "ghost"], "reason": "x"},
                                 (422, 1, "event_ids")),
    "void without a reason": ("POST", "/api/v1/events/void", {"event_ids": ["e0"]}, (422, None, "reason")),
    "close of month 13": ("POST", "/api/v1/closes/2026-13", None, (422, None, "month")),
    "close of a future month": ("POST", "/api/v1/closes/2999-01", None, (422, None, "month")),
}


@pytest.fixture
def world(client, admin_headers):
    """Ann in Claims (rate 50), the pilot cohort, drafts at its single stage, one event e0."""
    def ok(response, status=200):
        assert response.status_code == status, response.get_json()

    ok(client.post("/api/v1/people", json=[ANN], headers=admin_headers))
    ok(client.put("/api/v1/departments/Claims", json={"hourly_rate_eur": 50.0}, headers=admin_headers))
    ok(client.put("/api/v1/cohorts/pilot", json={"name": "P", "members": ["a1"]}, headers=admin_headers))
    ok(client.post("/api/v1/features", json={"key": "drafts", "name": "D", "stages": [
        {"name": "p", "cohorts": ["pilot"], "percentage": 0}]}, headers=admin_headers), 201)
    ok(client.post("/api/v1/features/drafts/advance", json={"effective_at": "2026-10-01T00:00:00Z"},
                   headers=admin_headers))
    ok(client.post("/api/v1/events", json=[event(event_id="e0")], headers=admin_headers))
    return admin_headers


def every_row() -> dict[str, list]:
    db.session.rollback()  # read what is committed
    return {table.name: sorted(map(repr, db.session.execute(select(table)).all()))
            for table in db.metadata.sorted_tables}


@pytest.mark.parametrize("case", CASES)
def test_a_refused_input_names_its_row_and_field_and_writes_nothing(client, world, case):
    method, path, body, (status, index, field) = CASES[case]
    before = every_row()
    response = client.open(path, method=method, json=body, headers=world)
    assert response.status_code == status, response.get_json()
    answer = response.get_json()
    assert set(answer) == {"error", "details"} and answer["error"]
    assert (index, field) in [(d.get("index"), d["field"]) for d in answer["details"]], answer
    after = every_row()
    assert {t for t in before if before[t] != after[t]} == set()
