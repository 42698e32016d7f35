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

from app import plausible
from app.db import db, utcnow
from app.errors import Collector, ValidationFailed
from app.models import Feature, Feedback, Person
from app.services.ingest.events import parse_timestamp

Source = Literal["api", "csv", "form"]
# The dashboard form's menu; a file or the API may use other categories.
CATEGORIES = ("usability", "quality", "correction", "training", "other")
SEVERITIES = ("normal", "critical")
MAX_COMMENT, MAX_CATEGORY = 10_000, 40
REFUSED = "invalid feedback; nothing was stored"


def _rating(value, index: int | None, problems: Collector, source: Source) -> int | None:
    if source != "api" and isinstance(value, str):  # text media: a whole number written out
        text = value.strip()
        if not text.isdigit() or not 1 <= int(text) <= 5:
            problems.add("rating", f"must be a whole number from 1 to 5, not {value!r}", index)
            return None
        return int(text)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        problems.add("rating", "must be an integer from 1 to 5", index)
        return None
    return value


def check_fields(row: dict, index: int | None, problems: Collector, source: Source) -> dict | None:
    """The item's own fields (everything but whether its feature and person exist), as stored:
    ``person_id``, ``rating``, ``comment``, ``category``, ``severity``, ``occurred_at`` (aware UTC).
    None, with the problems added, when any is bad."""
    before = len(problems.details)
    person = row.get("person_id")
    if not isinstance(person, str) or not person.strip():
        problems.add("person_id", "is required", index)
    rating = _rating(row.get("rating"), index, problems, source)
    comment = plausible.optional_text(row, "comment", problems, MAX_COMMENT, index)
    category = plausible.optional_text(row, "category", problems, MAX_CATEGORY, index)
    if source == "form" and category is not None and category not in CATEGORIES:
        problems.add("category", f"must be one of {', '.join(CATEGORIES)}", index)
    severity = row.get("severity") or "normal"
    if severity not in SEVERITIES:
        problems.add("severity", f"must be one of {', '.join(SEVERITIES)}", index)
    occurred = None
    if row.get("occurred_at") is None:
        problems.add("occurred_at", "is required", index)
    else:
        occurred = parse_timestamp(row["occurred_at"], "occurred_at", index, problems, past_only=True)
    if len(problems.details) > before:
        return None
    return {"person_id": person, "rating": rating, "comment": comment, "category": category,
            "severity": severity, "occurred_at": occurred}


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
    wanted = {r.get("person_id") for r in rows if isinstance(r, dict) and isinstance(r.get("person_id"), str)}
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
        feature = row.get("feature")
        if feature is None or feature == "":
            problems.add("feature", "is required", i)
        elif not isinstance(feature, str) or feature not in features:
            problems.add("feature", f"unknown or missing feature {feature!r}", i)
        fields = check_fields(row, i, problems, source)
        person = row.get("person_id")
        if isinstance(person, str) and person.strip() and person not in people and not auto_create:
            problems.add("person_id", f"unknown person {person!r}", i)
        if fields is not None and isinstance(feature, str) and len(problems.details) == before:
            clean.append({**fields, "feature_id": features[feature]})
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
