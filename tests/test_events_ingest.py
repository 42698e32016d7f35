"""POST /api/v1/events, /feedback, /baselines, /features/{key}/costs and `liftoff import events`."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.db import db
from app.models import CostEntry, Event, Feedback, Person
from tests.helpers import gen_feature, gen_person, utc
from tests.kpi_scenarios import event, post_events


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def world(app):
    gen_feature("draft")
    gen_person("a")
    gen_person("b")
    db.session.commit()


def _stored() -> int:
    return db.session.scalar(select(func.count()).select_from(Event))


def test_a_batch_is_stored_with_timestamps_normalised_to_utc(world, client, ingest_headers):
    rows = [event("draft", "a", "2026-10-01T12:30:00+02:00", duration=90, task="summary"),
            event("draft", "b", "2026-10-01T23:00:00-05:00", ai=False, outcome="error")]
    assert post_events(client, ingest_headers, rows) == {"accepted": 2, "duplicates": 0}
    stored = {e.event_id: e for e in db.session.scalars(select(Event))}
    first, second = stored[rows[0]["event_id"]], stored[rows[1]["event_id"]]
    assert first.occurred_at == utc(2026, 10, 1, 10, 30)
    assert second.occurred_at == utc(2026, 10, 2, 4)  # the next UTC day
    # An ingest token's events carry its own source (issue 14), named after the token.
    assert (first.task, first.duration_seconds, first.ai_assisted, first.source) == (
        "summary", 90.0, True, "ingest:test ingest")
    assert (second.task, second.duration_seconds, second.outcome) == ("default", None, "error")


def test_resending_and_repeats_inside_a_batch_are_counted_never_stored_twice(world, client,
                                                                            ingest_headers,
                                                                            admin_headers):
    rows = [event("draft", "a", "2026-10-01T10:00:00Z", event_id="x1"),
            event("draft", "a", "2026-10-01T10:00:00Z", event_id="x1"),
            event("draft", "b", "2026-10-01T11:00:00Z", event_id="x2")]
    assert post_events(client, ingest_headers, rows) == {"accepted": 2, "duplicates": 1}
    assert post_events(client, ingest_headers, rows) == {"accepted": 0, "duplicates": 3}
    # The same id from another source is another event (only an admin may name the source).
    other = [dict(rows[0], source="crm")]
    assert post_events(client, admin_headers, other) == {"accepted": 1, "duplicates": 0}
    assert _stored() == 3


def test_every_bad_row_and_field_is_listed_and_nothing_is_stored(world, client, ingest_headers):
    rows = [
        event("draft", "a", "2026-10-01T10:00:00Z"),  # fine, but the batch fails
        {"event_id": "m", "feature": "draft", "person_id": "a", "ai_assisted": "yes",
         "outcome": "great", "occurred_at": "2026-10-01T10:00:00"},
        event("nope", "a", "2026-10-01T10:00:00Z"),
        event("draft", "zed", "2026-10-01T10:00:00Z"),
        dict(event("draft", "a", "not a date"), duration_seconds=-1),
        dict(event("draft", "a", "2026-10-01T10:00:00Z"), duration_seconds="ten"),
        {"feature": "draft"},
        "not an object",
    ]
    response = client.post("/api/v1/events", json=rows, headers=ingest_headers)
    assert response.status_code == 422
    found = {(d["index"], d["field"]) for d in response.get_json()["details"]}
    assert found == {
        (1, "ai_assisted"), (1, "outcome"), (1, "occurred_at"),
        (2, "feature"), (3, "person_id"),
        (4, "occurred_at"), (4, "duration_seconds"),
        (5, "duration_seconds"),
        (6, "event_id"), (6, "person_id"), (6, "occurred_at"), (6, "ai_assisted"), (6, "outcome"),
        (7, "row"),
    }
    assert _stored() == 0
    response = client.post("/api/v1/events", json=[rows[0], rows[3]], headers=ingest_headers)
    assert response.status_code == 422
    assert response.get_json()["details"] == [
        {"index": 1, "field": "person_id", "message": "unknown person 'zed'"}]
    assert _stored() == 0


def test_unknown_people_are_created_when_the_setting_says_so(world, app, client, ingest_headers):
    app.config["AUTO_CREATE_PEOPLE"] = True
    rows = [event("draft", "newcomer", "2026-10-01T10:00:00Z")]
    assert post_events(client, ingest_headers, rows) == {"accepted": 1, "duplicates": 0}
    person = db.session.scalar(select(Person).where(Person.person_id == "newcomer"))
    assert person is not None and person.department_id is None


def test_batches_over_ten_thousand_are_refused(world, client, ingest_headers):
    rows = [event("draft", "a", "2026-10-01T10:00:00Z") for _ in range(10_001)]
    response = client.post("/api/v1/events", json=rows, headers=ingest_headers)
    assert response.status_code == 422
    assert response.get_json()["details"][0]["field"] == "events"
    assert _stored() == 0


def test_malformed_json_is_400_and_roles_are_checked(world, client, ingest_headers, client_token):
    response = client.post("/api/v1/events", data="[{", headers={
        **ingest_headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert client.post("/api/v1/events", json=[]).status_code == 401
    bad = {"Authorization": f"Bearer {client_token}"}
    assert client.post("/api/v1/events", json=[], headers=bad).status_code == 403
    assert client.post("/api/v1/baselines", json={}, headers=ingest_headers).status_code == 403


def test_feedback_is_stored_all_or_nothing(world, client, ingest_headers):
    good = {"feature": "draft", "person_id": "a", "rating": 4, "comment": "handy",
            "category": "quality", "occurred_at": "2026-10-01T10:00:00+01:00"}
    response = client.post("/api/v1/feedback", headers=ingest_headers,
                           json=[good, dict(good, rating=6), dict(good, occurred_at="2026-10-01")])
    assert response.status_code == 422
    assert {(d["index"], d["field"]) for d in response.get_json()["details"]} == {
        (1, "rating"), (2, "occurred_at")}
    assert db.session.scalar(select(func.count()).select_from(Feedback)) == 0
    response = client.post("/api/v1/feedback", headers=ingest_headers, json=[good])
    assert response.status_code == 200 and response.get_json() == {"accepted": 1}
    stored = db.session.scalar(select(Feedback))
    assert stored.occurred_at == utc(2026, 10, 1, 9) and stored.rating == 4


def test_costs_and_baselines_are_validated(world, client, admin_headers):
    r = client.post("/api/v1/features/draft/costs", headers=admin_headers,
                    json={"month": "2026-10", "amount_eur": 120.5, "category": "licences"})
    assert r.status_code == 201 and r.get_json()["amount_eur"] == 120.5
    r = client.post("/api/v1/features/draft/costs", headers=admin_headers,
                    json={"month": "2026-13", "amount_eur": -1, "category": "beer"})
    assert r.status_code == 422
    assert {d["field"] for d in r.get_json()["details"]} == {"month", "amount_eur", "category"}
    r = client.post("/api/v1/features/nope/costs", headers=admin_headers,
                    json={"month": "2026-10", "amount_eur": 1, "category": "licences"})
    assert r.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(CostEntry)) == 1
    r = client.post("/api/v1/baselines", headers=admin_headers,
                    json={"feature": "draft", "error_rate": 1.5, "measured_at": "2026-10-01"})
    assert r.status_code == 422
    assert {d["field"] for d in r.get_json()["details"]} == {"error_rate", "source", "measured_at"}


def test_cli_import_writes_all_rows_with_progress(world, runner, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,feature,person_id,occurred_at,task,ai_assisted,duration_seconds,outcome\n"
        "c1,draft,a,2026-10-01T10:00:00Z,,true,60,success\n"
        "c2,draft,b,2026-10-01T11:00:00+02:00,summary,false,,error\n"
        "c1,draft,a,2026-10-01T10:00:00Z,,true,60,success\n"
    )
    result = runner.invoke(args=["liftoff", "import", "events", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 2 events (1 duplicates skipped)" in result.output
    assert "importing events" in result.output  # the progress bar (stderr, mixed in here)
    assert {e.source for e in db.session.scalars(select(Event))} == {"csv"}
    assert _stored() == 2


def test_cli_import_lists_every_bad_row_and_column_and_writes_nothing(world, runner, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,feature,person_id,occurred_at,ai_assisted,duration_seconds,outcome\n"
        "c1,draft,a,2026-10-01T10:00:00Z,true,60,success\n"
        "c2,draft,a,2026-10-01T10:00:00,maybe,-5,success\n"
        "c3,nope,a,2026-10-01T10:00:00Z,true,,done\n"
    )
    result = runner.invoke(args=["liftoff", "import", "events", str(path)])
    assert result.exit_code == 1
    for line in ("row 2: occurred_at", "row 2: ai_assisted", "row 2: duration_seconds",
                 "row 3: outcome", "row 3: feature"):
        assert line in result.output, result.output
    assert _stored() == 0
    assert runner.invoke(args=["liftoff", "import", "events", "--help"]).exit_code == 0
