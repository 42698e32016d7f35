"""Guardrails roll back or kill a feature by themselves -- audited, announced, and seen by the SDK."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from app.db import db, utcnow
from app.jobs.gates import run_guardrails
from app.models import AuditEntry, Feature, RolloutTransition
from app.services.guardrails import check_guardrails
from tests.enablement_builders import add_events, enabled, live_feature, sdk, wait_for

GUARDED = """\
key: guarded
name: Guarded
description: One stage with configurable guardrails.
stages:
  - name: Only stage
    adkar: [awareness, desire, knowledge, ability, reinforcement]
    trainings:
      - {{title: Intro, audience: stage, format: webinar, duration_minutes: 30, adkar: knowledge}}
    communications:
      - {{channel: email, audience: pilots, timing: day 1, message: Welcome, adkar: awareness}}
    feedback: {{cadence: weekly, scale: [1, 5], questions: ["Was it useful?"]}}
    checklist: [Baseline recorded]
    gate:
      - {{metric: days_in_stage, min: 14}}
    guardrails: {{max_error_rate: 0.2, spike_factor: 2.0, min_events: 20, action: {action}}}
"""


@pytest.fixture
def guarded(tmp_path, monkeypatch):
    (tmp_path / "guarded.yaml").write_text(GUARDED.format(action="rollback"))
    monkeypatch.setenv("LIFTOFF_PLAYBOOK_DIR", str(tmp_path))

    def set_action(action: str) -> None:
        (tmp_path / "guarded.yaml").write_text(GUARDED.format(action=action))

    return set_action


def week(feature, members, errors: int, total: int, days_ago: int) -> None:
    when = utcnow() - timedelta(days=days_ago)
    add_events(feature, members, total - errors, when, "success")
    add_events(feature, members, errors, when, "error")


def test_interval_entirely_above_the_threshold_trips(guarded, session):
    feature, members, _ = live_feature("guarded", people=10, days_in_stage=20)
    week(feature, members, 40, 100, days_ago=1)  # 0.40, interval about [0.31, 0.50] > 0.2
    verdict = check_guardrails(feature)
    assert verdict["tripped"] and verdict["action"] == "rollback"
    assert "entirely above the playbook's limit max_error_rate 0.2" in verdict["reasons"][0]
    assert verdict["this_week"]["error_rate_ci_low"] > 0.2


def test_a_point_above_the_threshold_with_a_wide_interval_does_not_trip(guarded, session):
    feature, members, _ = live_feature("guarded", people=10, days_in_stage=20)
    week(feature, members, 6, 20, days_ago=1)  # 0.30 but the interval reaches down to ~0.15
    verdict = check_guardrails(feature)
    assert verdict["this_week"]["error_rate"] == pytest.approx(0.3)
    assert verdict["this_week"]["error_rate_ci_low"] < 0.2 and not verdict["tripped"]


def test_too_few_events_never_trip(guarded, session):
    feature, members, _ = live_feature("guarded", people=10, days_in_stage=20)
    week(feature, members, 15, 15, days_ago=1)
    verdict = check_guardrails(feature)
    assert not verdict["tripped"] and not verdict["enough_data"]


def test_a_spike_against_the_previous_week_trips(guarded, session):
    feature, members, _ = live_feature("guarded", people=10, days_in_stage=20)
    week(feature, members, 1, 200, days_ago=9)  # previous week: 0.5 %, upper bound ~2.8 %
    week(feature, members, 20, 200, days_ago=2)  # this week: 10 %, below the 0.2 threshold
    verdict = check_guardrails(feature)
    assert verdict["tripped"]
    assert verdict["reasons"] == [verdict["reasons"][0]] and "spiked" in verdict["reasons"][0]
    # The same week after an equally bad previous week is no spike.
    other, people, _ = live_feature("guarded", people=10, days_in_stage=20)
    week(other, people, 18, 200, days_ago=9)
    week(other, people, 20, 200, days_ago=2)
    assert not check_guardrails(other)["tripped"]


@pytest.mark.slow
def test_automatic_rollback_is_audited_announced_and_reaches_the_sdk(
        guarded, app, live_server, client_token, tmp_path, caplog):
    feature, members, _ = live_feature("guarded", people=10, days_in_stage=20)
    healthy, healthy_members, _ = live_feature("guarded", people=10, days_in_stage=20)
    week(feature, members, 40, 100, days_ago=1)
    week(healthy, healthy_members, 2, 100, days_ago=1)
    db.session.commit()
    with sdk(live_server, client_token, tmp_path) as unleash:
        assert wait_for(lambda: enabled(unleash, feature.key, members) == {m.person_id for m in members})
        with caplog.at_level(logging.WARNING, logger="liftoff.announce"):
            stats = run_guardrails()
        db.session.commit()
        assert stats.rows_written == 1
        assert wait_for(lambda: enabled(unleash, feature.key, members) == set())
        assert enabled(unleash, healthy.key, healthy_members) == {m.person_id for m in healthy_members}
    db.session.expire_all()
    assert db.session.get(Feature, feature.id).current_stage == 0
    transition = db.session.scalars(db.select(RolloutTransition).where(
        RolloutTransition.feature_id == feature.id).order_by(RolloutTransition.id.desc())).first()
    assert (transition.action, transition.actor) == ("rollback", "guardrail")
    assert transition.reason.startswith("guardrail: error rate 0.400")
    entry = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "guardrail.rollback")).one()
    assert entry.entity_key == feature.key
    assert json.loads(entry.after)["this_week"]["error_rate"] == pytest.approx(0.4)
    announced = [r.getMessage() for r in caplog.records if r.name == "liftoff.announce"]
    assert len(announced) == 1 and announced[0].startswith(f"[{feature.key}] guardrail rollback")


@pytest.mark.slow
def test_kill_guardrail_switches_the_feature_off_for_everyone(guarded, app, live_server, client_token,
                                                              tmp_path):
    guarded("kill")
    feature, members, _ = live_feature("guarded", people=10, days_in_stage=20)
    week(feature, members, 50, 100, days_ago=1)
    db.session.commit()
    with sdk(live_server, client_token, tmp_path) as unleash:
        assert wait_for(lambda: enabled(unleash, feature.key, members) == {m.person_id for m in members})
        run_guardrails()
        db.session.commit()
        assert wait_for(lambda: enabled(unleash, feature.key, members) == set())
    db.session.expire_all()
    killed = db.session.get(Feature, feature.id)
    assert (killed.killed, killed.current_stage) == (True, 1)
    # Killed features are not judged again, so a second run changes nothing.
    assert run_guardrails().rows_written == 0
