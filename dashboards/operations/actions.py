"""The dashboard's write of the Operations page: voiding events by id, previewed first. It re-checks
the permission of the matrix (app/security.py) on the server, whatever the page showed, and needs a
reason; the service audits it. The caller commits."""

from __future__ import annotations

import re
from datetime import UTC

from sqlalchemy import select

from app.db import db
from app.errors import Detail, ValidationFailed
from app.models import Event, Feature
from app.models.kpi import MonthlyClose
from app.months import month_of
from app.security import Identity, NotAllowed, dashboard_action, user_may
from app.services.ingest import voids
from dashboards.shell.refusals import required_reason

__all__ = ["NotAllowed", "event_ids", "may_void_events", "preview_event_void", "void_event_ids"]


def may_void_events(identity: Identity | None) -> bool:
    return user_may(identity, "events:void")


def event_ids(text: str | None) -> list[str]:
    """The ids of a textarea: one a line or comma-separated, blanks dropped, in the order given."""
    return [part.strip() for part in re.split(r"[,\r\n]", text or "") if part.strip()]


@dashboard_action("events:void", "void events (admin only)")
def preview_event_void(text: str | None, source: str | None, identity: Identity | None,
                       reason: str | None) -> dict:
    """What voiding the ids of ``text`` would do, read before asking for confirmation: ``{"ids",
    "source", "fresh", "already", "features", "first_day", "last_day", "closed_months"}``.
    Writes nothing; ``void_event_ids`` checks it all again.

    :raises NotAllowed: the role lacks ``events:void``.
    :raises ValidationFailed: no ids, too many, a missing reason, or ids no event of ``source``
        has (each named, with its position in the list from 0).
    """
    reason = required_reason(reason)
    source = (source or "").strip() or "api"
    ids = event_ids(text)
    if not ids:
        raise ValidationFailed("no event ids", [Detail("event_ids", "give at least one event id")])
    if len(ids) > voids.MAX_VOID_BATCH:
        raise ValidationFailed("too many event ids", [Detail(
            "event_ids", f"{len(ids)} ids; one void takes at most {voids.MAX_VOID_BATCH}, split it")])
    wanted = list(dict.fromkeys(ids))
    found = {}
    for i in range(0, len(wanted), voids.MAX_VOID_BATCH):
        found.update({row.event_id: row for row in db.session.execute(
            select(Event.event_id, Event.occurred_at, Event.voided_at, Feature.key)
            .join(Feature, Feature.id == Event.feature_id)
            .where(Event.source == source, Event.event_id.in_(wanted[i:i + voids.MAX_VOID_BATCH])))})
    unknown = [Detail("event_ids", f"no event {value!r} from source {source!r}", index)
               for index, value in enumerate(ids) if value not in found]
    if unknown:
        raise ValidationFailed("unknown events; nothing was voided", unknown)
    fresh = [found[e] for e in wanted if found[e].voided_at is None]
    # The UTC days the refresh recomputes, as the service marks them dirty.
    days = sorted({(row.occurred_at.astimezone(UTC) if row.occurred_at.tzinfo else row.occurred_at).date()
                   for row in fresh})
    months = sorted({month_of(day) for day in days})
    closed = db.session.scalars(select(MonthlyClose.month).where(MonthlyClose.month.in_(months))
                                .order_by(MonthlyClose.month)).all() if months else []
    return {"ids": wanted, "source": source, "fresh": len(fresh), "already": len(wanted) - len(fresh),
            "features": sorted({row.key for row in fresh}), "closed_months": list(closed),
            "first_day": days[0].isoformat() if days else None,
            "last_day": days[-1].isoformat() if days else None}


@dashboard_action("events:void", "void events (admin only)")
def void_event_ids(ids: list[str], source: str | None, identity: Identity | None,
                   reason: str | None) -> voids.VoidResult:
    """Void events ``ids`` of ``source`` (``api`` when empty) through the service: all or none.

    :raises NotAllowed: the role lacks ``events:void``.
    :raises ValidationFailed: as ``voids.void_events`` (a bad id is named by its index).
    """
    assert identity is not None  # @dashboard_action refuses a missing identity
    body = {"event_ids": ids, "source": (source or "").strip() or "api", "reason": required_reason(reason)}
    return voids.void_events(body, identity.name)
