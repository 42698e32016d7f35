"""The correction-rate guardrail: is the current stage's output corrected, or judged wrong by
reviewers, more often than at the previous stage, beyond the uncertainty of both?

Two rates per stage (and per variant once events carry one), each with its 95 % Wilson interval:
- corrected rate = AI events with outcome ``corrected`` / AI events not ``abandoned``, over the
  time the feature stood at the stage (its latest stretch there);
- reviewed-wrong rate = first-round review labels ``wrong`` / labels that could be assessed, over
  the samples drawn for the stage.
A rate breaks the guardrail when its lower bound is above the previous stage's upper bound
(app.kpi.review.rate_worse). A playbook turns it on with ``guardrails.correction_rate``: ``alert``
announces, ``rollback`` rolls back like the other guardrails.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import and_, func, select

from app.db import db
from app.kpi.review import outcome_rate, rate_worse
from app.models import Event, Feature, ReviewItem, ReviewLabel, ReviewSample
from app.services.review.stages import stage_periods, transitions_of, variant_filter


def _latest_period(periods, stage: int, now: datetime) -> tuple[datetime, datetime] | None:
    spans = [(start, end or now) for s, start, end in periods if s == stage]
    return spans[-1] if spans else None


Span = tuple[datetime, datetime]


def corrected_rate(feature: Feature, span: Span | None, variant: str | None = None) -> dict:
    """The corrected rate of the AI events in ``span`` (None: no such stretch, an empty rate)."""
    if span is None:
        return outcome_rate(0, 0, "corrected_rate")
    conditions = [Event.feature_id == feature.id, Event.ai_assisted.is_(True), Event.voided_at.is_(None),
                  Event.outcome != "abandoned", Event.occurred_at >= span[0], Event.occurred_at < span[1]]
    by_variant = variant_filter(variant)
    if by_variant is not None:
        conditions.append(by_variant)
    corrected = func.count(Event.id).filter(Event.outcome == "corrected")
    total, hits = db.session.execute(select(func.count(Event.id), corrected).where(*conditions)).one()
    return outcome_rate(hits, total, "corrected_rate")


def reviewed_wrong_rate(feature: Feature, stage: int, variant: str | None = None) -> dict:
    """The share of first-round review labels ``wrong`` among the assessed items of the stage."""
    sample = and_(ReviewSample.feature_id == feature.id, ReviewSample.stage_position == stage,
                  *([ReviewSample.variant == variant] if variant is not None else []))
    counts = Counter(db.session.scalars(
        select(ReviewLabel.label).join(ReviewItem, ReviewItem.id == ReviewLabel.item_id)
        .join(ReviewSample, ReviewSample.id == ReviewItem.sample_id)
        .where(sample, ReviewLabel.round == 1, ReviewLabel.label != "not_assessable")))
    return outcome_rate(counts["wrong"], sum(counts.values()), "reviewed_wrong_rate")


def _figure(rates: dict, name: str) -> str:
    return (f"{rates[name]:.3f} ([{rates[f'{name}_ci_low']:.3f}, {rates[f'{name}_ci_high']:.3f}], "
            f"n = {rates[f'{name}_n']})")


def check_correction_rates(feature: Feature, now: datetime, min_events: int,
                           variant: str | None = None) -> dict:
    """Both rates at the current stage against the previous one, and why they break, if they do.

    :param min_events: a stage with fewer AI outcomes (or assessed labels) than this is not judged.
    :returns: ``{"current": {...}, "previous": {...}, "reasons": [...]}``.
    """
    stage = feature.current_stage
    periods = stage_periods(transitions_of(feature))
    current = {**corrected_rate(feature, _latest_period(periods, stage, now), variant),
               **reviewed_wrong_rate(feature, stage, variant)}
    previous = {**corrected_rate(feature, _latest_period(periods, stage - 1, now), variant),
                **reviewed_wrong_rate(feature, stage - 1, variant)}
    reasons = []
    for name, words in (("corrected_rate", "corrected rate"), ("reviewed_wrong_rate", "reviewed-wrong rate")):
        if current[f"{name}_n"] < min_events or previous[f"{name}_n"] < min_events:
            continue
        if rate_worse(current, previous, name):
            reasons.append(f"{words} {_figure(current, name)} at stage {stage} is worse than "
                           f"{_figure(previous, name)} at stage {stage - 1} beyond both 95 % intervals"
                           + (f" for variant {variant}" if variant else ""))
    return {"stage": stage, "variant": variant, "current": current, "previous": previous, "reasons": reasons}
