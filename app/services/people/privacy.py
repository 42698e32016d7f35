"""GDPR: everything held about one person (export), and erasing what identifies them.

Erasure blanks the person's name and e-mail, replaces their free-text feedback comments and blanks
their events' free texts (AI output, correction, model version) and reviewers' fixes of them, but
keeps their rows keyed by the internal id (events, exposure spells, cohort memberships, ratings,
attendance): the aggregate KPIs and ROI do not change, and nothing left names the person.
``person_id`` itself is kept because flag stickiness and audiences hash it; it is meant to be an
opaque, pseudonymous id (docs/security.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, or_, select, update

from app.db import db, utcnow
from app.errors import NotFound
from app.models import (
    Attendance,
    Cohort,
    CohortMember,
    Event,
    ExposureSpell,
    Feature,
    Feedback,
    Person,
    TrainingSession,
)
from app.services.audit import audit

ERASED_COMMENT = "[erased]"


def _person(person_id: str) -> Person:
    person = db.session.scalar(select(Person).where(Person.person_id == person_id))
    if person is None:
        raise NotFound(f"no person with person_id {person_id!r}")
    return person


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_person(person_id: str) -> dict:
    """Everything held about one person, as JSON-ready data.

    :param person_id: the person's external id.
    :returns: ``profile``, ``cohorts``, ``exposure``, ``events``, ``feedback``, ``attendance``.
    """
    person = _person(person_id)
    keys = dict(db.session.execute(select(Feature.id, Feature.key)).all())
    cohorts = db.session.execute(
        select(Cohort.key, Cohort.name, CohortMember.added_at)
        .join(CohortMember, CohortMember.cohort_id == Cohort.id)
        .where(CohortMember.person_id == person.id)
        .order_by(Cohort.key)
    ).all()
    spells = db.session.scalars(
        select(ExposureSpell).where(ExposureSpell.person_id == person.id).order_by(ExposureSpell.id)
    )
    events = db.session.scalars(select(Event).where(Event.person_id == person.id).order_by(Event.id))
    feedback = db.session.scalars(
        select(Feedback).where(Feedback.person_id == person.id).order_by(Feedback.id)
    )
    attendance = db.session.execute(
        select(TrainingSession, Attendance.completed)
        .join(Attendance, Attendance.session_id == TrainingSession.id)
        .where(Attendance.person_id == person.id)
        .order_by(TrainingSession.id)
    ).all()
    return {
        "profile": {
            "person_id": person.person_id,
            "name": person.name,
            "email": person.email,
            "department": person.department.name if person.department else None,
            "created_at": _iso(person.created_at),
            "erased_at": _iso(person.erased_at),
        },
        "cohorts": [{"cohort": key, "name": name, "added_at": _iso(at)} for key, name, at in cohorts],
        "exposure": [
            {"feature": keys[s.feature_id], "start_at": _iso(s.start_at), "end_at": _iso(s.end_at)}
            for s in spells
        ],
        "events": [
            {
                "source": e.source, "event_id": e.event_id, "feature": keys[e.feature_id],
                "occurred_at": _iso(e.occurred_at), "task": e.task, "ai_assisted": e.ai_assisted,
                "duration_seconds": e.duration_seconds, "outcome": e.outcome, "cost_eur": e.cost_eur,
                "output": e.output, "correction": e.correction, "model_version": e.model_version,
            }
            for e in events
        ],
        "feedback": [
            {
                "id": f.id, "feature": keys[f.feature_id], "rating": f.rating, "comment": f.comment,
                "category": f.category, "status": f.status, "occurred_at": _iso(f.occurred_at),
            }
            for f in feedback
        ],
        "attendance": [
            {"session_id": s.id, "feature": keys[s.feature_id], "title": s.title, "completed": completed}
            for s, completed in attendance
        ],
    }


def erase_person(person_id: str, actor: str, now: datetime | None = None) -> dict:
    """Erase what identifies a person; keep the anonymous rows the KPIs are computed from.

    Idempotent: erasing an erased person changes nothing more. Audited without personal data.

    :param person_id: the person's external id.
    :param actor: who asked (user e-mail, ``token:NAME`` or ``cli``), for the audit log.
    :returns: ``{"person_id", "erased_at", "comments_replaced", "event_texts_erased",
        "review_fixes_erased"}``.
    """
    person = _person(person_id)
    replaced = 0
    for feedback in db.session.scalars(
        select(Feedback).where(Feedback.person_id == person.id, Feedback.comment.is_not(None))
    ):
        if feedback.comment != ERASED_COMMENT:
            feedback.comment = ERASED_COMMENT
            replaced += 1
    # One statement, not an object per event: a person can have tens of thousands of events.
    texts = cast(CursorResult, db.session.execute(
        update(Event)
        .where(Event.person_id == person.id, or_(Event.output.is_not(None), Event.correction.is_not(None),
                                                 Event.model_version.is_not(None)))
        .values(output=None, correction=None, model_version=None)
        .execution_options(synchronize_session=False)
    )).rowcount or 0
    from app.services.people.retention import blank_fixes

    # Reviewers' fixes of the person's AI outputs are texts about the person too.
    fixes = blank_fixes(select(Event.id).where(Event.person_id == person.id))
    first_time = person.erased_at is None
    person.name = None
    person.email = None
    person.erased_at = person.erased_at or now or utcnow()
    db.session.flush()
    if first_time or replaced or texts or fixes:
        audit(actor, "person.erase", "person", person.person_id,
              after={"comments_replaced": replaced, "event_texts_erased": texts,
                     "review_fixes_erased": fixes},
              reason="GDPR erasure request")
    return {"person_id": person.person_id, "erased_at": _iso(person.erased_at),
            "comments_replaced": replaced, "event_texts_erased": texts, "review_fixes_erased": fixes}
