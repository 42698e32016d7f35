"""Guardrails per variant: the variant worse than the control beyond the margin is switched off
(weight 0, the others take its share in proportion), audited and announced, the feature left
live; with nothing else served the stage's action applies. And the model a correction came from
when its event names none: its variant's payload."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import db, utcnow
from app.models import AuditEntry, Event, FeatureVariant
from app.services.review.datasets import export_version, version_rows
from app.services.rollout import transitions as rollout
from app.services.rollout.guardrails import check_guardrails, run_guardrails
from app.services.rollout.variant_guard import redistributed
from app.services.rollout.variants import history
from app.services.rollups import materialise
from tests.enablement_builders import one_stage_playbook
from tests.helpers import gen_cohort, gen_person

PLAYBOOK = one_stage_playbook(
    "variant-guard", "One stage whose guardrail watches each variant.", ["{metric: days_in_stage, min: 1}"],
    "{max_error_rate: 0.9, min_events: 20, action: rollback, variant_max_error_rate_increase: 0.05}")


@pytest.fixture
def playbook(tmp_path, monkeypatch):
    (tmp_path / "variant-guard.yaml").write_text(PLAYBOOK)
    monkeypatch.setenv("LIFTOFF_PLAYBOOK_DIR", str(tmp_path))


def test_the_share_of_a_switched_off_variant_goes_to_the_others_in_proportion():
    # 50 : 20 of the remaining 70 -> 71.43 and 28.57: floors 71 + 28, the one point left to 28.57.
    assert redistributed({"a": 50, "b": 30, "c": 20}, {"b"}) == {"a": 71, "b": 0, "c": 29}
    assert redistributed({"a": 34, "b": 33, "c": 33}, {"a"}) == {"a": 0, "b": 50, "c": 50}
    # 1 : 1 : 1 of 3 -> 33.33 each: one point left, to the earliest.
    assert redistributed({"a": 10, "b": 10, "c": 10, "d": 70}, {"d"}) == {"a": 34, "b": 33, "c": 33, "d": 0}
    assert redistributed({"a": 0, "b": 100}, {"b"}) == {}


def guarded(split: list[tuple[str, int]], errors: dict[str, int], tasks: int = 100):
    """A live feature on the variant-guard playbook, 10 people, its variants ``split`` (the first
    the control), and ``tasks`` AI tasks per variant 2 days ago naming it, ``errors[v]`` of them errors."""
    people = [gen_person() for _ in range(10)]
    cohort = gen_cohort(members=people)
    feature = rollout.create_feature(
        {"key": "guarded", "name": "Guarded", "stages": [{"name": "pilot", "cohorts": [cohort.key],
                                                          "percentage": 0}],
         "variants": [{"name": name, "weight": weight} for name, weight in split]}, "ana")
    feature.playbook_key = "variant-guard"
    rollout.advance("guarded", "ana", effective_at=utcnow() - timedelta(days=20))
    when = utcnow() - timedelta(days=2)
    for name, _ in split:
        for i in range(tasks):
            db.session.add(Event(event_id=f"{name}-{i}", feature_id=feature.id, person_id=people[i % 10].id,
                                 occurred_at=when, task="default", ai_assisted=True, duration_seconds=60.0,
                                 outcome="error" if i < errors.get(name, 0) else "success", variant=name))
    db.session.flush()
    materialise.refresh()
    return feature


def weights() -> dict[str, int]:
    rows = db.session.scalars(select(FeatureVariant).order_by(FeatureVariant.position))
    return {v.name: v.weight for v in rows}


def test_a_variant_worse_than_the_control_is_switched_off_not_the_feature(playbook, session, caplog):
    feature = guarded([("a", 50), ("b", 30), ("c", 20)], {"a": 5, "b": 40, "c": 5})
    # b - a = 0.35, interval far above 0.05; c - a = 0 does not trip.
    verdict = check_guardrails(feature)
    assert [b["variant"] for b in verdict["variants_off"]] == ["b"]
    breach = verdict["variants_off"][0]
    assert (breach["error_rate"], breach["control_error_rate"]) == (0.4, 0.05)
    assert breach["difference"] == pytest.approx(0.35) and breach["ci_low"] > 0.05
    with caplog.at_level(logging.WARNING, logger="liftoff.announce"):
        acted = run_guardrails()
    assert [v["feature"] for v in acted] == ["guarded"]
    assert weights() == {"a": 71, "b": 0, "c": 29}
    assert (feature.current_stage, feature.killed) == (1, False)
    last = history(feature.id)[-1]
    assert (last["action"], last["actor"]) == ("reweight", "guardrail")
    assert last["weights"] == {"a": 71, "b": 0, "c": 29}
    assert last["reason"].startswith("guardrail: variant b: error rate 0.400 (40 of 100) against control a's "
                                     "0.050 (5 of 100)")
    assert "variant_max_error_rate_increase 0.05" in last["reason"]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "guardrail.variant")).one()
    assert json.loads(entry.after)["variants"] == ["b"]
    announced = [r.getMessage() for r in caplog.records if r.name == "liftoff.announce"]
    assert len(announced) == 1 and announced[0].startswith("[guarded] guardrail switched off variant b")
    assert announced[0].endswith("Weights now: a 71 %, b 0 %, c 29 %.")
    # The same day nothing more is judged: the week mixed in b's events.
    assert run_guardrails() == [] and weights() == {"a": 71, "b": 0, "c": 29}


def test_within_the_margin_or_with_too_few_tasks_nothing_trips(playbook, session):
    feature = guarded([("a", 50), ("b", 50)], {"a": 5, "b": 8})
    assert check_guardrails(feature)["variants_off"] == []
    assert run_guardrails() == [] and weights() == {"a": 50, "b": 50}


def test_with_nothing_else_served_the_stages_own_action_applies(playbook, session):
    # The control a is at 0 % (its events name it): b is all that is served.
    feature = guarded([("a", 0), ("b", 100)], {"a": 5, "b": 40})
    verdict = check_guardrails(feature)
    assert verdict["variants_off"] == [] and verdict["tripped"]
    assert verdict["reasons"][-1].startswith("variant b: error rate 0.400")
    run_guardrails()
    assert feature.current_stage == 0 and weights() == {"a": 0, "b": 100}
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "guardrail.rollback")).one()


def test_a_correction_without_a_model_takes_its_variants(client, admin_headers, session):
    people = [gen_person("p1")]
    cohort = gen_cohort(members=people)
    feature = rollout.create_feature(
        {"key": "drafts", "name": "Drafts",
         "stages": [{"name": "all", "cohorts": [cohort.key], "percentage": 0}],
         "variants": [{"name": "gpt", "weight": 50, "payload": {"vendor": "openai", "model": "gpt-x"}},
                      {"name": "claude", "weight": 50, "payload": {"model": "c", "model_version": "c-3.5"}},
                      {"name": "plain", "weight": 0, "payload": {"vendor": "in-house"}}]}, "ana")
    rollout.advance("drafts", "ana", effective_at=utcnow() - timedelta(days=3))
    when = utcnow() - timedelta(days=1)
    for event_id, variant, model in [("e1", "gpt", None), ("e2", "claude", None), ("e3", "gpt", "gpt-y"),
                                     ("e4", "plain", None)]:
        db.session.add(Event(event_id=event_id, feature_id=feature.id, person_id=people[0].id,
                             occurred_at=when, task="default", ai_assisted=True, outcome="corrected",
                             output="draft", correction="fixed", variant=variant, model_version=model))
    session.commit()
    answer = client.get("/api/v1/features/drafts/corrections?format=jsonl", headers=admin_headers)
    got = {row["event_id"]: (row["variant"], row["model_version"])
           for row in map(json.loads, answer.get_data(as_text=True).splitlines())}
    # The payload's model_version before its model; the event's own always wins.
    assert got == {"e1": ("gpt", "gpt-x"), "e2": ("claude", "c-3.5"), "e3": ("gpt", "gpt-y"),
                   "e4": ("plain", None)}
    rows = version_rows(export_version("drafts-fixes", "ana", "drafts"))
    assert {r["event_id"]: r["model_version"] for r in rows} == {"e1": "gpt-x", "e2": "c-3.5", "e3": "gpt-y",
                                                                 "e4": None}
