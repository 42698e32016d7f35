"""`liftoff seed` as `make demo` runs it: the history moved to end yesterday, and the story told on
top of it through the services (docs/demo-company.md). Expected values are worked out here from the
story's own words, not read back from app/services/demo_story.py."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.db import db
from app.models import (
    ActionItem,
    Event,
    Feature,
    FeatureVariant,
    Feedback,
    GateEvaluation,
    TrainingSession,
    VariantWeightChange,
)
from app.models.kpi import MonthlyClose
from app.services.kpi_reads import variant_figures

pytestmark = pytest.mark.slow
LAST_EVENT_DAY = date(2026, 10, 30)  # the last (working) day of seed_data/generate.py's history


def _month_before(month: tuple[int, int]) -> tuple[int, int]:
    year, number = month
    return (year, number - 1) if number > 1 else (year - 1, 12)


def test_the_demo_ends_yesterday_and_tells_the_story(runner):
    result = runner.invoke(args=["liftoff", "seed"])
    assert result.exit_code == 0, result.output + result.stderr
    today = datetime.now(UTC).date()
    shift = timedelta(days=max(0, (today - timedelta(days=1) - LAST_EVENT_DAY).days))
    last_day = LAST_EVENT_DAY + shift
    assert last_day == today - timedelta(days=1) or shift.days == 0  # no source reads as late

    # The history, moved: the first quote-assistant champions start on 1 June 09:00 (+ the shift).
    quote = db.session.scalar(select(Feature).where(Feature.key == "quote-assistant"))
    assert quote.transitions[0].effective_at == datetime(2026, 6, 1, 9, tzinfo=UTC) + shift
    seeded = select(func.max(Event.occurred_at)).where(Event.feature_id == quote.id)
    assert db.session.scalar(seeded).date() == last_day

    features = {f.key: f for f in db.session.scalars(select(Feature))}
    rolling, held = features["campaign-brief-assistant"], features["contract-summary-assistant"]
    assert (rolling.current_stage, rolling.killed, rolling.playbook_key) == (2, False, "pilot-feedback-loop")
    assert (held.current_stage, held.killed, held.playbook_key) == (1, False, "pilot-feedback-loop")

    sessions = db.session.scalars(select(TrainingSession).where(TrainingSession.feature_id == rolling.id)
                                  .order_by(TrainingSession.stage_position)).all()
    assert [(s.stage_position, len(s.attendance), sum(a.completed for a in s.attendance))
            for s in sessions] == [(1, 12, 11), (2, 12, 9)]
    open_items = select(func.count()).select_from(ActionItem).where(
        ActionItem.feature_id == rolling.id, ActionItem.status == "open")
    assert db.session.scalar(open_items) == 3
    pulses = {key: db.session.scalar(select(func.count()).select_from(Feedback)
                                     .where(Feedback.feature_id == f.id))
              for key, f in (("rolling", rolling), ("held", held))}
    assert pulses == {"rolling": 8 + 9 + 8 + 10 + 9, "held": 6 + 7 + 1}

    # Held: 4 of 10 pilots trained (40 % < 80 %) and one critical item open.
    gate = db.session.scalar(select(GateEvaluation).where(GateEvaluation.feature_id == held.id)
                             .order_by(GateEvaluation.id.desc()))
    assert gate is not None and gate.passed is False and gate.stage_position == 1
    failing = {c["metric"] for c in json.loads(gate.result)["criteria"] if not c["passed"]}
    assert {"training_completion", "open_critical_feedback"} <= failing

    # Closed: the two complete months before the last complete one (left for an admin to close).
    last_complete = _month_before((last_day.year, last_day.month)) if last_day.month == (
        last_day + timedelta(days=1)).month else (last_day.year, last_day.month)
    one, two = _month_before(last_complete), _month_before(_month_before(last_complete))
    closed = sorted(db.session.scalars(select(MonthlyClose.month)))
    assert closed == [f"{two[0]:04d}-{two[1]:02d}", f"{one[0]:04d}-{one[1]:02d}"]

    _the_variant_experiment(last_day)

    again = runner.invoke(args=["liftoff", "seed"])
    assert again.exit_code == 0, again.output + again.stderr
    assert "nothing changed" in again.stdout and "story" not in again.stdout


def _the_variant_experiment(last_day: date) -> None:
    """Engineering's code-review assistant: a large and a small model, 50/50 from D-56, 30/70 from
    D-21 (09:00 UTC); the small one costs a quarter (0.02 against 0.08 EUR a review), errs about as
    often (5.5 % against 6 %), so it meets the rule (error rate at most 3 points worse, cheaper)."""
    feature = db.session.scalar(select(Feature).where(Feature.key == "code-review-assistant"))
    assert feature is not None and feature.current_stage == 1
    variants = db.session.scalars(select(FeatureVariant).where(FeatureVariant.feature_id == feature.id)
                                  .order_by(FeatureVariant.position)).all()
    assert [(v.name, v.weight, v.cost_per_task_eur) for v in variants] == [
        ("large-model", 30, 0.08), ("small-model", 70, 0.02)]
    change = VariantWeightChange
    changes = db.session.scalars(select(change).where(change.feature_id == feature.id)
                                 .order_by(change.effective_at)).all()
    nine = datetime.min.time().replace(hour=9)
    assert [(c.action, json.loads(c.weights), c.effective_at.replace(tzinfo=None)) for c in changes] == [
        ("create", {"large-model": 50, "small-model": 50},
         datetime.combine(last_day - timedelta(days=56), nine)),
        ("reweight", {"large-model": 30, "small-model": 70},
         datetime.combine(last_day - timedelta(days=21), nine))]
    ai = select(func.count()).select_from(Event).where(Event.feature_id == feature.id, Event.ai_assisted)
    total, named, costed = (db.session.scalar(ai), db.session.scalar(ai.where(Event.variant.is_not(None))),
                            db.session.scalar(ai.where(Event.cost_eur.is_not(None))))
    # One AI event in three names its variant, one in ten carries its cost (seeded: roughly so).
    assert 0.25 < named / total < 0.42 and 0.05 < costed / total < 0.15
    comparison = variant_figures.comparison("code-review-assistant", last_day - timedelta(days=27), last_day,
                                            None)
    figures = {v["variant"]: v for v in comparison["variants"]}
    assert figures["large-model"]["error_rate"] == pytest.approx(0.06, abs=0.01)
    assert figures["small-model"]["error_rate"] == pytest.approx(0.055, abs=0.01)
    assert figures["large-model"]["cost_per_task_eur"] == pytest.approx(0.08, rel=0.1)
    assert figures["small-model"]["cost_per_task_eur"] == pytest.approx(0.02, rel=0.1)
    assert comparison["decision"]["winner"] == "small-model"
