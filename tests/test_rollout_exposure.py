"""Exposure spells follow every audience change: transitions, kill, cohort members, new people."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.db import db, utcnow
from app.flags.stickiness import in_rollout
from app.models import CohortMember, ExposureSpell
from app.services.rollout import exposure
from app.services.rollout import transitions as rollout
from tests.helpers import gen_cohort, gen_person, utc


@pytest.fixture
def setup(app):
    people = [gen_person(f"emp{i:04d}") for i in range(500)]
    champions = gen_cohort("champions", people[:10])
    rollout.create_feature(
        {"key": "drafts", "name": "Draft writer", "stages": [
            {"name": "champions", "cohorts": ["champions"]},
            {"name": "ramp", "cohorts": [], "percentage": 20},
        ]},
        "ana",
    )
    db.session.commit()
    return people, champions


def _spells():
    return [(s.person_id, s.start_at, s.end_at)
            for s in db.session.scalars(select(ExposureSpell).order_by(ExposureSpell.id))]


def _open_people() -> set[int]:
    return {pid for pid, _, end in _spells() if end is None}


def test_spells_open_and_close_with_the_stages(setup):
    people, _ = setup
    t1, t2, t3, t4 = utc(2026, 5, 1), utc(2026, 5, 8), utc(2026, 5, 9), utc(2026, 5, 10)
    rollout.advance("drafts", "ana", effective_at=t1)
    assert _open_people() == {p.id for p in people[:10]}
    rollout.advance("drafts", "ana", effective_at=t2)
    ramp = {p.id for p in people if in_rollout("drafts", p.person_id, 20)}
    assert 60 < len(ramp - {p.id for p in people[:10]}) < 140
    assert _open_people() == ramp | {p.id for p in people[:10]}
    # Champions keep their first spell: nothing closes for people who stay in.
    assert {start for pid, start, _ in _spells() if pid == people[0].id} == {t1}
    rollout.kill("drafts", "ana", "incident", t3)
    assert _open_people() == set() and {end for _, _, end in _spells()} == {t3}
    rollout.resume("drafts", "ana", "fixed", t4)
    assert _open_people() == ramp | {p.id for p in people[:10]}
    feature_id = rollout._load("drafts").id
    assert exposure.exposed_users(feature_id, date(2026, 5, 8), date(2026, 5, 8)) == len(_open_people())
    assert exposure.exposed_users(feature_id, date(2026, 5, 9), date(2026, 5, 9)) == 0  # killed all day
    # During the kill (t3..t4) nobody; the window's first day only had champions.
    assert exposure.exposed_users(feature_id, t3 + timedelta(minutes=1), t4) == 0
    assert exposure.exposed_users(feature_id, date(2026, 5, 1), date(2026, 5, 7)) == 10
    assert exposure.exposed_users(feature_id, date(2026, 4, 1), date(2026, 4, 30)) == 0


def test_recomputing_twice_changes_nothing(setup):
    rollout.advance("drafts", "ana", effective_at=utc(2026, 5, 1))
    rollout.advance("drafts", "ana", effective_at=utc(2026, 5, 2))
    before = _spells()
    exposure.audiences_changed(utcnow())
    exposure.audiences_changed(utcnow(), None)
    assert _spells() == before


def test_cohort_changes_and_new_people_reach_the_spells(setup):
    people, champions = setup
    rollout.advance("drafts", "ana", effective_at=utc(2026, 5, 1))
    db.session.delete(db.session.get(CohortMember, (champions.id, people[0].id)))
    newcomer = gen_person("late-joiner")
    db.session.add(CohortMember(cohort_id=champions.id, person_id=newcomer.id))
    changed_at = utc(2026, 6, 1)
    exposure.audiences_changed(changed_at)
    assert _open_people() == {p.id for p in people[1:10]} | {newcomer.id}
    assert (people[0].id, utc(2026, 5, 1), changed_at) in _spells()
    assert (newcomer.id, changed_at, None) in _spells()


def test_a_back_dated_transition_drops_spells_that_never_held(setup):
    people, champions = setup
    rollout.advance("drafts", "ana", effective_at=utc(2026, 5, 1))
    newcomer = gen_person("joined-today")
    db.session.add(CohortMember(cohort_id=champions.id, person_id=newcomer.id))
    exposure.audiences_changed(utc(2026, 5, 20))
    rollout.rollback("drafts", "ana", "recorded late", utc(2026, 5, 10))
    spells = _spells()
    assert all(end is not None and end > start for _, start, end in spells)
    assert newcomer.id not in {pid for pid, _, _ in spells}
