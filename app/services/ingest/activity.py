"""Baselines, cost entries and feedback: validated, added to the session, never committed."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import insert, select

from app.db import db, utcnow
from app.errors import Collector, NotFound, ValidationFailed
from app.models import Baseline, CostEntry, Feature, Feedback, Person
from app.schemas.activity import BaselineIn, CostIn, FeedbackIn
from app.schemas.common import parse, refuse, validate, validate_rows


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
    spec = baseline_in
    baseline = Baseline(
        feature_id=feature.id, task=spec.task, minutes_per_task=spec.minutes_per_task,
        error_rate=spec.error_rate, source=spec.source, measured_at=spec.measured_at,
        recorded_at=utcnow(),
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


def record_feedback(rows: list[dict]) -> list[Feedback]:
    """Store a batch of feedback (``POST /api/v1/feedback``): all rows or none.

    :param rows: dicts with feature, person_id, rating 1-5, comment?, category?, occurred_at.
    """
    if not isinstance(rows, list):
        raise ValidationFailed("the body must be a JSON array of feedback")
    problems = Collector()
    parsed = validate_rows(FeedbackIn, rows, problems, row_field="row")
    features = {f.key: f.id for f in db.session.scalars(select(Feature))}
    wanted = sorted({row.person_id for _, row in parsed})
    people = dict(db.session.execute(
        select(Person.person_id, Person.id).where(Person.person_id.in_(wanted))
    ).all()) if wanted else {}
    auto_create = current_app.config.get("AUTO_CREATE_PEOPLE")
    clean: list[dict] = []
    for i, row in parsed:
        before = len(problems.details)
        if row.feature not in features:
            problems.add("feature", f"unknown or missing feature {row.feature!r}", i)
        if row.person_id not in people and not auto_create:
            problems.add("person_id", f"unknown person {row.person_id!r}", i)
        if len(problems.details) == before:
            clean.append(row.model_dump())
    refuse(problems, "invalid feedback; nothing was stored")
    missing = sorted({r["person_id"] for r in clean} - people.keys())
    if missing:  # only reached with AUTO_CREATE_PEOPLE
        db.session.execute(insert(Person), [{"person_id": p, "created_at": utcnow()} for p in missing])
        people.update(db.session.execute(
            select(Person.person_id, Person.id).where(Person.person_id.in_(missing))).all())
    stored = [
        Feedback(feature_id=features[r["feature"]], person_id=people[r["person_id"]],
                 rating=r["rating"], comment=r["comment"], category=r["category"],
                 occurred_at=r["occurred_at"], recorded_at=utcnow())
        for r in clean
    ]
    db.session.add_all(stored)
    db.session.flush()
    return stored
