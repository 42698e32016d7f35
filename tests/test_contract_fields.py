"""Every JSON body refuses a field it does not know (422 naming it, nothing written); the events'
new contract fields are stored, bounded, costed and erased (variants: tests/test_variants_api.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.api.openapi import OPERATIONS, resolve
from app.db import db
from app.models import AuditEntry, CostEntry, Department, Event, Feature, Person
from app.services.ingest.events import EVENT_OPTIONAL, EVENT_REQUIRED
from tests.helpers import gen_cohort, gen_feature, gen_person

EVENT = {"event_id": "e1", "feature": "f", "person_id": "p1", "occurred_at": "2026-10-05T09:00:00Z",
         "ai_assisted": True, "outcome": "success"}
FEATURE = {"key": "g", "name": "G", "stages": [{"name": "s1", "cohorts": [], "percentage": 10}]}

# (method, path, body, expected detail): one call per endpoint that takes a JSON body.
UNKNOWN = [
    ("post", "/api/v1/people", [{"person_id": "n1"}, {"person_id": "n2", "shoe_size": 42}],
     {"index": 1, "field": "shoe_size"}),
    ("put", "/api/v1/departments/Sales", {"hourly_rate_eur": 50, "currency": "EUR"}, {"field": "currency"}),
    ("put", "/api/v1/cohorts/c1", {"members": [], "colour": "red"}, {"field": "colour"}),
    ("post", "/api/v1/features", {**FEATURE, "owner_team": "x"}, {"field": "owner_team"}),
    ("post", "/api/v1/features", {**FEATURE, "stages": [{"name": "s1", "gate": "x"}]},
     {"field": "stages[0].gate"}),
    ("post", "/api/v1/features", {**FEATURE, "variants": [{"name": "a", "weight": 100, "colour": 1}]},
     {"field": "variants[0].colour"}),
    ("post", "/api/v1/features/f/advance", {"reason": "go", "force": True}, {"field": "force"}),
    ("post", "/api/v1/features/f/rollback", {"reason": "bad", "why": "x"}, {"field": "why"}),
    ("post", "/api/v1/features/f/kill", {"reason": "bad", "severity": "high"}, {"field": "severity"}),
    ("post", "/api/v1/features/f/resume", {"reason": "ok", "when": "now"}, {"field": "when"}),
    ("post", "/api/v1/features/f/costs", {"month": "2026-10", "amount_eur": 1, "category": "other",
                                          "vat": 0.2}, {"field": "vat"}),
    ("post", "/api/v1/baselines", {"feature": "f", "minutes_per_task": 5, "source": "study",
                                   "measured_at": "2026-09-01T00:00:00Z", "unit": "min"}, {"field": "unit"}),
    ("post", "/api/v1/events", [EVENT, {**EVENT, "event_id": "e2", "severity": "x"}],
     {"index": 1, "field": "severity"}),
    ("post", "/api/v1/feedback", [{"feature": "f", "person_id": "p1", "rating": 4,
                                   "occurred_at": "2026-10-05T09:00:00Z", "severity": "critical"}],
     {"index": 0, "field": "severity"}),
    ("post", "/api/v1/jobs/refresh-kpis/run", {"full": False, "now": True}, {"field": "now"}),
    ("put", "/api/v1/features/f/playbook", {"playbook": "pilot-feedback-loop", "since": "x"},
     {"field": "since"}),
    ("post", "/api/v1/features/f/trainings", {"stage": 1, "title": "T", "trainer": "X",
                                              "held_on": "2026-10-01", "room": "A"}, {"field": "room"}),
    ("post", "/api/v1/features/f/trainings", {"stage": 1, "title": "T", "trainer": "X", "held_on":
                                              "2026-10-01", "attendees": [{"person_id": "p1", "grade": 1}]},
     {"field": "attendees[0].grade"}),
    ("post", "/api/v1/trainings/1/attendance", [{"person_id": "p1", "grade": 1}],
     {"index": 0, "field": "grade"}),
    ("post", "/api/v1/feedback/1/triage", {"status": "triaged", "note": "x"}, {"field": "note"}),
    ("post", "/api/v1/features/f/action-items", {"title": "T", "owner": "o", "due_on": "2026-12-31",
                                                 "priority": 1}, {"field": "priority"}),
    ("patch", "/api/v1/action-items/1", {"status": "done", "priority": 1}, {"field": "priority"}),
    ("post", "/api/v1/features/f/promote", {"override": True, "reason": "x", "force": 1}, {"field": "force"}),
    ("post", "/api/v1/features/f/review-samples", {"size": 5, "strata": "team"}, {"field": "strata"}),
    ("post", "/api/v1/review-items/1/label", {"label": "correct", "score": 1}, {"field": "score"}),
    ("post", "/api/v1/datasets/d/versions", {"feature": "f", "limit": 3}, {"field": "limit"}),
    ("post", "/api/v1/datasets/d/evaluations", {"model_version": "m", "results": [
        {"item": 1, "passed": True, "why": "x"}]}, {"field": "results[0].why"}),
    ("put", "/api/v1/features/f/variants", {"variants": [{"name": "a", "weight": 100}], "colour": 1},
     {"field": "colour"}),
    ("put", "/api/v1/features/f/variants", {"variants": [{"name": "a", "weight": 100, "model": "x"}]},
     {"field": "variants[0].model"}),
    ("post", "/api/v1/features/f/variants/a/promote", {"reason": "won", "force": 1}, {"field": "force"}),
]


def _counts() -> tuple:
    tables = (Person, Department, Feature, Event, CostEntry, AuditEntry)
    return tuple(db.session.scalar(select(func.count()).select_from(t)) for t in tables)


@pytest.fixture
def world(session):
    person = gen_person("p1")
    gen_feature("f")
    gen_cohort("c1", [person])
    session.commit()


@pytest.mark.parametrize(("method", "path", "body", "expected"), UNKNOWN,
                         ids=[f"{m} {p} {e['field']}" for m, p, _, e in UNKNOWN])
def test_every_body_refuses_an_unknown_field_naming_it(client, admin_headers, world, method, path, body,
                                                      expected):
    before = _counts()
    response = getattr(client, method)(path, json=body, headers=admin_headers)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["details"] == [{**expected, "message": "unknown field"}]
    db.session.expire_all()
    assert _counts() == before


def test_every_declared_body_is_closed_so_no_endpoint_can_drop_a_field():
    """A body object that declares its fields must refuse the others (additionalProperties false);
    only schemas without declared fields (free-form payloads) stay open."""
    def walk(schema: dict, where: str) -> list[str]:
        if "$ref" in schema:
            return walk(resolve(schema["$ref"]), where)
        open_ = []
        if "properties" in schema and schema.get("additionalProperties") is not False:
            open_.append(where)
        for name, inner in schema.get("properties", {}).items():
            open_ += walk(inner, f"{where}.{name}")
        for alt in schema.get("anyOf", []):
            open_ += walk(alt, where)
        if isinstance(schema.get("items"), dict):
            open_ += walk(schema["items"], f"{where}[]")
        return open_

    def resolved(schema: dict) -> dict:
        return resolve(schema["$ref"]) if "$ref" in schema else schema

    bodies = {endpoint: op.body for endpoint, op in OPERATIONS.items() if op.body is not None}
    assert len(bodies) >= 20
    for endpoint, schema in bodies.items():
        assert walk(schema, endpoint) == []
        top = resolved(schema)
        rows = resolved(top["items"]) if top.get("type") == "array" else top
        closed = [rows, *map(resolved, rows.get("anyOf", []))]
        assert any(s.get("additionalProperties") is False for s in closed), endpoint


def test_the_events_csv_columns_are_the_api_event_fields():
    event_schema = resolve("#/components/schemas/Event")
    assert set(event_schema["properties"]) == set(EVENT_REQUIRED) | set(EVENT_OPTIONAL)
    assert set(event_schema["required"]) == set(EVENT_REQUIRED)


def test_events_store_cost_and_texts_within_bounds(client, admin_headers, world):
    rows = [{**EVENT, "cost_eur": 0.25, "output": "  Dear client,\n", "correction": "Dear Ms Doe,",
             "model_version": "gpt-x 2026-09", "outcome": "corrected"},
            {**EVENT, "event_id": "e2", "output": ""}]
    assert client.post("/api/v1/events", json=rows, headers=admin_headers).get_json() == {
        "accepted": 2, "duplicates": 0}
    first, second = db.session.scalars(select(Event).order_by(Event.event_id)).all()
    # Texts are kept as sent (blanks of an AI answer matter); an empty text is absent.
    assert (first.cost_eur, first.output, first.correction, first.model_version) == (
        0.25, "  Dear client,\n", "Dear Ms Doe,", "gpt-x 2026-09")
    assert (second.cost_eur, second.output, second.correction, second.model_version) == (None,) * 4
    corrections = client.get("/api/v1/features/f/corrections?format=jsonl", headers=admin_headers)
    assert '"correction": "Dear Ms Doe,"' in corrections.get_data(as_text=True)
    assert '"event_id": "e1"' in corrections.get_data(as_text=True)


@pytest.mark.parametrize(("extra", "field", "says"), [
    ({"cost_eur": -0.01}, "cost_eur", ">= 0"),
    ({"cost_eur": "1"}, "cost_eur", "a number"),
    ({"cost_eur": True}, "cost_eur", "a number"),
    ({"output": "x" * 20_001}, "output", "at most 20000"),
    ({"correction": "x" * 20_001}, "correction", "at most 20000"),
    ({"model_version": "m" * 201}, "model_version", "at most 200"),
    ({"output": 42}, "output", "a string"),
    ({"variant": "B"}, "variant", "feature 'f' has no variant 'B' (its variants: none)"),
    ({"variant": 7}, "variant", "must be the name of one of the feature's variants"),
])
def test_bad_event_fields_name_the_row_and_field_and_store_nothing(client, admin_headers, world, extra,
                                                                   field, says):
    rows = [{**EVENT, "event_id": "ok"}, {**EVENT, **extra}]
    response = client.post("/api/v1/events", json=rows, headers=admin_headers)
    assert response.status_code == 422
    (detail,) = response.get_json()["details"]
    assert (detail["index"], detail["field"]) == (1, field) and says in detail["message"]
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0


def test_the_events_csv_refuses_an_unknown_column_and_takes_the_new_ones(runner, world, tmp_path):
    header = "event_id,feature,person_id,occurred_at,ai_assisted,outcome"
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{header},severity\ne1,f,p1,2026-10-05T09:00:00Z,true,success,high\n")
    result = runner.invoke(args=["liftoff", "import", "events", str(bad)])
    assert result.exit_code == 1 and "severity: unexpected column" in result.stderr
    good = tmp_path / "good.csv"
    good.write_text(f"{header},cost_eur,output,model_version\n"
                    "e1,f,p1,2026-10-05T09:00:00Z,true,success,0.3,Hello,m-2\n")
    result = runner.invoke(args=["liftoff", "import", "events", str(good)])
    assert result.exit_code == 0, result.stderr
    stored = db.session.scalar(select(Event))
    assert (stored.cost_eur, stored.output, stored.model_version) == (0.3, "Hello", "m-2")


def test_erasing_a_person_blanks_their_event_texts_and_keeps_the_kpi_inputs(client, admin_headers, world):
    other = gen_person("p2")
    db.session.commit()
    rows = [{**EVENT, "output": "secret draft", "correction": "fixed", "model_version": "m",
             "cost_eur": 0.5, "duration_seconds": 30},
            {**EVENT, "event_id": "e2", "person_id": other.person_id, "output": "kept"}]
    client.post("/api/v1/events", json=rows, headers=admin_headers)
    erased = client.post("/api/v1/people/p1/erase", headers=admin_headers).get_json()
    assert erased["event_texts_erased"] == 1
    db.session.expire_all()
    mine, theirs = db.session.scalars(select(Event).order_by(Event.event_id)).all()
    assert (mine.output, mine.correction, mine.model_version) == (None, None, None)
    assert (mine.cost_eur, mine.duration_seconds, mine.outcome) == (0.5, 30.0, "success")
    assert theirs.output == "kept"
    export = client.get("/api/v1/people/p1/export", headers=admin_headers).get_json()
    assert export["events"][0]["output"] is None and export["events"][0]["cost_eur"] == 0.5
    assert client.post("/api/v1/people/p1/erase", headers=admin_headers).get_json()["event_texts_erased"] == 0
