"""The dashboard's writes of the rollout pages: rollout actions and new features, re-checked on the
server whatever the page showed. (One's own monthly-report subscription is the Executive page's:
dashboards/kpi/actions.py.)"""

from __future__ import annotations

from app.errors import Detail, ValidationFailed
from app.models import Feature
from app.security import Identity, NotAllowed, dashboard_action, user_may
from app.services.rollout import gates
from app.services.rollout import transitions as rollout

ROLLOUT_ACTIONS = ("advance", "rollback", "kill", "resume")

__all__ = ["NotAllowed", "create_feature", "may_change_rollouts", "may_create_features",
           "perform_rollout_action"]


def may_change_rollouts(identity: Identity | None) -> bool:
    """Whether this logged-in user may advance, roll back, kill or resume rollouts."""
    return user_may(identity, "rollout:write")


@dashboard_action("rollout:write", "change rollouts (product or admin only)")
def perform_rollout_action(action: str, key: str, identity: Identity | None, reason: str | None,
                           override: bool = False) -> Feature:
    """Run one rollout action for a dashboard user; the caller commits.

    :param action: ``advance``, ``rollback``, ``kill`` or ``resume``.
    :param key: the feature key.
    :param identity: who clicked; refused unless their role has ``rollout:write``.
    :param reason: why; required for every action taken from the dashboard.
    :param override: advance past a failed gate (audited as an override, with the reason).
    :raises NotAllowed: the role may not change rollouts.
    :raises ValidationFailed: unknown action or missing reason.
    :raises Conflict: the next stage's gate failed (naming each failing criterion) and no override.
    """
    assert identity is not None  # @dashboard_action refuses a missing identity
    if action not in ROLLOUT_ACTIONS:
        allowed = ", ".join(ROLLOUT_ACTIONS)
        raise ValidationFailed("unknown action", [Detail("action", f"must be one of {allowed}")])
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("a reason is required", [Detail("reason", "say why, for the audit trail")])
    if not key:
        raise ValidationFailed("no feature chosen", [Detail("feature", "pick a feature first")])
    if action == "advance":  # the same gate-judging path as the API's advance and promote
        return gates.advance_stage(key, identity.name, reason, override=bool(override))[0]
    # Looked up at call time so the service module stays the single implementation.
    service = getattr(rollout, action)
    return service(key, identity.name, reason)


def may_create_features(identity: Identity | None) -> bool:
    """Whether this logged-in user may create features and change their stage plans."""
    return user_may(identity, "features:write")


@dashboard_action("features:write", "create features (product or admin only)")
def create_feature(spec: dict, identity: Identity | None) -> Feature:
    """Create a feature and its stage plan from the dashboard's form, through the very service and
    validation of ``POST /api/v1/features``; the caller commits.

    :param spec: the API's body: ``key``, ``name``, ``description``, ``baseline_days``,
        ``estimated_minutes_saved``, ``per_event_cost_eur``, ``stages``.
    :raises NotAllowed: the role lacks ``features:write``.
    :raises ValidationFailed: a field is invalid (each named as the API names it).
    :raises Conflict: the key is taken.
    """
    assert identity is not None  # @dashboard_action refuses a missing identity
    return rollout.create_feature(spec, identity.name)
