"""The dashboard's corrections: archive or unarchive a feature, save the stages it has not reached,
void a cost entry. Each re-checks the permission of the matrix (app/security.py) on the server,
whatever the page showed, and needs a reason; the services audit them. The caller commits."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.db import db
from app.errors import Detail, NotFound, ValidationFailed
from app.models import CostEntry, Feature
from app.security import Identity, NotAllowed, dashboard_action, user_may
from app.services import feature_plan, rollout, voids

__all__ = ["NotAllowed", "may_archive", "may_edit_stages", "may_void_costs", "plan_state",
           "save_future_stages", "set_archived", "void_cost_entry"]


def may_archive(identity: Identity | None) -> bool:
    return user_may(identity, "features:archive")


def may_edit_stages(identity: Identity | None) -> bool:
    return user_may(identity, "features:write")


def may_void_costs(identity: Identity | None) -> bool:
    return user_may(identity, "costs:void")


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("a reason is required", [Detail("reason", "say why, for the audit trail")])
    return reason


def plan_state(key: str) -> dict:
    """``{"archived", "current", "future"}``: the stages after the current one as editable JSON."""
    feature = rollout._load(key)
    future = [{"name": s.name, "cohorts": [c.key for c in s.cohorts], "percentage": s.percentage}
              for s in feature.stages if s.position > feature.current_stage]
    return {"archived": feature.archived_at is not None, "current": feature.current_stage,
            "future": json.dumps(future, indent=1)}


@dashboard_action("features:archive", "archive features (product or admin only)")
def set_archived(key: str, identity: Identity | None, reason: str | None, archived: bool) -> Feature:
    """Archive (``archived``) or unarchive the feature.

    :raises NotAllowed: the role lacks ``features:archive``.
    """
    action = feature_plan.archive if archived else feature_plan.unarchive
    return action(key, identity.name, _reason(reason))


@dashboard_action("features:write", "change stage plans (product or admin only)")
def save_future_stages(key: str, identity: Identity | None, reason: str | None, text: str | None) -> Feature:
    """Replace the stages after the current one with ``text`` (a JSON list of stages); the reached
    ones are kept as they are.

    :raises NotAllowed: the role lacks ``features:write``.
    :raises ValidationFailed: the text is no JSON list, or a stage is invalid.
    """
    reason = _reason(reason)
    try:
        future = json.loads(text or "")
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
