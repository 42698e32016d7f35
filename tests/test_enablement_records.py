"""Training sessions, attendance and completion, feedback triage, corrections export, action items."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from UnleashClient.utils import normalized_hash

from app.errors import Conflict, ValidationFailed
from app.models import ActionItem, Attendance, AuditEntry, Feedback, TrainingSession
from app.services.enablement import activities as enablement
from app.services.enablement import feedback_triage
from tests.enablement_builders import add_feedback, live_feature
from tests.helpers import gen_person


def test_training_with_attendees_of_the_stage_and_completion(session):
    feature, members, _ = live_feature(people=10)
    training = enablement.record_training(
        feature.key,
        {
            "stage": 1,
            "title": "Pilot kick-off",
            "trainer": "Ana",
            "held_on": "2026-11-02",
            "format": "webinar",
            "duration_minutes": 45,
            "attendees": [m.person_id for m in members[:6]]
            + [{"person_id": members[6].person_id, "completed": False}],
        },
        "cm",
    )
    assert training.held_on == date(2026, 11, 2)
    assert len(training.attendance) == 7
    assert enablement.training_completion(feature, 1) == (6, 10)
    enablement.record_attendance(
        training.id, [{"person_id": members[6].person_id, "completed": True}, members[7].person_id], "cm"
    )
    assert enablement.training_completion(feature, 1) == (8, 10)
    assert session.query(Attendance).count() == 8


def test_attendance_outside_the_stage_audience_is_refused_and_nothing_written(session):
    feature, members, _ = live_feature(people=5)
    outsider = gen_person(person_id="outsider-1")
    with pytest.raises(ValidationFailed) as caught:
        enablement.record_training(
            feature.key,
            {
                "stage": 1,
                "title": "Kick-off",
                "trainer": "Ana",
                "held_on": "2026-11-02",
                "attendees": [members[0].person_id, outsider.person_id, "ghost", members[0].person_id],
            },
            "cm",
        )
    details = [(d.index, d.field, d.message) for d in caught.value.details]
    assert details == [
        (1, "person_id", "'outsider-1' is not in the audience of stage 1"),
        (2, "person_id", "unknown person 'ghost'"),
        (3, "person_id", f"{members[0].person_id!r} is listed twice"),
    ]
    assert session.query(TrainingSession).count() == 0
    assert session.query(Attendance).count() == 0


def test_later_stages_include_percentage_audience_exactly_as_unleash_picks(session):
    feature, members, _ = live_feature(people=3, stage_percentages=(0, 50, 100))
    others = [gen_person() for _ in range(30)]
    in_ramp = {p.id for p in others if normalized_hash(p.person_id, feature.key) <= 50}
    assert 0 < len(in_ramp) < 30
    assert enablement.stage_audience(feature, 1) == {m.id for m in members}
    assert enablement.stage_audience(feature, 2) == {m.id for m in members} | in_ramp
    outsider = next(p for p in others if p.id not in in_ramp)
    with pytest.raises(ValidationFailed, match="invalid training"):
        enablement.record_training(
            feature.key,
            {
                "stage": 2,
                "title": "x",
                "trainer": "Ana",
                "held_on": "2026-11-02",
                "attendees": [outsider.person_id],
            },
            "cm",
        )


def test_training_validation_lists_every_field(session):
    feature, _, _ = live_feature()
    with pytest.raises(ValidationFailed) as caught:
        enablement.record_training(
            feature.key, {"stage": 9, "title": "", "held_on": "02/11/2026", "duration_minutes": -5}, "cm"
        )
    fields = [d.field for d in caught.value.details]
    assert fields == ["stage", "title", "trainer", "held_on", "duration_minutes"]


def test_training_api_permissions_and_errors(client, admin_headers, ingest_headers, session):
    feature, members, _ = live_feature(people=3)
    session.commit()
    url = f"/api/v1/features/{feature.key}/trainings"
    body = {
        "stage": 1,
        "title": "Kick-off",
        "trainer": "Ana",
        "held_on": "2026-11-02",
        "attendees": [m.person_id for m in members],
    }
    assert client.post(url, json=body, headers=ingest_headers).status_code == 403
    bad = client.post(url, json={**body, "attendees": ["nobody"]}, headers=admin_headers)
    assert bad.status_code == 422
    assert bad.get_json()["details"] == [
        {"index": 0, "field": "person_id", "message": "unknown person 'nobody'"}
    ]
    assert client.post(url, data="{", headers=admin_headers).status_code == 400
    created = client.post(url, json=body, headers=admin_headers)
    assert created.status_code == 201 and len(created.get_json()["attendees"]) == 3
    listed = client.get(url, headers=admin_headers).get_json()
    assert [t["title"] for t in listed] == ["Kick-off"]


def test_triage_walks_open_triaged_fixed_verified_with_an_owner(session):
    feature, members, _ = live_feature(people=2)
    item = add_feedback(feature, members[0], 2, severity="critical", category="quality")
    with pytest.raises(ValidationFailed) as caught:
        feedback_triage.triage(item.id, "triaged", "cm")
    assert caught.value.details[0].field == "owner"
    with pytest.raises(Conflict, match="can move to triaged"):
        feedback_triage.triage(item.id, "fixed", "cm", owner="dev@example.com")
    feedback_triage.triage(item.id, "triaged", "cm", owner="dev@example.com")
    feedback_triage.triage(item.id, "fixed", "cm")
    feedback_triage.triage(item.id, "triaged", "cm")  # verification failed: back to work
    feedback_triage.triage(item.id, "fixed", "cm")
    feedback_triage.triage(item.id, "verified", "cm")
    assert (item.status, item.owner) == ("verified", "dev@example.com")
    with pytest.raises(Conflict, match="closed"):
        feedback_triage.triage(item.id, "open", "cm")
    trail = [
        json.loads(e.after)["status"] for e in session.query(AuditEntry).filter_by(action="feedback.triage")
    ]
    assert trail == ["triaged", "fixed", "triaged", "fixed", "verified"]


def test_triage_api(client, admin_headers, session):
    feature, members, _ = live_feature(people=2)
    item = add_feedback(feature, members[0], 4)
    session.commit()
    url = f"/api/v1/feedback/{item.id}/triage"
    assert client.post(url, json={"status": "done", "owner": "x"}, headers=admin_headers).status_code == 422
    ok = client.post(url, json={"status": "triaged", "owner": "dev@example.com"}, headers=admin_headers)
    assert ok.status_code == 200 and ok.get_json()["status"] == "triaged"
    assert client.post(url, json={"status": "verified"}, headers=admin_headers).status_code == 409
    too_long = client.post(url, json={"status": "fixed", "owner": "x" * 321}, headers=admin_headers)
    assert too_long.status_code == 422 and too_long.get_json()["details"][0]["field"] == "owner"
    listed = client.get(f"/api/v1/features/{feature.key}/feedback?status=triaged", headers=admin_headers)
    assert [f["id"] for f in listed.get_json()] == [item.id]
    assert (
        client.post(
            "/api/v1/feedback/99999/triage", json={"status": "triaged", "owner": "x"}, headers=admin_headers
        ).status_code
        == 404
    )


def test_corrections_export_csv_and_jsonl(client, admin_headers, session):
    feature, members, _ = live_feature(people=2)
    add_feedback(
        feature, members[0], 2, category="correction", comment='Said 19 % VAT; it is 21 %, "standard" rate'
    )
    add_feedback(feature, members[1], 5, category="usability", comment="nice")
    add_feedback(
        feature, members[1], 1, category="correction", comment='=HYPERLINK("x")', severity="critical"
    )
    session.commit()
    jsonl = client.get(f"/api/v1/features/{feature.key}/corrections?format=jsonl", headers=admin_headers)
    assert jsonl.status_code == 200 and jsonl.mimetype == "application/x-ndjson"
    records = [json.loads(line) for line in jsonl.get_data(as_text=True).splitlines()]
    assert [(r["person_id"], r["rating"], r["severity"]) for r in records] == [
        (members[0].person_id, 2, "normal"),
        (members[1].person_id, 1, "critical"),
    ]
    assert records[0]["comment"] == 'Said 19 % VAT; it is 21 %, "standard" rate'
    csv_response = client.get(f"/api/v1/features/{feature.key}/corrections?format=csv", headers=admin_headers)
    rows = list(csv.DictReader(io.StringIO(csv_response.get_data(as_text=True))))
    assert [r["comment"] for r in rows] == ['Said 19 % VAT; it is 21 %, "standard" rate', '\'=HYPERLINK("x")']
    assert rows[0]["feature"] == feature.key and rows[0]["feedback_id"] == str(records[0]["feedback_id"])
    bad = client.get(f"/api/v1/features/{feature.key}/corrections?format=xml", headers=admin_headers)
    assert bad.status_code == 422


def test_action_items_need_owner_and_due_date(client, admin_headers, session):
    feature, _, _ = live_feature(people=1)
    session.commit()
    url = f"/api/v1/features/{feature.key}/action-items"
    bad = client.post(url, json={"title": "Fix prompt for invoices"}, headers=admin_headers)
    assert bad.status_code == 422
    assert [d["field"] for d in bad.get_json()["details"]] == ["owner", "due_on"]
    long_owner = {"title": "t", "owner": "o" * 321, "due_on": "2026-12-01"}
    refused = client.post(url, json=long_owner, headers=admin_headers)
    assert refused.status_code == 422 and refused.get_json()["details"][0]["field"] == "owner"
    assert session.query(ActionItem).count() == 0
    made = client.post(
        url,
        json={"title": "Fix prompt", "owner": "lea@example.com", "due_on": "2026-12-01"},
        headers=admin_headers,
    )
    assert made.status_code == 201
    item_id = made.get_json()["id"]
    done = client.patch(f"/api/v1/action-items/{item_id}", json={"status": "done"}, headers=admin_headers)
    assert done.get_json() == {
        "id": item_id,
        "title": "Fix prompt",
        "owner": "lea@example.com",
        "due_on": "2026-12-01",
        "status": "done",
    }
    assert (
        client.patch(
            f"/api/v1/action-items/{item_id}", json={"status": "maybe"}, headers=admin_headers
        ).status_code
        == 422
    )
    assert [i["id"] for i in client.get(url, headers=admin_headers).get_json()] == [item_id]


def test_feedback_count_is_untouched_by_failed_triage(session):
    feature, members, _ = live_feature(people=1)
    item = add_feedback(feature, members[0], 3)
    with pytest.raises(ValidationFailed):
        feedback_triage.triage(item.id, "triaged", "cm", owner="  ")
    assert session.get(Feedback, item.id).status == "open"
