"""Baselines and cost entries: validated, added to the session, never committed. (Feedback has its
own rule set: app/services/ingest/feedback.py.)"""

from __future__ import annotations

from sqlalchemy import select

from app.db import db, utcnow
from app.errors import Collector, NotFound
from app.models import Baseline, CostEntry, Feature
from app.schemas.activity import BaselineIn, CostIn
from app.schemas.common import parse, refuse, validate
from app.services.ingest.feedback import record_feedback  # noqa: F401  (where callers found it)


def _feature_by_key(key) -> Feature | None:
    if not isinstance(key, str):
        return None
    return db.session.scalar(select(Feature).where(Feature.key == key))


def record_baseline(spec: dict) -> Baseline:
    """Record an explicit baseline (``POST /api/v1/baselines``); the latest ``measured_at`` wins.

    :param spec: feature, task (default ``"default"``), minutes_per_task and/or error_rate
        (0-1), source, measured_at (ISO 8601 with offset).
    """
    problems = Collector()
    baseline_in = validate(BaselineIn, spec, problems)
    name = baseline_in.feature if baseline_in else (spec.get("feature") if isinstance(spec, dict) else None)
    feature = _feature_by_key(name)
    if isinstance(name, str) and name.strip() and feature is None:
        problems.add("feature", f"unknown feature {name!r}")
    if baseline_in and baseline_in.minutes_per_task is None and baseline_in.error_rate is None:
        problems.add("minutes_per_task", "give minutes_per_task, error_rate or both")
    refuse(problems, "invalid baseline")
    # Past refuse both are known: a bad body or an unknown feature left a problem.
    assert baseline_in is not None and feature is not None
    baseline = Baseline(
        feature_id=feature.id, task=baseline_in.task, minutes_per_task=baseline_in.minutes_per_task,
        error_rate=baseline_in.error_rate, source=baseline_in.source,
        measured_at=baseline_in.measured_at, recorded_at=utcnow(),
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
    cost = parse(CostIn, spec, "invalid cost entry")
    entry = CostEntry(feature_id=feature.id, month=cost.month, amount_eur=cost.amount_eur,
                      category=cost.category, note=cost.note, recorded_at=utcnow())
    db.session.add(entry)
    db.session.flush()
    return entry
