""""Who gets it?" and the confirm dialog's audience change: the answers match the real Unleash SDK
now, the exposure spells at past instants, and set arithmetic on the audiences worked out here."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import db, utcnow
from app.errors import NotFound, ValidationFailed
from app.models import CohortMember, ExposureSpell, Person
from app.services.rollout import explain, impact
from app.services.rollout import transitions as rollout
from tests.helpers import gen_cohort, gen_person
from tests.sdk_support import sdk, wait_for

FEATURE = "drafts"


@pytest.fixture
def company(app):
    people = [gen_person(f"emp{i:04d}", name=f"Employee {i:04d}") for i in range(200)]
    gen_cohort("champions", people[:6])
    gen_cohort("pilot", people[6:20])
    rollout.create_feature({"key": FEATURE, "name": "Draft writer", "stages": [
        {"name": "Champions", "cohorts": ["champions"]},
        {"name": "Pilot", "cohorts": ["pilot"]},
        {"name": "Ramp", "percentage": 40},
    ]}, "ana")
    db.session.commit()
    return people


def _stickiness_bucket(key: str, person_id: str) -> int:
    # Worked out independently of app/flags/stickiness.py: Unleash's normalizedValue.
    import mmh3

    return mmh3.hash(f"{key}:{person_id}", 0, signed=False) % 100 + 1


def test_every_rule_is_named(company):
    now = utcnow()
    people = company
    assert explain.explain(FEATURE, "emp0000").rule == "off"
    rollout.advance(FEATURE, "ana", effective_at=now - timedelta(days=10))
    rollout.advance(FEATURE, "ana", effective_at=now - timedelta(days=5))
    rollout.advance(FEATURE, "ana", effective_at=now - timedelta(days=2))
    db.session.commit()

    champion = explain.explain(FEATURE, "emp0000")
    assert (champion.on, champion.rule, champion.cohort) == (True, "cohort", "champions")
    assert champion.cohort_stage == "Champions"
    assert "champions" in champion.why and "Ramp" in champion.why
    pilot = explain.explain(FEATURE, "emp0010")
    assert (pilot.rule, pilot.cohort, pilot.cohort_stage) == ("cohort", "pilot", "Pilot")
    outsiders = [p.person_id for p in people[20:]]
    inside = [pid for pid in outsiders if _stickiness_bucket(FEATURE, pid) <= 40]
    outside = [pid for pid in outsiders if _stickiness_bucket(FEATURE, pid) > 40]
    assert inside and outside
    ramp = explain.explain(FEATURE, inside[0])
    assert (ramp.on, ramp.rule, ramp.percentage) == (True, "percentage", 40)
    assert ramp.bucket == _stickiness_bucket(FEATURE, inside[0])
    assert f"bucket {ramp.bucket}" in ramp.why and "40 %" in ramp.why
    out = explain.explain(FEATURE, outside[0])
    assert (out.on, out.rule) == (False, "outside") and f"bucket {out.bucket}" in out.why

    rollout.kill(FEATURE, "ana", "incident")
    db.session.commit()
    killed = explain.explain(FEATURE, "emp0000")
    assert (killed.on, killed.rule) == (False, "killed") and "killed" in killed.why
    # A past instant replays the rollout: three days ago it was at Pilot, not killed.
    past = explain.explain(FEATURE, "emp0010", now - timedelta(days=3))
    assert (past.on, past.rule, past.stage_name) == (True, "cohort", "Pilot")
    before = explain.explain(FEATURE, "emp0010", now - timedelta(days=7))
    assert (before.on, before.rule, before.stage_name) == (False, "outside", "Champions")
    assert explain.explain(FEATURE, "emp0000", now - timedelta(days=30)).rule == "off"


def test_bad_questions_are_refused(company):
    with pytest.raises(NotFound):
        explain.explain(FEATURE, "nobody")
    with pytest.raises(NotFound):
        explain.explain("no-such-feature", "emp0000")
    with pytest.raises(ValidationFailed) as refused:
        explain.explain(FEATURE, "emp0000", utcnow() + timedelta(hours=1))
    assert refused.value.details[0].field == "at"
    with pytest.raises(ValidationFailed):
        explain.explain(FEATURE, "emp0000", utcnow().replace(tzinfo=None))


def test_past_answers_match_the_exposure_spells(company):
    now = utcnow()
    marks = [now - timedelta(days=d) for d in (20, 15, 10, 6, 3, 1)]
    rollout.advance(FEATURE, "ana", effective_at=marks[0])
    rollout.advance(FEATURE, "ana", effective_at=marks[1])
    rollout.advance(FEATURE, "ana", effective_at=marks[2])
    rollout.kill(FEATURE, "ana", "incident", marks[3])
    rollout.resume(FEATURE, "ana", "fixed", marks[4])
    rollout.rollback(FEATURE, "ana", "too many tickets", marks[5])
    db.session.commit()
    spells = db.session.execute(select(Person.person_id, ExposureSpell.start_at, ExposureSpell.end_at)
                                .join(Person, Person.id == ExposureSpell.person_id)).all()
    probes = [now - timedelta(days=d, hours=12) for d in (21, 17, 12, 8, 4, 2)] + [now - timedelta(hours=2)]
    checked = 0
    for instant in probes:
        held = {pid for pid, start, end in spells if start <= instant and (end is None or end > instant)}
        for person in company[::3]:
            answer = explain.explain(FEATURE, person.person_id, instant)
            assert answer.on == (person.person_id in held), (instant, person.person_id, answer.why)
            checked += answer.on
    assert checked > 20  # the probes saw people on, not only an empty audience


@pytest.mark.slow
def test_answers_now_match_the_real_sdk(app, live_server, company, client_token, tmp_path):
    rollout.advance(FEATURE, "ana")
    rollout.advance(FEATURE, "ana")
    rollout.advance(FEATURE, "ana")
    db.session.commit()
    ids = [p.person_id for p in company]
    with sdk(live_server, client_token, tmp_path) as client:
        assert wait_for(lambda: client.is_enabled(FEATURE, {"userId": "emp0000"}))
        sdk_on = {pid for pid in ids if client.is_enabled(FEATURE, {"userId": pid})}
    ours = {pid for pid in ids if explain.explain(FEATURE, pid).on}
    assert ours == sdk_on
    assert 40 < len(ours) < len(ids)


def test_person_options_search_by_name(company):
    found = explain.person_options("employee 001")
    assert [o["value"] for o in found] == [f"emp{i:04d}" for i in range(10, 20)]
    assert found[0]["label"] == "Employee 0010 (emp0010)"
    assert explain.person_options("EMP0199") == [{"label": "Employee 0199 (emp0199)", "value": "emp0199"}]


def test_impact_counts_gain_lose_keep(company):
    people = company
    champions = {p.person_id for p in people[:6]}
    pilot = {p.person_id for p in people[6:20]}
    ramp = {p.person_id for p in people if _stickiness_bucket(FEATURE, p.person_id) <= 40}

    first = impact.preview(FEATURE, "advance")
    assert (first.gain, first.lose, first.keep, first.total) == (6, 0, 0, 6)
    assert first.sentence.startswith("Advance to Champions: 6 people gain it;")
    rollout.advance(FEATURE, "ana")
    rollout.advance(FEATURE, "ana")
    db.session.commit()
    to_ramp = impact.preview(FEATURE, "advance")
    after = champions | pilot | ramp
    assert (to_ramp.gain, to_ramp.lose, to_ramp.keep, to_ramp.total) == (
        len(after) - 20, 0, 20, len(after))
    back = impact.preview(FEATURE, "rollback")
    assert (back.gain, back.lose, back.keep, back.total) == (0, 14, 6, 6)
    assert back.sentence == ("Roll back to Champions: 14 people lose it, 6 people keep it; "
                             "6 people have it after (+0, -14).")
    kill = impact.preview(FEATURE, "kill")
    assert (kill.lose, kill.total) == (20, 0) and kill.sentence.startswith("Kill at Pilot:")
    rollout.kill(FEATURE, "ana", "incident")
    db.session.commit()
    resume = impact.preview(FEATURE, "resume")
    assert (resume.gain, resume.lose, resume.total) == (20, 0, 20)
    # The preview changed nothing.
    assert db.session.scalar(select(CohortMember.person_id).limit(1)) is not None
    assert rollout.feature_state(FEATURE)["killed"] is True
    with pytest.raises(ValidationFailed):
        impact.preview(FEATURE, "explode")
