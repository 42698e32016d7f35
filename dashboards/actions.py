"""The dashboard's writes of the rollout and executive pages: rollout actions and one's own monthly-report
subscription, re-checked on the server whatever the page showed."""

from __future__ import annotations

from app.errors import Detail, LiftoffError, ValidationFailed
from app.models import Feature, User
from app.security import Identity
from app.services import report_mail, rollout

ROLLOUT_ACTIONS = ("advance", "rollback", "kill", "resume")


class NotAllowed(LiftoffError):
    """The caller's role may not do this (the dashboard's 403)."""

    def __init__(self, message: str):
        super().__init__(message, [], 403)


def may_change_rollouts(identity: Identity | None) -> bool:
    """Whether this logged-in user may advance, roll back, kill or resume rollouts."""
    return identity is not None and identity.role is not None and identity.may("rollout:write")


def perform_rollout_action(action: str, key: str, identity: Identity | None, reason: str | None) -> Feature:
    """Run one rollout action for a dashboard user; the caller commits.

    :param action: ``advance``, ``rollback``, ``kill`` or ``resume``.
    :param key: the feature key.
    :param identity: who clicked; refused unless their role has ``rollout:write``.
    :param reason: why; required for every action taken from the dashboard.
    :raises NotAllowed: the role may not change rollouts.
    :raises ValidationFailed: unknown action or missing reason.
    """
    if not may_change_rollouts(identity):
        raise NotAllowed("your role may not change rollouts (product or admin only)")
    if action not in ROLLOUT_ACTIONS:
        allowed = ", ".join(ROLLOUT_ACTIONS)
        raise ValidationFailed("unknown action", [Detail("action", f"must be one of {allowed}")])
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("a reason is required", [Detail("reason", "say why, for the audit trail")])
    if not key:
        raise ValidationFailed("no feature chosen", [Detail("feature", "pick a feature first")])
    # Looked up at call time so the service module stays the single implementation.
    service = getattr(rollout, action)
    return service(key, identity.name, reason)


def may_subscribe_to_report(identity: Identity | None) -> bool:
    """Whether this logged-in user may have the monthly report e-mailed (executives and admins)."""
    return identity is not None and identity.role in report_mail.REPORT_ROLES


def set_own_report_subscription(identity: Identity | None, on: bool) -> User:
    """Subscribe the logged-in user (never anyone else) to the monthly report, or unsubscribe
    them; the caller commits.

    :raises NotAllowed: the role may not receive the report (or the caller is no logged-in user).
    """
    if not may_subscribe_to_report(identity):
        raise NotAllowed("your role may not subscribe to the monthly report (executive or admin only)")
    user, _changed = report_mail.set_subscription(identity.name, bool(on))
    return user
