"""GDPR: a person's export holds everything about them; erasure removes what identifies them and
leaves every aggregate KPI and ROI figure exactly as it was. Pseudonymous person ids just work."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from app.db import db
from app.models import (
    Attendance,
    AuditEntry,
    Feedback,
    Person,
    TrainingSession,
)
from app.services.kpi_reads.figures import feature_kpis, monthly_roi
from app.services.people.privacy import ERASED_COMMENT
from tests.helpers import gen_cohort, utc
from tests.kpi_scenarios import draft_company, post_events, refresh

WINDOW = (date(2026, 10, 1), date(2026, 10, 10))


@pytest.fixture
def company(app, client, ingest_headers):
    feature, rows = draft_company()
    a = db.session.scalar(select(Person).where(Person.person_id == "a"))
    a.name, a.email = "Anna Example", "anna@example.com"
    gen_cohort("pilot", [a], name="Pilot")
    db.session.add(Feedback(feature_id=feature.id, person_id=a.id, rating=2, category="quality",
                            comment="My manager Bob keeps asking me to use it", occurred_at=utc(2026, 10, 2)))
    training = TrainingSession(feature_id=feature.id, stage_position=1, title="Intro",
                               held_on=date(2026, 10, 1))
    db.session.add(training)
    db.session.flush()
    db.session.add(Attendance(session_id=training.id, person_id=a.id, completed=True))
    db.session.commit()
    assert post_events(client, ingest_headers, rows) == {"accepted": 10, "duplicates": 0}
    refresh()
    return feature


def _figures() -> dict:
    return {
        "all": feature_kpis("draft", *WINDOW),
        "department": feature_kpis("draft", *WINDOW, group_by="department"),
        "cohort": feature_kpis("draft", *WINDOW, group_by="cohort"),
        "roi": monthly_roi("2026-10"),
    }


def test_the_export_holds_everything_about_the_person(company, client, admin_headers):
    response = client.get("/api/v1/people/a/export", headers=admin_headers)
    assert response.status_code == 200
    data = response.get_json()
    assert data["profile"]["name"] == "Anna Example"
    assert data["profile"]["email"] == "anna@example.com"
    assert data["profile"]["department"] == "Sales"
    assert [c["cohort"] for c in data["cohorts"]] == ["pilot"]
    assert [s["feature"] for s in data["exposure"]] == ["draft"]
    assert len(data["events"]) == 4  # a's four events of scenario A
    assert {e["outcome"] for e in data["events"]} == {"success", "error", "abandoned"}
    assert data["feedback"][0]["comment"].startswith("My manager Bob")
    assert data["attendance"] == [{"session_id": data["attendance"][0]["session_id"], "feature": "draft",
                                   "title": "Intro", "completed": True}]


def test_erasure_blanks_the_person_and_leaves_every_kpi_unchanged(company, client, admin_headers, runner):
    before = _figures()
    assert before["all"]["active_users"] == 4  # the figures are real, not empty

    result = runner.invoke(args=["liftoff", "people", "erase", "a", "--yes"])
    assert result.exit_code == 0, result.output
    assert "1 feedback comment(s) replaced" in result.output
    db.session.expire_all()

    person = db.session.scalar(select(Person).where(Person.person_id == "a"))
    assert (person.name, person.email) == (None, None)
    assert person.erased_at is not None
    comment = db.session.scalar(select(Feedback.comment).where(Feedback.person_id == person.id))
    assert comment == ERASED_COMMENT
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "person.erase"))
    assert entry.actor == "cli" and "Anna" not in (entry.after or "") + (entry.reason or "")

    refresh()
    refresh(full=True)  # even a full rebuild of the rollups gives the same figures
    assert _figures() == before

    export = client.get("/api/v1/people/a/export", headers=admin_headers).get_json()
    assert export["profile"]["name"] is None and export["profile"]["email"] is None
    assert export["feedback"][0]["comment"] == ERASED_COMMENT
    assert len(export["events"]) == 4  # the anonymous facts stay
    # A later HR import cannot bring the name back.
    again = client.post("/api/v1/people", json=[{"person_id": "a", "name": "Anna Example"}],
                        headers=admin_headers)
    assert again.status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Person.name).where(Person.person_id == "a")) is None


def test_erasure_over_the_api_is_idempotent_and_audited_once(company, client, admin_headers):
    first = client.post("/api/v1/people/a/erase", headers=admin_headers)
    assert first.status_code == 200
    assert first.get_json()["comments_replaced"] == 1
    second = client.post("/api/v1/people/a/erase", headers=admin_headers)
    assert second.get_json() == {**first.get_json(), "comments_replaced": 0}
    assert db.session.query(AuditEntry).filter_by(action="person.erase").count() == 1


def test_an_unknown_person_is_a_404_and_a_cli_error(app, client, admin_headers, runner):
    assert client.get("/api/v1/people/nobody/export", headers=admin_headers).status_code == 404
    assert client.post("/api/v1/people/nobody/erase", headers=admin_headers).status_code == 404
    result = runner.invoke(args=["liftoff", "people", "export", "nobody"])
    assert result.exit_code == 1
    assert "no person with person_id 'nobody'" in result.output


def test_the_cli_export_writes_json(company, runner, tmp_path):
    target = tmp_path / "a.json"
    result = runner.invoke(args=["liftoff", "people", "export", "a", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["profile"]["email"] == "anna@example.com"


def test_pseudonymous_person_ids_need_no_name_or_email(app, client, admin_headers, ingest_headers):
    pseudonym = "7f3a9c1e-hr-0042"
    response = client.post("/api/v1/people", json=[{"person_id": pseudonym}], headers=admin_headers)
    assert response.get_json() == {"created": 1, "updated": 0}
    draft_company()
    rows = [{"event_id": "x1", "feature": "draft", "person_id": pseudonym, "ai_assisted": True,
             "occurred_at": "2026-10-03T09:00:00Z", "outcome": "success"}]
    assert post_events(client, ingest_headers, rows) == {"accepted": 1, "duplicates": 0}
    export = client.get(f"/api/v1/people/{pseudonym}/export", headers=admin_headers).get_json()
    assert export["profile"] == {**export["profile"], "person_id": pseudonym, "name": None, "email": None}
    assert [e["event_id"] for e in export["events"]] == ["x1"]
