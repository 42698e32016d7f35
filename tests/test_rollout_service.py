"""Rollout plans: creation, the four transitions, their validation, the audit trail and history."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db import db, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import AuditEntry, Feature, FlagRevision, RolloutTransition
from app.services.rollout import transitions as rollout
from tests.helpers import gen_cohort, gen_person, utc


def _plan(key="copilot", **extra):
    spec = {
        "key": key,
        "name": "Mail copilot",
        "stages": [
            {"name": "champions", "cohorts": ["champions"], "percentage": 0},
            {"name": "pilots", "cohorts": ["pilots"], "percentage": 0},
            {"name": "ramp", "cohorts": [], "percentage": 30},
            {"name": "everyone", "cohorts": [], "percentage": 100},
        ],
    }
    spec.update(extra)
    return spec


@pytest.fixture
def company(app):
    people = [gen_person(f"emp{i:03d}") for i in range(200)]
    gen_cohort("champions", people[:5])
    gen_cohort("pilots", people[5:25])
    db.session.commit()
    return people


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_create_feature_stores_the_plan_and_audits_it(company):
    feature = rollout.create_feature(_plan(estimated_minutes_saved=4.5), "ana@example.com")
    db.session.commit()
    state = rollout.feature_state("copilot")
    assert feature.current_stage == 0 and state["current_stage_name"] is None
    assert [s["cohorts"] for s in state["stages"]] == [["champions"], ["pilots"], [], []]
    # Stages are cumulative: champions, + pilots, + 30 % of all, everyone.
    sizes = [s["audience_size"] for s in state["stages"]]
    assert sizes[0] == 5 and sizes[1] == 25 and 25 < sizes[2] < 200 and sizes[3] == 200
    assert state["owner"] == "ana@example.com" and state["estimated_minutes_saved"] == 4.5
    assert state["exposed_now"] == 0 and state["history"] == [] and state["killed"] is False
    audit = db.session.scalar(select(AuditEntry))
    assert audit.action == "feature.create" and json.loads(audit.after)["current_stage"] == 0


@pytest.mark.parametrize(
    "change, field",
    [
        ({"key": "has space"}, "key"),
        ({"name": ""}, "name"),
        ({"baseline_days": 0}, "baseline_days"),
        ({"estimated_minutes_saved": "lots"}, "estimated_minutes_saved"),
        ({"stages": []}, "stages"),
        ({"stages": [{"name": "x", "cohorts": ["nobody-knows"], "percentage": 0}]}, "stages[0].cohorts"),
        ({"stages": [{"name": "x", "cohorts": [], "percentage": 101}]}, "stages[0].percentage"),
        ({"stages": [{"name": "x", "cohorts": [], "percentage": -1}]}, "stages[0].percentage"),
        ({"stages": [{"name": "x", "cohorts": [], "percentage": 12.5}]}, "stages[0].percentage"),
        ({"stages": [{"cohorts": [], "percentage": 5}]}, "stages[0].name"),
    ],
)
def test_bad_plans_are_refused_naming_the_field(company, change, field):
    with pytest.raises(ValidationFailed) as caught:
        rollout.create_feature(_plan(**change), "ana")
    assert field in [d.field for d in caught.value.details]
    db.session.rollback()
    assert _count(Feature) == 0 and _count(AuditEntry) == 0


def test_a_taken_key_is_a_conflict(company):
    rollout.create_feature(_plan(), "ana")
    with pytest.raises(Conflict):
        rollout.create_feature(_plan(), "ana")


def test_transitions_walk_the_plan_and_record_history(company):
    rollout.create_feature(_plan(), "ana")
    t0 = utcnow() - timedelta(days=30)
    rollout.advance("copilot", "ana", effective_at=t0)
    rollout.advance("copilot", "ben", "pilots ready", t0 + timedelta(days=7))
    rollout.kill("copilot", "ben", "bad answers", t0 + timedelta(days=8))
    rollout.resume("copilot", "ben", "fixed", t0 + timedelta(days=9))
    rollout.rollback("copilot", "ana", "too early", t0 + timedelta(days=10))
    db.session.commit()
    state = rollout.feature_state("copilot")
    assert state["current_stage"] == 1 and state["current_stage_name"] == "champions"
    assert [(h["action"], h["from_stage"], h["to_stage"], h["killed"]) for h in state["history"]] == [
        ("advance", 0, 1, False), ("advance", 1, 2, False), ("kill", 2, 2, True),
        ("resume", 2, 2, False), ("rollback", 2, 1, False),
    ]
    assert state["history"][1]["reason"] == "pilots ready" and state["history"][1]["actor"] == "ben"
    assert state["history"][0]["effective_at"].endswith("Z")
    audits = list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [a.action for a in audits][1:] == [
        "feature.advance", "feature.advance", "feature.kill", "feature.resume", "feature.rollback"
    ]
    kill_audit = audits[3]
    assert json.loads(kill_audit.before)["killed"] is False and json.loads(kill_audit.after)["killed"] is True
    assert kill_audit.reason == "bad answers"
    assert state["exposed_now"] == 5


def test_state_conflicts_name_the_problem_and_change_nothing(company):
    rollout.create_feature(_plan(stages=[{"name": "only", "cohorts": ["champions"]}]), "ana")
    with pytest.raises(Conflict) as caught:
        rollout.rollback("copilot", "ana", "why")
    assert caught.value.details[0].field == "current_stage"
    with pytest.raises(Conflict):
        rollout.resume("copilot", "ana", "nothing to resume")
    rollout.advance("copilot", "ana")
    with pytest.raises(Conflict) as caught:
        rollout.advance("copilot", "ana")
    assert caught.value.details[0].field == "current_stage"
    rollout.kill("copilot", "ana", "stop")
    with pytest.raises(Conflict) as caught:
        rollout.kill("copilot", "ana", "stop again")
    assert caught.value.details[0].field == "killed"
    assert _count(RolloutTransition) == 2
    with pytest.raises(NotFound):
        rollout.advance("nope", "ana")


def test_effective_at_is_never_future_nor_before_the_last_transition(company):
    rollout.create_feature(_plan(), "ana")
    rollout.advance("copilot", "ana", effective_at=utc(2026, 3, 1))
    db.session.commit()
    revision = db.session.scalar(select(FlagRevision.revision))
    for when in (utcnow() + timedelta(minutes=5), utc(2026, 2, 28, 23, 59)):
        with pytest.raises(ValidationFailed) as caught:
            rollout.advance("copilot", "ana", effective_at=when)
        assert caught.value.details[0].field == "effective_at"
    with pytest.raises(ValidationFailed) as caught:
        rollout.kill("copilot", "ana", "  ")
    assert caught.value.details[0].field == "reason"
    db.session.rollback()
    assert rollout.feature_state("copilot")["current_stage"] == 1
    assert db.session.scalar(select(FlagRevision.revision)) == revision
    rollout.advance("copilot", "ana", effective_at=utc(2026, 3, 1))  # the same instant is fine
    assert rollout.feature_state("copilot")["current_stage"] == 2


def test_every_change_moves_the_flag_revision(company):
    start = db.session.scalar(select(FlagRevision.revision))
    rollout.create_feature(_plan(), "ana")
    rollout.advance("copilot", "ana")
    rollout.kill("copilot", "ana", "x")
    db.session.commit()
    assert db.session.scalar(select(FlagRevision.revision)) == start + 3
