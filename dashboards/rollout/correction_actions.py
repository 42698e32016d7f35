"""The dashboard's corrections: archive or unarchive a feature, save the stages it has not reached,
void a cost entry, void events by id. Each re-checks the permission of the matrix (app/security.py)
on the server, whatever the page showed, and needs a reason; the services audit them. The caller
commits."""

from __future__ import annotations

import json
import re
from datetime import UTC

from sqlalchemy import select

from app.db import db
from app.errors import Detail, NotFound, ValidationFailed
from app.models import CostEntry, Event, Feature
from app.models.kpi import MonthlyClose
from app.months import month_of
from app.security import Identity, NotAllowed, dashboard_action, user_may
from app.services.ingest import voids
from app.services.rollout import feature_plan
from app.services.rollout import transitions as rollout

__all__ = ["NotAllowed", "event_ids", "may_archive", "may_edit_stages", "may_void_costs",
           "may_void_events", "plan_state", "preview_event_void", "save_future_stages", "set_archived",
           "void_cost_entry", "void_event_ids"]


def may_archive(identity: Identity | None) -> bool:
    return user_may(identity, "features:archive")


def may_edit_stages(identity: Identity | None) -> bool:
    return user_may(identity, "features:write")


def may_void_costs(identity: Identity | None) -> bool:
    return user_may(identity, "costs:void")


def may_void_events(identity: Identity | None) -> bool:
    return user_may(identity, "events:void")


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("a reason is required", [Detail("reason", "say why, for the audit trail")])
    return reason


def plan_state(key: str) -> dict:
    """``{"archived", "current", "reached", "future"}``: the stages reached (names) and the stages
    after the current one (``{"name", "cohorts", "percentage"}``, for the form)."""
    feature = rollout._load(key)
    future = [{"name": s.name, "cohorts": [c.key for c in s.cohorts], "percentage": s.percentage}
              for s in feature.stages if s.position > feature.current_stage]
    reached = [s.name for s in feature.stages if s.position <= feature.current_stage]
    return {"archived": feature.archived_at is not None, "current": feature.current_stage,
            "reached": reached, "future": future}


@dashboard_action("features:archive", "archive features (product or admin only)")
def set_archived(key: str, identity: Identity | None, reason: str | None, archived: bool) -> Feature:
    """Archive (``archived``) or unarchive the feature.

    :raises NotAllowed: the role lacks ``features:archive``.
    """
    action = feature_plan.archive if archived else feature_plan.unarchive
    return action(key, identity.name, _reason(reason))


@dashboard_action("features:write", "change stage plans (product or admin only)")
def save_future_stages(key: str, identity: Identity | None, reason: str | None,
                       stages: list | str | None) -> Feature:
    """Replace the stages after the current one with ``stages`` (the form's list of stages, or a
    JSON text of one); the reached ones are kept as they are. A stage's details name its index in
    the whole plan (``stages[current + i]``).

    :raises NotAllowed: the role lacks ``features:write``.
    :raises ValidationFailed: the text is no JSON list, or a stage is invalid.
    """
    reason = _reason(reason)
    future = stages
    if not isinstance(stages, list):
        try:
            future = json.loads(stages or "")
        except ValueError as error:
            raise ValidationFailed("the stages are not JSON", [Detail("stages", str(error))]) from None
    if not isinstance(future, list):
        raise ValidationFailed("invalid stages", [Detail("stages", "must be a JSON list of stages")])
    feature = rollout._load(key)
    reached = [{"name": s.name, "cohorts": [c.key for c in s.cohorts], "percentage": s.percentage}
               for s in feature.stages if s.position <= feature.current_stage]
    return feature_plan.replace_stages(key, reached + future, identity.name, reason)


def month_costs(month: str) -> list[dict]:
    """Every feature's cost entries of ``month`` (voided ones marked), by feature then id."""
    rows = db.session.execute(select(CostEntry, Feature.key).join(Feature, Feature.id == CostEntry.feature_id)
                              .where(CostEntry.month == month).order_by(Feature.key, CostEntry.id))
    return [voids.cost_record(entry, key) for entry, key in rows]


@dashboard_action("costs:void", "void cost entries (product or admin only)")
def void_cost_entry(cost_id: int | None, identity: Identity | None, reason: str | None) -> dict:
    """Void cost entry ``cost_id`` (of whichever feature holds it).

    :raises NotAllowed: the role lacks ``costs:void``.
    :raises NotFound: no such entry (deleted since the page was drawn).
    """
    reason = _reason(reason)
    key = db.session.scalar(select(Feature.key).join(CostEntry, CostEntry.feature_id == Feature.id)
                            .where(CostEntry.id == cost_id)) if cost_id else None
    if key is None:
        raise NotFound(f"no cost entry {cost_id}")
    return voids.cost_record(voids.void_cost(key, cost_id, identity.name, reason), key)


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
    reason = _reason(reason)
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
    body = {"event_ids": ids, "source": (source or "").strip() or "api", "reason": _reason(reason)}
    return voids.void_events(body, identity.name)
