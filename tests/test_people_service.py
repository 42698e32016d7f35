"""The people service on its own: upserts, erased people, e-mail checks, cohort replacement."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.db import db, utcnow
from app.errors import ValidationFailed
from app.models import Department, Person
from app.services.people.directory import put_cohort, replace_cohort_members, upsert_people
from tests.helpers import gen_department, gen_person


@pytest.mark.parametrize("email", ["a@b.co", "first.last+tag@mail.example.org", "x_y@sub-domain.example"])
def test_plausible_emails_are_accepted(app, email):
    assert upsert_people([{"person_id": "p", "email": email}]) == (1, 0)


@pytest.mark.parametrize("email", ["plain", "a@b", "a@@b.co", "a b@c.de", "@b.co", "a@-b.co", "a@b.co.",
                                   "<a@b.co>"])
def test_malformed_emails_are_refused(app, email):
    with pytest.raises(ValidationFailed) as caught:
        upsert_people([{"person_id": "p", "email": email}])
    assert [(d.index, d.field) for d in caught.value.details] == [(0, "email")]


def test_non_string_fields_and_overlong_ids_are_named(app):
    with pytest.raises(ValidationFailed) as caught:
        upsert_people([{"person_id": 12}, {"person_id": "x" * 201}, {"person_id": "ok", "name": ["a"]}],
                      indices=[10, 11, 12])
    assert {(d.index, d.field) for d in caught.value.details} == {
        (10, "person_id"), (11, "person_id"), (12, "name")}


def test_erased_people_are_not_re_identified(app):
    erased = gen_person("gone", name=None, email=None, erased_at=utcnow())
    assert upsert_people([{"person_id": "gone", "name": "Real Name", "email": "real@example.com"}]) == (0, 0)
    db.session.refresh(erased)
    assert (erased.name, erased.email) == (None, None)


def test_created_departments_are_created_once_and_blank_department_clears_it(app):
    rows = [{"person_id": f"p{i}", "department": "Research"} for i in range(3)]
    assert upsert_people(rows, create_departments=True) == (3, 0)
    assert db.session.scalar(select(func.count()).select_from(Department)) == 1
    assert upsert_people([{"person_id": "p0", "department": ""}]) == (0, 1)
    assert db.session.scalar(select(Person).where(Person.person_id == "p0")).department is None


def test_moving_a_person_between_departments_counts_as_an_update(app):
    sales, hr = gen_department("Sales"), gen_department("HR")
    gen_person("p1", sales, name="A", email="a@example.com")
    assert upsert_people([{"person_id": "p1", "name": "A", "email": "a@example.com",
                           "department": "HR"}]) == (0, 1)
    assert db.session.scalar(select(Person)).department is hr


def test_put_cohort_keeps_the_name_when_none_is_given_and_names_new_ones_by_key(app):
    gen_person("a")
    assert put_cohort("pilot", {"members": ["a"]}).name == "pilot"
    assert put_cohort("pilot", {"name": "The pilot", "members": []}).name == "The pilot"
    cohort = put_cohort("pilot", {"members": ["a"]})
    assert cohort.name == "The pilot"
    assert [m.person.person_id for m in cohort.members] == ["a"]


def test_replace_cohort_members_reports_each_change(app):
    gen_person("a"), gen_person("b")
    put_cohort("one", {"members": ["a"]})
    changes = replace_cohort_members([
        {"cohort_key": "one", "person_id": "b"},
        {"cohort_key": "two", "person_id": "a"},
        {"cohort_key": "two", "person_id": "a"},  # a repeated member is one member
    ])
    assert [(c.key, c.created, c.added, c.removed) for c in changes] == [
        ("one", False, 1, 1), ("two", True, 1, 0)]


def test_exposure_follows_cohort_members_and_new_people(app):
    """Needs the rollout service (branch ``rollout``): people writes re-derive exposure spells."""
    from app.models import ExposureSpell
    from app.services.rollout.transitions import advance, create_feature

    gen_person("a")
    gen_person("b")
    put_cohort("pilot", {"members": ["a"]})
    create_feature({"key": "f", "name": "F", "stages": [
        {"name": "Pilot", "cohorts": ["pilot"], "percentage": 0},
        {"name": "Everyone", "cohorts": [], "percentage": 100},
    ]}, "test")
    advance("f", "test")

    def open_spells() -> set[str]:
        spells = db.session.scalars(select(ExposureSpell).where(ExposureSpell.end_at.is_(None)))
        return {db.session.get(Person, s.person_id).person_id for s in spells}

    assert open_spells() == {"a"}
    put_cohort("pilot", {"members": ["b"]})
    assert open_spells() == {"b"}
    advance("f", "test")
    upsert_people([{"person_id": "newcomer"}])
    assert open_spells() == {"a", "b", "newcomer"}
