"""The people picker's search and lists, the People & cohorts page's write, the enablement page's
new writes (playbook, training at a time, attendance) and the pulse results, called directly."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.db import db, utcnow
from app.errors import ValidationFailed
from app.models import AuditEntry, CohortMembership, RolloutTransition
from app.security import Identity, NotAllowed
from dashboards.enablement import pulse
from dashboards.enablement.actions import attach_playbook, record_attendance, schedule_training
from dashboards.people import data
from dashboards.people.actions import save_cohort
from dashboards.people.picker import chosen_ids
from tests.enablement_builders import add_feedback, live_feature
from tests.helpers import gen_cohort, gen_department, gen_person

CHANGE = Identity("cm@liftoff.test", role="change_manager")
PRODUCT = Identity("pm@liftoff.test", role="product")
EXEC = Identity("ceo@liftoff.test", role="executive")


@pytest.fixture
def staff(session):
    sales, finance = gen_department("Sales"), gen_department("Finance 50%")
    people = {
        "ana": gen_person("E1001", sales, name="Ana Silva", email="ana.silva@corp.test"),
        "bo": gen_person("E1002", sales, name="Bo Chen", email="bo@corp.test"),
        "cy": gen_person("E1003", finance, name="Cy Brown", email="cy@corp.test"),
        "di": gen_person("E1004", None, name="Di 100% Jones", email="di@corp.test"),
    }
    gen_cohort("pilot-sales", [people["bo"]], name="Sales pilot")
    return people


def _values(found) -> list[str]:
    return [o["value"] for o in found]


def test_search_finds_by_name_email_id_department_and_cohort(staff):
    assert _values(data.search_people("silva")[0]) == ["E1001"]  # name, any case
    assert _values(data.search_people("BO@CORP")[0]) == ["E1002"]  # e-mail
    assert _values(data.search_people("e1003")[0]) == ["E1003"]  # person id
    assert _values(data.search_people("sales")[0]) == ["E1001", "E1002"]  # department (and cohort key)
    assert _values(data.search_people("Sales pilot")[0]) == ["E1002"]  # cohort name
    assert data.search_people("  ") == ([], 0)
    found, _ = data.search_people("ana")
    assert found[0]["label"] == "Ana Silva · Sales (E1001)"  # name and department, never a bare id
    assert data.search_people("jones")[0][0]["label"] == "Di 100% Jones · no department (E1004)"


def test_typed_wildcards_match_only_themselves(staff):
    # "%" and "_" are LIKE wildcards: escaped, they match the literal character and nothing else.
    assert _values(data.search_people("%")[0]) == ["E1003", "E1004"]  # "Finance 50%" and "100%"
    assert _values(data.search_people("_")[0]) == []
    assert _values(data.search_people("0% J")[0]) == ["E1004"]
    assert data.search_people("'; DROP TABLE people; --") == ([], 0)


def test_search_is_limited_and_says_how_many_matched(session):
    team = gen_department("Support")
    for i in range(25):
        gen_person(f"S{i:03d}", team, name=f"Support agent {i:02d}")
    found, total = data.search_people("support agent", limit=20)
    assert len(found) == 20 and total == 25
    assert found[0]["value"] == "S000" and found[-1]["value"] == "S019"  # by name
    rest, total = data.search_people("support agent", limit=20, offset=20)  # the next page
    assert _values(rest) == ["S020", "S021", "S022", "S023", "S024"] and total == 25


def test_erased_people_are_not_offered(staff):
    staff["ana"].erased_at = utcnow()
    db.session.flush()
    assert data.search_people("silva") == ([], 0)
    assert data.group_members("department:Sales") == ["E1002"]


def test_groups_and_their_members(staff):
    options = {o["value"]: o["label"] for o in data.group_options()}
    assert options["department:Sales"] == "Department Sales (2 people)"
    assert options["cohort:pilot-sales"] == "Cohort Sales pilot [pilot-sales] (1 person)"
    assert data.group_members("department:Sales") == ["E1001", "E1002"]
    assert data.group_members("cohort:pilot-sales") == ["E1002"]
    assert data.group_members("cohort:nope") is None and data.group_members("x") is None
    assert data.labels_for(["E1003", "nobody", "E1001"]) == [
        {"label": "Cy Brown · Finance 50% (E1003)", "value": "E1003"},
        {"label": "Ana Silva · Sales (E1001)", "value": "E1001"}]


def _upload(text: str) -> str:
    return "data:text/csv;base64," + base64.b64encode(text.encode()).decode()


def test_an_uploaded_list_names_each_row_that_names_nobody(staff):
    read = data.read_people_list(_upload("Email,Note\nANA.SILVA@corp.test,x\n\nnobody@corp.test,y\n"
                                         "cy@corp.test,z\n"))
    assert read.person_ids == ["E1001", "E1003"]
    assert read.problems == ["line 4: no person with the e-mail address 'nobody@corp.test'"]
    ids = data.read_people_list(_upload("E1002\nE9999\nE1002\n"))  # no header: the first column
    assert ids.person_ids == ["E1002"] and ids.problems == ["line 2: no person with the person id 'E9999'"]
    assert data.read_people_list("data:text/csv;base64,@@@").problems[0].startswith("not a CSV file")
    assert chosen_ids(["E1", None, "", "E1", 3]) == ["E1"] and chosen_ids("E2") == ["E2"]


def test_a_change_manager_saves_a_cohort_from_a_past_instant_and_others_are_refused(staff):
    with pytest.raises(NotAllowed):
        save_cohort(EXEC, "new", "New", ["E1001"])
    assert save_cohort(PRODUCT, "by-product", "", ["E1002"]).key == "by-product"  # product shapes cohorts too
    with pytest.raises(ValidationFailed) as bad:
        save_cohort(CHANGE, "new", "New", ["E1001"], "2026-01-05", "25:00")
    assert [d.field for d in bad.value.details] == ["effective_at"]
    with pytest.raises(ValidationFailed) as unknown:
        save_cohort(CHANGE, "new", "New", ["E1001", "E9999"])
    assert [(d.field, d.index) for d in unknown.value.details] == [("members", 1)]

    day = (utcnow() - timedelta(days=3)).date()
    cohort = save_cohort(CHANGE, "new", "New cohort", ["E1001", "E1003"], day.isoformat(), "09:15")
    assert cohort.name == "New cohort"
    assert cohort.history_from == datetime(day.year, day.month, day.day, 9, 15, tzinfo=UTC)
    assert data.cohort_detail("new") == {"key": "new", "name": "New cohort", "members": ["E1001", "E1003"]}
    assert db.session.scalar(select(AuditEntry.actor).where(
        AuditEntry.action == "cohort.put", AuditEntry.entity_key == "new")) == CHANGE.name

    save_cohort(CHANGE, "new", "", ["E1003"])  # now: E1001 leaves, the name stays
    assert data.cohort_detail("new") == {"key": "new", "name": "New cohort", "members": ["E1003"]}
    left = db.session.scalar(select(CohortMembership.valid_to).where(CohortMembership.valid_to.is_not(None)))
    assert left is not None and left > utcnow() - timedelta(minutes=1)
    with pytest.raises(ValidationFailed):  # the service refuses a future instant, as the API does
        save_cohort(CHANGE, "new", "", ["E1003"], (utcnow() + timedelta(days=2)).date().isoformat())


def test_a_training_is_scheduled_at_a_time_and_attendance_checks_the_audience(session):
    feature, members, _cohort = live_feature(people=4)
    outsider = gen_person("X1")
    with pytest.raises(NotAllowed):
        schedule_training(feature.key, EXEC, {"stage": 1, "title": "t", "trainer": "a", "day": "2026-12-01"})
    with pytest.raises(ValidationFailed) as missing:
        schedule_training(feature.key, CHANGE, {"stage": 1, "title": " ", "trainer": "Ana", "day": None,
                                                "time": "10:00"})
    assert {d.field for d in missing.value.details} == {"held_on"}
    with pytest.raises(ValidationFailed) as bad:
        schedule_training(feature.key, CHANGE, {"stage": 1, "title": " ", "trainer": "Ana",
                                                "day": "2026-12-01", "attendees": ["X1"]})
    assert {d.field for d in bad.value.details} == {"title", "person_id"}
    held = schedule_training(feature.key, CHANGE, {
        "stage": 1, "title": "Kick-off", "trainer": "Ana", "day": "2026-12-01", "time": "16:45",
        "duration_minutes": 30, "format": "", "attendees": [members[0].person_id]})
    assert held.starts_at == datetime(2026, 12, 1, 16, 45, tzinfo=UTC)
    assert held.held_on.isoformat() == "2026-12-01"
    assert held.format is None and len(held.attendance) == 1

    with pytest.raises(ValidationFailed) as nobody:
        record_attendance(held.id, CHANGE, [], True)
    assert [d.field for d in nobody.value.details] == ["attendees"]
    with pytest.raises(ValidationFailed) as outside:
        record_attendance(held.id, CHANGE, [outsider.person_id], True)
    assert "not in the audience of stage 1" in outside.value.details[0].message
    record_attendance(held.id, CHANGE, [m.person_id for m in members[:3]], False)
    assert sorted(a.completed for a in held.attendance) == [False, False, False]


def test_a_playbook_is_attached_through_the_service(session):
    feature, _members, _cohort = live_feature(playbook=None)
    with pytest.raises(NotAllowed):
        attach_playbook(feature.key, PRODUCT, "pilot-feedback-loop")
    with pytest.raises(ValidationFailed) as none:
        attach_playbook(feature.key, CHANGE, "")
    assert none.value.details[0].field == "playbook"
    run = attach_playbook(feature.key, CHANGE, "pilot-feedback-loop")
    assert run.playbook_key == "pilot-feedback-loop" and feature.playbook_key == "pilot-feedback-loop"


def _monday(moment: datetime) -> str:
    year, week, _ = moment.date().isocalendar()
    return date.fromisocalendar(year, week, 1).isoformat()


def test_pulse_results_count_each_rating_for_its_stage_and_week(session):
    feature, members, _cohort = live_feature(people=3, days_in_stage=30, stage_percentages=(0, 100))
    start = db.session.scalar(select(RolloutTransition.effective_at).where(
        RolloutTransition.feature_id == feature.id))
    second = start + timedelta(days=10)
    db.session.add(RolloutTransition(feature_id=feature.id, action="advance", from_stage=1, to_stage=2,
                                     effective_at=second, actor="t"))
    db.session.flush()
    early, first_hour = start - timedelta(days=1), start + timedelta(hours=1)
    last_minute, later = second - timedelta(minutes=1), second + timedelta(days=1)
    add_feedback(feature, members[0], 2, when=early, category="usability", comment="not live for me")
    add_feedback(feature, members[0], 4, when=first_hour, category="quality")
    add_feedback(feature, members[1], 5, when=last_minute, category="quality", comment="great")
    add_feedback(feature, members[2], 3, when=later, comment="ok")
    distribution, categories = pulse.pulse_frames(feature.key)

    counted: dict[tuple[str, str], dict[int, int]] = {}
    for r in distribution.to_dict("records"):
        counted[(r["week"], r["stage_name"])] = {k: r[f"r{k}"] for k in (1, 2, 3, 4, 5) if r[f"r{k}"]}
    expected: dict[tuple[str, str], dict[int, int]] = {}
    for moment, stage, rating in ((early, "not started", 2), (first_hour, "Stage 1", 4),
                                  (last_minute, "Stage 1", 5), (later, "Stage 2", 3)):
        cell = expected.setdefault((_monday(moment), stage), {})
        cell[rating] = cell.get(rating, 0) + 1
    assert counted == expected
    assert distribution["responses"].sum() == 4
    assert list(distribution["week"]) == sorted(distribution["week"])

    by = {r["category"]: r for r in categories.to_dict("records")}
    quality = by["quality"]
    assert (quality["responses"], quality["mean"], quality["comments"]) == (2, 4.5, ["great"])
    assert by["uncategorised"]["comments"] == ["ok"] and by["usability"]["comments"] == ["not live for me"]
    assert list(categories["category"]) == ["quality", "uncategorised", "usability"]

    quiet, _members, _ = live_feature(people=2)
    empty, none = pulse.pulse_frames(quiet.key)
    assert empty.empty and none.empty


def test_the_api_schedules_a_training_at_a_time_on_its_date(client, admin_headers):
    feature, members, _cohort = live_feature(people=2)
    db.session.commit()
    url = f"/api/v1/features/{feature.key}/trainings"
    body = {"stage": 1, "title": "Kick-off", "trainer": "Ana", "held_on": "2026-12-01",
            "starts_at": "2026-12-01T17:30:00+01:00", "attendees": [members[0].person_id]}
    created = client.post(url, json=body, headers=admin_headers)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["starts_at"] == "2026-12-01T16:30:00+00:00"
    late = client.post(url, json={**body, "starts_at": "2026-12-02T00:30:00+01:00"}, headers=admin_headers)
    assert late.status_code == 201  # 23:30 UTC on 2026-12-01: the date is UTC's
    elsewhere = client.post(url, json={**body, "starts_at": "2026-12-02T09:00:00Z"}, headers=admin_headers)
    assert elsewhere.status_code == 422
    assert [d["field"] for d in elsewhere.get_json()["details"]] == ["starts_at"]
    naive = client.post(url, json={**body, "starts_at": "2026-12-01T10:00:00"}, headers=admin_headers)
    assert naive.status_code == 422
    assert [d["field"] for d in naive.get_json()["details"]] == ["starts_at"]
    dated = client.post(url, json={k: v for k, v in body.items() if k != "starts_at"}, headers=admin_headers)
    assert dated.status_code == 201 and dated.get_json()["starts_at"] is None
