"""Feedback: the one rule set for a feedback item, whichever way it arrives: the API's JSON batch
(``POST /api/v1/feedback``), ``liftoff import feedback`` (CSV text) and the dashboard's form.

What differs by source is only what the medium can carry: CSV and form values are text, so a
rating may come as ``"4"``; the form offers a menu of categories (``CATEGORIES``) where the API and
a file may name any category up to 40 characters (API_CONTRACT.md). Everything else (required
fields, the rating range, lengths, severities, the timestamp's offset and range, known features and
people) is checked here once. Validated, added to the session, never committed.
"""

from __future__ import annotations

from typing import Literal

from flask import current_app
from sqlalchemy import insert, select

from app.db import db, utcnow
from app.errors import Collector, ValidationFailed
from app.models import Feature, Feedback, Person
from app.schemas.activity import (  # noqa: F401 (the form's)
    CATEGORIES,
    MAX_CATEGORY,
    MAX_COMMENT,
    SEVERITIES,
    FeedbackCsvRow,
    FeedbackForm,
    FeedbackIn,
)
from app.schemas.common import validate

Source = Literal["api", "csv", "form"]
# What each medium can carry: JSON values (the API), text cells with a severity (a file), the
# same with the form's category menu (the dashboard).
MODELS: dict[str, type[FeedbackIn]] = {"api": FeedbackIn, "csv": FeedbackCsvRow, "form": FeedbackForm}
REFUSED = "invalid feedback; nothing was stored"


def check_fields(row: dict, index: int | None, problems: Collector, source: Source) -> dict | None:
    """The item's own fields (everything but whether its feature and person exist), as stored:
    ``feature``, ``person_id``, ``rating``, ``comment``, ``category``, ``severity``,
    ``occurred_at`` (aware UTC). None, with the problems added, when any is bad."""
    item = validate(MODELS[source], row, problems, index=index, row_field="row")
    if item is None:
        return None
    return {"feature": item.feature, "person_id": item.person_id, "rating": item.rating,
            "comment": item.comment, "category": item.category,
            "severity": getattr(item, "severity", "normal"), "occurred_at": item.occurred_at}


def _named(row, key: str) -> str | None:
    value = row.get(key) if isinstance(row, dict) else None
    return (value.strip() or None) if isinstance(value, str) else None


def record_feedback(rows: list[dict], *, source: Source = "api", first_row: int = 0) -> list[Feedback]:
    """Store a batch of feedback: all rows or none, every bad row named.

    :param rows: dicts with feature, person_id, rating 1-5, comment?, category?, severity?
        (normal|critical), occurred_at (ISO 8601 with an offset).
    :param source: ``api`` (JSON values), ``csv`` or ``form`` (text values; the form's menu).
    :param first_row: the number the first row is reported as (a file counts from 1).
    """
    if not isinstance(rows, list):
        raise ValidationFailed("the body must be a JSON array of feedback")
    problems = Collector()
    features = {f.key: f.id for f in db.session.scalars(select(Feature))}
    # Any JSON may stand where a string belongs (a list is not even hashable): strings only.
    wanted = {p for r in rows if (p := _named(r, "person_id"))}
    people = dict(db.session.execute(
        select(Person.person_id, Person.id).where(Person.person_id.in_(sorted(wanted)))
    ).all()) if wanted else {}
    auto_create = current_app.config.get("AUTO_CREATE_PEOPLE")
    clean: list[dict] = []
    for i, row in enumerate(rows, start=first_row):
        if not isinstance(row, dict):
            problems.add("row", "must be a JSON object", i)
            continue
        before = len(problems.details)
        fields = check_fields(row, i, problems, source)
        named = {d.field for d in problems.details[before:]}
        # A row with bad fields still has its feature and person looked up, so every problem of
        # the row is named at once.
        feature = fields["feature"] if fields else _named(row, "feature")
        person = fields["person_id"] if fields else _named(row, "person_id")
        if feature is not None and "feature" not in named and feature not in features:
            problems.add("feature", f"unknown or missing feature {feature!r}", i)
        if person is not None and "person_id" not in named and person not in people and not auto_create:
            problems.add("person_id", f"unknown person {person!r}", i)
        if fields is not None and len(problems.details) == before:
            clean.append({**fields, "feature_id": features[fields["feature"]]})
    problems.raise_if_any(REFUSED)
    missing = sorted({r["person_id"] for r in clean} - people.keys())
    if missing:  # only reached with AUTO_CREATE_PEOPLE
        db.session.execute(insert(Person), [{"person_id": p, "created_at": utcnow()} for p in missing])
        people.update(db.session.execute(
            select(Person.person_id, Person.id).where(Person.person_id.in_(missing))).all())
    stored = [
        Feedback(feature_id=r["feature_id"], person_id=people[r["person_id"]], rating=r["rating"],
                 comment=r["comment"], category=r["category"], severity=r["severity"],
                 occurred_at=r["occurred_at"], recorded_at=utcnow())
        for r in clean
    ]
    db.session.add_all(stored)
    db.session.flush()
    return stored
