"""The dashboard's writes of the Executive page: one's own monthly-report subscription and voiding
a cost entry. Each re-checks the permission of the matrix (app/security.py) on the server, whatever
the page showed; the services audit them. The caller commits."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.errors import NotFound
from app.models import CostEntry, Feature, User
from app.security import Identity, NotAllowed, dashboard_action, user_may
from app.services.ingest import voids
from app.services.reporting import report_mail
from dashboards.shell.refusals import required_reason

__all__ = ["NotAllowed", "may_subscribe_to_report", "may_void_costs", "set_own_report_subscription",
           "void_cost_entry"]


def may_subscribe_to_report(identity: Identity | None) -> bool:
    """Whether this logged-in user may have the monthly report e-mailed (executives and admins)."""
    return user_may(identity, report_mail.RECEIVE)


@dashboard_action(report_mail.RECEIVE, "subscribe to the monthly report (executive or admin only)")
def set_own_report_subscription(identity: Identity | None, on: bool) -> User:
    """Subscribe the logged-in user (never anyone else) to the monthly report, or unsubscribe
    them; the caller commits.

    :raises NotAllowed: the role may not receive the report (or the caller is no logged-in user).
    """
    assert identity is not None  # @dashboard_action refuses a missing identity
    user, _changed = report_mail.set_subscription(identity.name, bool(on))
    return user


def may_void_costs(identity: Identity | None) -> bool:
    return user_may(identity, "costs:void")


@dashboard_action("costs:void", "void cost entries (product or admin only)")
def void_cost_entry(cost_id: int | None, identity: Identity | None, reason: str | None) -> dict:
    """Void cost entry ``cost_id`` (of whichever feature holds it).

    :raises NotAllowed: the role lacks ``costs:void``.
    :raises NotFound: no such entry (deleted since the page was drawn).
    """
    assert identity is not None  # @dashboard_action refuses a missing identity
    reason = required_reason(reason)
    key = db.session.scalar(select(Feature.key).join(CostEntry, CostEntry.feature_id == Feature.id)
                            .where(CostEntry.id == cost_id)) if cost_id else None
    if not cost_id or key is None:
        raise NotFound(f"no cost entry {cost_id}")
    return voids.cost_record(voids.void_cost(key, cost_id, identity.name, reason), key)
