"""Builders for enablement, gate and guardrail tests: a feature already live at a stage, as the
rollout service leaves it (transition + exposure spells), and events or feedback for it."""

from __future__ import annotations

import contextlib
import itertools
from datetime import datetime, timedelta

from app.db import db, utcnow
from app.models import Baseline, Event, Feedback
from app.services.rollout import transitions as rollout
from app.services.rollups import materialise as rollups
from tests.helpers import gen_cohort, gen_person
from tests.sdk_support import sdk as shared_sdk
from tests.sdk_support import wait_for  # noqa: F401  (re-exported for the gate tests)

_ids = itertools.count(1)


def live_feature(playbook: str | None = "pilot-feedback-loop", people: int = 12, days_in_stage: int = 30,
                 stage_percentages: tuple[int, ...] = (0, 50, 100), auto_promote: bool = False):
    """A feature created and started by the rollout service: stage 1 is a pilot cohort of
    ``people``, entered ``days_in_stage`` days ago; later stages ramp by percentage."""
    members = [gen_person() for _ in range(people)]
    cohort = gen_cohort(members=members)
    n = next(_ids)
    stages = [{"name": f"Stage {i}", "cohorts": [cohort.key] if i == 1 else [], "percentage": pct}
              for i, pct in enumerate(stage_percentages, start=1)]
    feature = rollout.create_feature({"key": f"feature-{n}", "name": f"Feature {n}", "stages": stages},
                                     "test")
    feature.playbook_key = playbook
    feature.auto_promote = auto_promote
    rollout.advance(feature.key, "test", effective_at=utcnow() - timedelta(days=days_in_stage))
    db.session.refresh(feature)
    return feature, members, cohort


def ready_pilot(auto_promote: bool = False, trained: bool = True):
    """A pilot whose stage-1 gate of ``pilot-feedback-loop`` passes (>= 7 days, >= 10 exposed,
    >= 80 % trained, mean feedback >= 3, no open critical feedback): 10 pilots, 10 days in,
    9 trained (5 when not ``trained``, which fails training_completion), three 4-star ratings."""
    feature, members, _ = live_feature("pilot-feedback-loop", people=10, days_in_stage=10,
                                       auto_promote=auto_promote, stage_percentages=(0, 100))
    from app.services.enablement.activities import record_training

    record_training(feature.key, {"stage": 1, "title": "Pilot kick-off", "trainer": "Ana",
                                  "held_on": (utcnow() - timedelta(days=9)).date().isoformat(),
                                  "attendees": [m.person_id for m in members[: 9 if trained else 5]]}, "cm")
    for person in members[:3]:
        add_feedback(feature, person, 4)
    db.session.add(Baseline(feature_id=feature.id, task="default", error_rate=0.1, source="audit",
                            measured_at=utcnow() - timedelta(days=40)))
    add_events(feature, members, 30, utcnow() - timedelta(days=2))
    return feature, members


def add_events(feature, people, count: int, when: datetime, outcome: str = "success",
               ai: bool = True, duration: float | None = 120.0, task: str = "default") -> None:
    """``count`` events spread round-robin over ``people`` at ``when``, then the KPI refresh."""
    for i in range(count):
        db.session.add(Event(event_id=f"e{next(_ids)}", feature_id=feature.id,
                             person_id=people[i % len(people)].id, occurred_at=when, task=task,
                             ai_assisted=ai, duration_seconds=duration, outcome=outcome))
    db.session.flush()
    rollups.refresh()  # as the scheduled refresh-kpis job would: gates read its last run


def add_feedback(feature, person, rating: int, when: datetime | None = None, **kw) -> Feedback:
    item = Feedback(feature_id=feature.id, person_id=person.id, rating=rating,
                    occurred_at=when or utcnow() - timedelta(days=1), **kw)
    db.session.add(item)
    db.session.flush()
    return item


@contextlib.contextmanager
def sdk(live_server, token: str, tmp_path):
    """The real SDK polling the live app every second; metrics off (these tests judge flags)."""
    with shared_sdk(live_server, token, tmp_path, disable_metrics=True, metrics_interval=60) as client:
        yield client


def enabled(client, feature_key: str, people) -> set[str]:
    """The person ids the SDK enables the feature for."""
    return {p.person_id for p in people if client.is_enabled(feature_key, {"userId": p.person_id})}


def one_stage_playbook(key: str, description: str, gate: list[str], guardrails: str,
                       stage: str = "Only stage") -> str:
    """A playbook file of one stage, with everything a stage needs and the given ``gate`` criteria
    (each a YAML flow mapping, e.g. ``{metric: days_in_stage, min: 1}``) and ``guardrails`` (one)."""
    criteria = "\n".join(f"      - {criterion}" for criterion in gate)
    return f"""\
key: {key}
name: {key.replace("-", " ").capitalize()}
description: {description}
stages:
  - name: {stage}
    adkar: [awareness, desire, knowledge, ability, reinforcement]
    trainings:
      - {{title: Intro, audience: stage, format: webinar, duration_minutes: 30, adkar: knowledge}}
    communications:
      - {{channel: email, audience: pilots, timing: day 1, message: Welcome, adkar: awareness}}
    feedback: {{cadence: weekly, scale: [1, 5], questions: ["Was it useful?"]}}
    checklist: [Baseline recorded]
    gate:
{criteria}
    guardrails: {guardrails}
"""
