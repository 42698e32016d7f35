"""Baselines and cost entries: validated, added to the session, never committed. (Feedback has its
own rule set: app/services/ingest/feedback.py.)"""

from __future__ import annotations

import math

from sqlalchemy import select

from app import plausible
from app.db import db, utcnow
from app.errors import Collector, NotFound, ValidationFailed
from app.models import COST_CATEGORIES, Baseline, CostEntry, Feature
from app.months import is_month
from app.services.ingest.events import parse_timestamp
from app.services.ingest.feedback import record_feedback  # noqa: F401  (where callers found it)


def _number(spec: dict, field: str, problems: Collector, index: int | None = None, *,
            low: float | None = None, high: float | None = None) -> float | None:
    value = spec.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.add(field, "must be a number", index)
        return None
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"between {low} and {plausible.figure(high)}"
        problems.add(field, f"must be {bounds}", index)
        return None
    return float(value)


def _feature_by_key(key) -> Feature | None:
    if not isinstance(key, str):
        return None
    return db.session.scalar(select(Feature).where(Feature.key == key))


def record_baseline(spec: dict) -> Baseline:
    """Record an explicit baseline (``POST /api/v1/baselines``); the latest ``measured_at`` wins.

    :param spec: feature, task (default ``"default"``), minutes_per_task and/or error_rate
        (0-1), source, measured_at (ISO 8601 with offset).
    """
    if not isinstance(spec, dict):
        raise ValidationFailed("the body must be a JSON object")
    problems = Collector()
    feature = _feature_by_key(spec.get("feature"))
    if spec.get("feature") is None:
        problems.add("feature", "is required")
    elif feature is None:
        problems.add("feature", f"unknown feature {spec.get('feature')!r}")
    task = spec.get("task", "default")
    if not isinstance(task, str) or not task.strip() or len(task) > 120:
        problems.add("task", "must be a non-empty string of at most 120 characters")
    minutes = _number(spec, "minutes_per_task", problems, low=0, high=plausible.MAX_MINUTES)
    error_rate = _number(spec, "error_rate", problems, low=0, high=1)
    if spec.get("minutes_per_task") is None and spec.get("error_rate") is None:
        problems.add("minutes_per_task", "give minutes_per_task, error_rate or both")
    source = spec.get("source")
    if not isinstance(source, str) or not source.strip() or len(source) > 200:
        problems.add("source", "is required: a non-empty string of at most 200 characters")
    measured_at = None
    if spec.get("measured_at") is None:
        problems.add("measured_at", "is required")
    else:
        # A future measurement would win "the latest measured_at" until that date: refused too.
        measured_at = parse_timestamp(spec["measured_at"], "measured_at", None, problems,
                                      past_only=True)
    problems.raise_if_any("invalid baseline")
    baseline = Baseline(
        feature_id=feature.id, task=task.strip(), minutes_per_task=minutes, error_rate=error_rate,
        source=source.strip(), measured_at=measured_at, recorded_at=utcnow(),
    )
    db.session.add(baseline)
    db.session.flush()
    return baseline


def record_cost(feature_key: str, spec: dict) -> CostEntry:
    """Record a monthly cost of a feature (``POST /api/v1/features/{key}/costs``).

    :param feature_key: the feature's key (404 when unknown).
    :param spec: month ``YYYY-MM``, amount_eur >= 0, category (licences, compute, tokens,
        implementation, training, other), note (optional).
    """
    feature = _feature_by_key(feature_key)
    if feature is None:
        raise NotFound(f"no feature {feature_key!r}")
    if not isinstance(spec, dict):
        raise ValidationFailed("the body must be a JSON object")
    problems = Collector()
    month = spec.get("month")
    if not is_month(month):
        problems.add("month", "is required as YYYY-MM")
    if spec.get("amount_eur") is None:
        problems.add("amount_eur", "is required")
    amount = _number(spec, "amount_eur", problems, low=0, high=plausible.MAX_AMOUNT_EUR)
    category = spec.get("category")
    if category not in COST_CATEGORIES:
        problems.add("category", f"must be one of {', '.join(COST_CATEGORIES)}")
    note = plausible.optional_text(spec, "note", problems, 10_000)
    problems.raise_if_any("invalid cost entry")
    entry = CostEntry(feature_id=feature.id, month=month, amount_eur=amount, category=category,
                      note=note, recorded_at=utcnow())
    db.session.add(entry)
    db.session.flush()
    return entry
