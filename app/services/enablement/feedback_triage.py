"""Feedback triage (open -> triaged -> fixed -> verified, with an owner) and the corrections dataset."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.db import db, utcnow
from app.errors import Collector, Conflict, Detail, NotFound, ValidationFailed
from app.models import Event, Feedback, Person
from app.models.enablement import OWNER_MAX
from app.services.audit import audit
from app.services.enablement.activities import feature_by_key
from app.services.ingest import feedback
from app.services.kpi_reads import variant_exposure
from app.services.lookups import variant_models
from app.spreadsheets import csv_records

# Each status may move forward one step; "fixed" may go back to "triaged" when verification fails.
NEXT_STATUSES = {"open": ("triaged",), "triaged": ("fixed",), "fixed": ("verified", "triaged"),
                 "verified": ()}
CORRECTION_FIELDS = ("event_id", "feedback_id", "feature", "person_id", "occurred_at", "output",
                     "correction", "model_version", "variant", "rating", "severity", "status",
                     "owner", "comment")


def triage(feedback_id: int, status: str, actor: str, owner: str | None = None) -> Feedback:
    """Move a feedback item to its next status; from "triaged" on it must have an owner.

    :param status: the new status (see ``NEXT_STATUSES``).
    :param owner: the person responsible (kept when not given and one is set already).
    """
    item = db.session.get(Feedback, feedback_id)
    if item is None:
        raise NotFound(f"no feedback {feedback_id}")
    problems = Collector()
    if owner is not None and (not isinstance(owner, str) or not owner.strip()):
        problems.add("owner", "must be a non-empty text")
    elif owner is not None and len(owner.strip()) > OWNER_MAX:
        problems.add("owner", f"at most {OWNER_MAX} characters")
    if status not in NEXT_STATUSES:
        problems.add("status", f"must be one of {', '.join(NEXT_STATUSES)}")
    elif not (owner or item.owner):
        problems.add("owner", "an owner is required to triage feedback")
    problems.raise_if_any("invalid triage")
    if status not in NEXT_STATUSES[item.status]:
        allowed = ", ".join(NEXT_STATUSES[item.status]) or "nothing (it is closed)"
        raise Conflict(f"feedback {feedback_id} is {item.status}; it can move to {allowed}")
    before = {"status": item.status, "owner": item.owner}
    item.status = status
    item.owner = owner.strip() if owner else item.owner
    db.session.flush()
    audit(actor, "feedback.triage", "feedback", str(item.id), before,
          {"status": item.status, "owner": item.owner})
    return item


def list_feedback(feature_key: str, status: str | None = None,
                  category: str | None = None) -> list[Feedback]:
    feature = feature_by_key(feature_key)
    query = select(Feedback).where(Feedback.feature_id == feature.id)
    if status:
        query = query.where(Feedback.status == status)
    if category:
        query = query.where(Feedback.category == category)
    return list(db.session.scalars(query.order_by(Feedback.occurred_at, Feedback.id)))


def corrections(feature_key: str) -> list[dict]:
    """The corrections dataset as plain rows, oldest first: every ``corrected`` AI event that
    carries a ``correction`` (with its output and model), and every correction feedback."""
    feature = feature_by_key(feature_key)
    blank = dict.fromkeys(CORRECTION_FIELDS)
    events = list(db.session.execute(
        select(Event, Person.person_id).join(Person, Person.id == Event.person_id)
        .where(Event.feature_id == feature.id, Event.ai_assisted.is_(True),
               Event.outcome == "corrected", Event.correction.is_not(None))))
    feedback = db.session.execute(
        select(Feedback, Person.person_id).join(Person, Person.id == Feedback.person_id)
        .where(Feedback.feature_id == feature.id, Feedback.category == "correction"))
    # The variant it names, else the one its person had at occurred_at (KPI_DEFINITIONS.md).
    held = variant_exposure.variants_at(feature, [(e.person_id, e.occurred_at) for e, _ in events
                                                  if e.variant is None])
    resolved = iter(held)
    models = variant_models(feature.id)
    served = [e.variant if e.variant is not None else next(resolved) for e, _ in events]
    rows = [
        (e.occurred_at, 0, e.id, {**blank, "event_id": e.event_id, "feature": feature.key,
                                  "person_id": pid, "occurred_at": e.occurred_at.isoformat(),
                                  "output": e.output, "correction": e.correction,
                                  # The event's own model, else the one its variant serves.
                                  "model_version": e.model_version or models.get(variant or ""),
                                  "variant": variant})
        for (e, pid), variant in zip(events, served, strict=True)
    ] + [
        (f.occurred_at, 1, f.id, {**blank, "feedback_id": f.id, "feature": feature.key,
                                  "person_id": pid, "occurred_at": f.occurred_at.isoformat(),
                                  "rating": f.rating, "severity": f.severity, "status": f.status,
                                  "owner": f.owner, "comment": f.comment})
        for f, pid in feedback
    ]
    return [row for *_, row in sorted(rows, key=lambda r: r[:3])]


def export_corrections(feature_key: str, fmt: str) -> str:
    """The corrections dataset as ``csv`` (header row first) or ``jsonl`` (one object a line)."""
    rows = corrections(feature_key)
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if fmt == "csv":
        return csv_records(CORRECTION_FIELDS, rows)
    raise ValidationFailed("unknown export format", [Detail("format", "must be csv or jsonl")])


def submit_feedback(feature_key: str, form: dict, actor: str) -> Feedback:
    """Record one feedback item from the dashboard's form, by the shared rule set, and audit it.

    The form's own fields are checked first, all at once and without a row number (the form is
    one item); then the item is stored as any batch is (unknown person: row 0).

    :param form: ``person_id``, ``rating`` (1-5, text or number), ``category`` (the form's menu),
        ``severity``, ``comment``.
    :param actor: who records it, for the audit log.
    """
    person = form.get("person_id")
    row = {
        "feature": feature_key,
        "person_id": person.strip() if isinstance(person, str) else None,
        "rating": form.get("rating"),
        "comment": (form.get("comment") or "").strip() or None,
        "category": form.get("category") or None,
        "severity": form.get("severity") or "normal",
        "occurred_at": utcnow().isoformat(),
    }
    problems = Collector()
    feedback.check_fields(row, None, problems, "form")
    problems.raise_if_any(feedback.REFUSED)
    (item,) = feedback.record_feedback([row], source="form")
    audit(actor, "feedback.record", "feature", feature_key, None,
          {"feedback": item.id, "rating": item.rating, "category": item.category, "severity": item.severity})
    return item
