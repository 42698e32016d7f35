"""Membership as it stood: cohort and department history, and the exposure that follows it.

Every expected value below is worked out by hand from the contract: a change holds from when it is
made (or from the cohort's effective_at), an instant before the first recorded membership sees the
first one, and a back-dated transition exposes the cohort's members of that instant.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.db import db
from app.models import (
    Cohort,
    CohortMember,
    CohortMembership,
    Department,
    DepartmentMembership,
    ExposureSpell,
    Person,
)
from app.services.audience import membership
from app.services.people import directory as people_service
from app.services.rollout import exposure
from app.services.rollout import transitions as rollout
from tests.helpers import gen_department, gen_person, utc

JAN1, JAN15, FEB1, FEB5, FEB10, MAR1 = (utc(2026, 1, 1), utc(2026, 1, 15), utc(2026, 2, 1),
                                        utc(2026, 2, 5), utc(2026, 2, 10), utc(2026, 3, 1))


def _iso(instant) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def _ids(*person_ids: str) -> set[int]:
    return set(db.session.scalars(select(Person.id).where(Person.person_id.in_(person_ids))))


def _members_at(key: str, at) -> set[str]:
    cohort = db.session.scalar(select(Cohort).where(Cohort.key == key))
    ids = membership.cohort_members_at([cohort.id], at)
    return set(db.session.scalars(select(Person.person_id).where(Person.id.in_(ids)))) if ids else set()


def _intervals(person_id: str) -> list[tuple]:
    dm = DepartmentMembership
    rows = db.session.execute(
        select(Department.name, dm.valid_from, dm.valid_to)
        .join(Department, Department.id == dm.department_id)
        .join(Person, Person.id == dm.person_id).where(Person.person_id == person_id).order_by(dm.id))
    return [tuple(r) for r in rows]


def _spells(feature_key: str) -> set[tuple]:
    feature = rollout._load(feature_key)
    rows = db.session.execute(
        select(Person.person_id, ExposureSpell.start_at, ExposureSpell.end_at)
        .join(Person, Person.id == ExposureSpell.person_id).where(ExposureSpell.feature_id == feature.id))
    return {tuple(r) for r in rows}


# --- departments ----------------------------------------------------------------------------------

def test_a_department_move_holds_from_now_and_a_first_department_since_the_beginning(app, monkeypatch):
    gen_department("Sales")
    gen_department("Ops")
    monkeypatch.setattr(people_service, "utcnow", lambda: utc(2026, 3, 15, 12))
    people_service.upsert_people([{"person_id": "m", "department": "Sales"}, {"person_id": "n"}])
    assert _intervals("m") == [("Sales", None, None)]
    assert _intervals("n") == []  # no department, nothing recorded

    monkeypatch.setattr(people_service, "utcnow", lambda: utc(2026, 4, 1))
    people_service.upsert_people([{"person_id": "m", "department": "Ops"},
                                  {"person_id": "n", "department": "Ops"}])
    assert _intervals("m") == [("Sales", None, utc(2026, 4, 1)), ("Ops", utc(2026, 4, 1), None)]
    assert _intervals("n") == [("Ops", None, None)]  # the first one recorded reaches back

    monkeypatch.setattr(people_service, "utcnow", lambda: utc(2026, 5, 1))
    people_service.upsert_people([{"person_id": "m"}])  # leaves every department
    assert _intervals("m") == [("Sales", None, utc(2026, 4, 1)), ("Ops", utc(2026, 4, 1), utc(2026, 5, 1))]
    monkeypatch.setattr(people_service, "utcnow", lambda: utc(2026, 6, 1))
    people_service.upsert_people([{"person_id": "m", "department": "Sales"}])
    assert _intervals("m")[-1] == ("Sales", utc(2026, 6, 1), None)
    # A repeated import records nothing more.
    people_service.upsert_people([{"person_id": "m", "department": "Sales"}])
    assert len(_intervals("m")) == 3


def test_departments_written_straight_to_people_are_recorded_by_the_next_refresh(app):
    from app.services.rollups.materialise import refresh

    sales, ops = gen_department("Sales"), gen_department("Ops")
    person = gen_person("x", sales)
    refresh()
    assert _intervals("x") == [("Sales", None, None)]
    person.department = ops
    db.session.flush()
    refresh()
    (_, _, closed), (name, opened, still) = _intervals("x")
    assert name == "Ops" and closed == opened and still is None


# --- cohorts --------------------------------------------------------------------------------------

def _put(client, headers, key: str, members: list[str], effective_at=None):
    body = {"members": members} | ({"effective_at": _iso(effective_at)} if effective_at else {})
    return client.put(f"/api/v1/cohorts/{key}", headers=headers, json=body)


def test_a_back_dated_cohort_replacement_supersedes_later_records_only(app, client, admin_headers):
    for pid in "abcd":
        gen_person(pid)
    db.session.commit()
    assert _put(client, admin_headers, "pilot", ["a", "b"], FEB1).status_code == 200
    # The first recorded membership holds since the beginning.
    assert _members_at("pilot", utc(2025, 6, 1)) == {"a", "b"}
    assert _put(client, admin_headers, "pilot", ["b", "c"], MAR1).status_code == 200
    assert _members_at("pilot", FEB10) == {"a", "b"}
    assert _members_at("pilot", MAR1) == {"b", "c"}
    # Back-dated between the two: from Feb 10 on {d}; what was recorded for March is superseded.
    r = _put(client, admin_headers, "pilot", ["d"], FEB10)
    assert r.status_code == 200 and r.get_json()["members"] == ["d"]
    assert _members_at("pilot", FEB5) == {"a", "b"}
    assert _members_at("pilot", FEB10) == {"d"}
    assert _members_at("pilot", utc(2026, 6, 1)) == {"d"}
    assert set(db.session.scalars(select(CohortMember.person_id))) == _ids("d")  # the members now
    # Back-dated before the first record: it becomes the first, holding since the beginning.
    assert _put(client, admin_headers, "pilot", ["c"], JAN1).status_code == 200
    assert _members_at("pilot", utc(2025, 6, 1)) == {"c"}
    assert _members_at("pilot", FEB5) == {"c"}
    # Without effective_at: from now on.
    assert _put(client, admin_headers, "pilot", ["a"]).status_code == 200
    assert _members_at("pilot", FEB5) == {"c"}
    assert _members_at("pilot", utc(2099, 1, 1)) == {"a"}


@pytest.mark.parametrize("raw, message", [
    ("2999-01-01T00:00:00Z", "must not be in the future"),
    ("2026-01-01T00:00:00", "needs a UTC offset (e.g. Z)"),
    ("yesterday", "not an ISO 8601 timestamp: 'yesterday'"),
    (20260101, "not an ISO 8601 timestamp: 20260101"),
])
def test_a_bad_effective_at_is_a_422_naming_the_field_and_writes_nothing(app, client, admin_headers,
                                                                         raw, message):
    gen_person("a")
    db.session.commit()
    r = client.put("/api/v1/cohorts/pilot", headers=admin_headers,
                   json={"members": ["a"], "effective_at": raw})
    assert r.status_code == 422
    assert {"field": "effective_at", "message": message} in r.get_json()["details"]
    assert db.session.scalar(select(func.count()).select_from(CohortMembership)) == 0


def test_the_cohorts_import_takes_an_effective_at(app, runner, tmp_path):
    gen_person("a")
    gen_person("b")
    db.session.commit()
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("cohort_key,person_id\npilot,a\n")
    second.write_text("cohort_key,person_id\npilot,b\n")
    assert runner.invoke(args=["liftoff", "import", "cohorts", "--effective-at", _iso(JAN15),
                               str(first)]).exit_code == 0
    result = runner.invoke(args=["liftoff", "import", "cohorts", "--effective-at", _iso(FEB1), str(second)])
    assert result.exit_code == 0, result.output
    assert _members_at("pilot", JAN1) == {"a"} and _members_at("pilot", FEB1) == {"b"}
    # Dated now (after both): from now on, nothing before changes.
    assert runner.invoke(args=["liftoff", "import", "cohorts", str(first)]).exit_code == 0
    assert _members_at("pilot", FEB5) == {"b"} and _members_at("pilot", utc(2099, 1, 1)) == {"a"}
    result = runner.invoke(args=["liftoff", "import", "cohorts", "--effective-at", "2999-01-01T00:00:00Z",
                                 str(first)])
    assert result.exit_code != 0 and "effective_at: must not be in the future" in result.output


# --- exposure -------------------------------------------------------------------------------------

@pytest.fixture
def pilot_feature(app, client, admin_headers):
    """pilot = {a, b} recorded from Jan 1; on Feb 1 a left and c joined. A one-stage feature."""
    for pid in "abcd":
        gen_person(pid)
    db.session.commit()
    assert _put(client, admin_headers, "pilot", ["a", "b"], JAN1).status_code == 200
    assert _put(client, admin_headers, "pilot", ["b", "c"], FEB1).status_code == 200
    r = client.post("/api/v1/features", headers=admin_headers, json={
        "key": "notes", "name": "Notes",
        "stages": [{"name": "pilot", "cohorts": ["pilot"], "percentage": 0}]})
    assert r.status_code == 201, r.get_json()
    return client


def _advance(client, headers, at):
    r = client.post("/api/v1/features/notes/advance", headers=headers, json={"effective_at": _iso(at)})
    assert r.status_code == 200, r.get_json()


def test_a_back_dated_advance_exposes_the_members_of_then(pilot_feature, admin_headers):
    r = pilot_feature.post("/api/v1/features/notes/advance", headers=admin_headers,
                           json={"effective_at": _iso(JAN15)})
    assert r.status_code == 200, r.get_json()
    assert _spells("notes") == {("a", JAN15, FEB1), ("b", JAN15, None), ("c", FEB1, None)}
    feature_id = rollout._load("notes").id
    assert exposure.exposed_users(feature_id, date(2026, 1, 1), date(2026, 1, 31)) == 2  # a, b
    assert exposure.exposed_users(feature_id, date(2026, 2, 1), date(2026, 2, 28)) == 2  # b, c
    assert exposure.exposed_users(feature_id, date(2026, 1, 1), date(2026, 2, 28)) == 3


def test_spells_follow_a_membership_change_recorded_after_the_transitions(pilot_feature, admin_headers):
    _advance(pilot_feature, admin_headers, JAN15)
    r = pilot_feature.post("/api/v1/features/notes/kill", headers=admin_headers,
                           json={"effective_at": _iso(FEB10), "reason": "incident"})
    assert r.status_code == 200
    assert _spells("notes") == {("a", JAN15, FEB1), ("b", JAN15, FEB10), ("c", FEB1, FEB10)}
    # Recorded later, back-dated to Feb 5: d joined. Exposed from Feb 5 until the kill.
    assert _put(pilot_feature, admin_headers, "pilot", ["b", "c", "d"], FEB5).status_code == 200
    assert _spells("notes") == {("a", JAN15, FEB1), ("b", JAN15, FEB10), ("c", FEB1, FEB10),
                                ("d", FEB5, FEB10)}
    # Recorded later still, back-dated before the advance: only b from Jan 1. a and c never held it.
    assert _put(pilot_feature, admin_headers, "pilot", ["b"], JAN1).status_code == 200
    assert _spells("notes") == {("b", JAN15, FEB10)}
    # Resumed now: b is exposed again now; the replay is idempotent.
    pilot_feature.post("/api/v1/features/notes/resume", headers=admin_headers, json={"reason": "fixed"})
    spells = _spells("notes")
    assert {(p, s, e) for p, s, e in spells if s < FEB10} == {("b", JAN15, FEB10)}
    assert {p for p, _, e in spells if e is None} == {"b"}
    exposure.audiences_changed(FEB5)
    assert _spells("notes") == spells


def test_joining_a_cohort_of_a_live_stage_exposes_from_then_and_leaving_closes_then(pilot_feature,
                                                                                     admin_headers):
    _advance(pilot_feature, admin_headers, JAN15)
    assert _put(pilot_feature, admin_headers, "pilot", ["c", "d"], MAR1).status_code == 200
    assert _spells("notes") == {("a", JAN15, FEB1), ("b", JAN15, MAR1), ("c", FEB1, None),
                                ("d", MAR1, None)}


# --- migration ------------------------------------------------------------------------------------

def test_the_migration_records_the_state_it_finds_as_holding_since_the_beginning(database_url):
    from alembic import command
    from sqlalchemy import create_engine, text

    from app.cli.admin import alembic_config

    cfg = alembic_config(database_url)
    command.downgrade(cfg, "0009")
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO departments (id, name) VALUES (1, 'Sales')"))
        conn.execute(text("INSERT INTO people (id, person_id, department_id, created_at) VALUES"
                          " (1, 'a', 1, '2026-01-01 00:00:00'), (2, 'b', NULL, '2026-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO cohorts (id, key, name, created_at)"
                          " VALUES (1, 'pilot', 'Pilot', '2026-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO cohort_members (cohort_id, person_id, added_at)"
                          " VALUES (1, 1, '2026-01-01 00:00:00'), (1, 2, '2026-01-01 00:00:00')"))
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        cohorts = conn.execute(text("SELECT cohort_id, person_id, valid_from, valid_to"
                                    " FROM cohort_memberships ORDER BY person_id")).all()
        departments = conn.execute(text(
            "SELECT person_id, department_id, valid_from, valid_to FROM department_memberships")).all()
        first = conn.execute(text("SELECT history_from FROM cohorts")).scalar()
    engine.dispose()
    assert [tuple(r) for r in cohorts] == [(1, 1, None, None), (1, 2, None, None)]
    assert [tuple(r) for r in departments] == [(1, 1, None, None)]  # b has no department
    assert first is None
