"""The correction-rate guardrail: corrected and reviewed-wrong rates at the current stage against
the previous stage, on their intervals; it alerts or rolls back as the playbook says."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import db, utcnow
from app.models import AuditEntry, Event
from app.services.review import labels, sampling
from app.services.rollout import guardrails
from app.services.rollout import transitions as rollout
from app.services.rollout.correction_guard import check_correction_rates
from tests.helpers import gen_person

PLAYBOOK = """\
key: corrections-watch
name: Corrections watch
description: Stage 2 is watched for more corrections than stage 1.
stages:
  - name: Pilot
    adkar: [awareness, desire, knowledge]
    trainings:
      - {title: Intro, audience: stage, format: webinar, duration_minutes: 30, adkar: knowledge}
    communications:
      - {channel: email, audience: pilots, timing: day 1, message: Welcome, adkar: awareness}
    feedback: {cadence: weekly, scale: [1, 5], questions: ["Was it useful?"]}
    checklist: [Baseline recorded]
    gate: [{metric: days_in_stage, min: 1}]
    guardrails: {action: rollback}
  - name: Ramp
    adkar: [ability, reinforcement]
    trainings:
      - {title: Tips, audience: stage, format: webinar, duration_minutes: 30, adkar: ability}
    communications:
      - {channel: email, audience: everyone, timing: day 1, message: Tips, adkar: ability}
    feedback: {cadence: weekly, scale: [1, 5], questions: ["Was it useful?"]}
    checklist: [Reviewed]
    gate: [{metric: days_in_stage, min: 1}]
    guardrails: {action: rollback, min_events: 20, correction_rate: MODE}
"""
_ids = itertools.count(1)


def _events(feature, people, days_ago: int, total: int, corrected: int) -> None:
    for i in range(total):
        db.session.add(Event(event_id=f"g{next(_ids)}", feature_id=feature.id, person_id=people[i % 10].id,
                             occurred_at=utcnow() - timedelta(days=days_ago, minutes=i), ai_assisted=True,
                             outcome="corrected" if i < corrected else "success", output=f"answer {i}",
                             correction="fixed" if i < corrected else None))
    db.session.flush()


@pytest.fixture
def watched(session, tmp_path, monkeypatch, request):
    mode = getattr(request, "param", "alert")
    (tmp_path / "corrections-watch.yaml").write_text(PLAYBOOK.replace("MODE", mode))
    monkeypatch.setenv("LIFTOFF_PLAYBOOK_DIR", str(tmp_path))
    people = [gen_person() for _ in range(10)]
    feature = rollout.create_feature({"key": "w", "name": "W", "stages": [
        {"name": "Pilot", "cohorts": [], "percentage": 100},
        {"name": "Ramp", "cohorts": [], "percentage": 100}]}, "test")
    feature.playbook_key = "corrections-watch"
    rollout.advance("w", "test", effective_at=utcnow() - timedelta(days=30))
    # Stage 1: 5 of 100 corrected (Wilson 95 %: [0.0215, 0.1118]).
    _events(feature, people, 20, 100, 5)
    rollout.advance("w", "test", effective_at=utcnow() - timedelta(days=10))
    db.session.refresh(feature)
    return feature, people


def test_more_corrections_than_the_previous_stage_beyond_the_intervals_alerts(watched):
    feature, people = watched
    # Stage 2: 30 of 100 corrected (Wilson 95 %: [0.2189, 0.3958]): its low bound is above 0.1118.
    _events(feature, people, 2, 100, 30)
    verdict = check_correction_rates(feature, utcnow(), min_events=20)
    assert verdict["current"]["corrected_rate"] == pytest.approx(0.30)
    assert verdict["previous"]["corrected_rate"] == pytest.approx(0.05)
    assert verdict["current"]["corrected_rate_ci_low"] == pytest.approx(0.2189, abs=1e-4)
    assert verdict["previous"]["corrected_rate_ci_high"] == pytest.approx(0.1118, abs=1e-4)
    assert len(verdict["reasons"]) == 1 and "corrected rate 0.300" in verdict["reasons"][0]
    acted = guardrails.run_guardrails()
    assert [v["feature"] for v in acted] == ["w"]
    db.session.refresh(feature)
    assert feature.current_stage == 2  # an alert changes nothing
    assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.entity_key == "w")
                             .order_by(AuditEntry.id.desc()).limit(1)) == "guardrail.alert"


def test_a_difference_within_the_intervals_does_not_alert(watched):
    feature, people = watched
    _events(feature, people, 2, 100, 9)  # 9 %: [0.048, 0.162] overlaps stage 1's interval
    assert check_correction_rates(feature, utcnow(), min_events=20)["reasons"] == []
    assert guardrails.run_guardrails() == []


def test_reviewers_finding_more_wrong_answers_counts_too(watched):
    feature, people = watched
    _events(feature, people, 2, 100, 5)  # the same corrected rate as stage 1
    first = sampling.draw_sample("w", "cm", stage=1, size=20, second_share=0, seed=1)
    for item in labels.queue(first.id, "ana"):
        labels.label_item(item.id, "ana", "correct")  # 0 / 20 wrong: [0, 0.161]
    second = sampling.draw_sample("w", "cm", stage=2, size=20, second_share=0, seed=1)
    for n, item in enumerate(labels.queue(second.id, "ana")):
        labels.label_item(item.id, "ana", "wrong" if n < 12 else "correct", "facts" if n < 12 else None)
    verdict = check_correction_rates(feature, utcnow(), min_events=20)  # 12 / 20: [0.387, 0.781]
    assert [r.split(" ")[0] for r in verdict["reasons"]] == ["reviewed-wrong"]
    assert verdict["current"]["reviewed_wrong_rate"] == pytest.approx(0.6)


@pytest.mark.parametrize("watched", ["rollback"], indirect=True)
def test_in_rollback_mode_the_feature_goes_back_a_stage(watched):
    feature, people = watched
    _events(feature, people, 2, 100, 30)
    acted = guardrails.run_guardrails()
    assert acted and acted[0]["tripped"]
    db.session.refresh(feature)
    assert feature.current_stage == 1
