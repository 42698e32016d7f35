"""Retention of free texts: AI outputs and their corrections are kept N days, then blanked.

The texts may quote customers or colleagues, so they should not live forever; the rows stay (the
KPIs count outcomes, never texts). ``LIFTOFF_EVENT_TEXT_RETENTION_DAYS`` sets N; 0 (the default)
keeps texts until a person's GDPR erase. The model version is not personal and stays: datasets and
evaluation gates need to know which model produced an answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, or_, select, update

from app.db import db, utcnow
from app.models import Event, ReviewItem, ReviewLabel
from app.services.audit import audit

ACTOR = "retention"


def retention_days() -> int:
    """The configured retention in days (0: keep until erased)."""
    return int(current_app.config.get("EVENT_TEXT_RETENTION_DAYS", 0) or 0)


def blank_old_texts(now: datetime | None = None, days: int | None = None) -> dict:
    """Blank the output and correction of every event older than the retention, and the fixes
    reviewers wrote for them, in the caller's transaction; one audit entry with the counts.

    :param days: overrides the setting (tests, the CLI); 0 or less blanks nothing.
    :returns: ``{"cutoff", "events_blanked", "fixes_blanked"}`` (cutoff None when retention is off).
    """
    days = retention_days() if days is None else days
    if days <= 0:
        return {"cutoff": None, "events_blanked": 0, "fixes_blanked": 0}
    cutoff = (now or utcnow()) - timedelta(days=days)
    old = select(Event.id).where(Event.occurred_at < cutoff)
    # One statement each: a retention run may touch millions of events. An UPDATE's result is a
    # CursorResult (with rowcount); Session.execute's stub only promises the base Result.
    events = cast(CursorResult, db.session.execute(
        update(Event).where(Event.occurred_at < cutoff,
                            or_(Event.output.is_not(None), Event.correction.is_not(None)))
        .values(output=None, correction=None).execution_options(synchronize_session=False)
    )).rowcount or 0
    fixes = blank_fixes(old)
    if events or fixes:
        audit(ACTOR, "texts.retention", "events", f"before {cutoff.isoformat()}",
              after={"events_blanked": events, "fixes_blanked": fixes, "retention_days": days},
              reason=f"free texts are kept {days} days (LIFTOFF_EVENT_TEXT_RETENTION_DAYS)")
    return {"cutoff": cutoff.isoformat(), "events_blanked": events, "fixes_blanked": fixes}


def blank_fixes(event_ids) -> int:
    """Blank reviewers' fixes of the given events (a subquery of event ids); how many were blanked."""
    items = select(ReviewItem.id).where(ReviewItem.event_id.in_(event_ids))
    # An UPDATE's result is a CursorResult; Session.execute's stub only promises the base Result.
    return cast(CursorResult, db.session.execute(
        update(ReviewLabel).where(ReviewLabel.item_id.in_(items), ReviewLabel.fix.is_not(None))
        .values(fix=None).execution_options(synchronize_session=False)
    )).rowcount or 0
