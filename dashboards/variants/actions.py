"""The Compare variants page's one write, promoting a variant: re-checked on the server whatever
the page showed, through the same service as the API and the CLI."""

from __future__ import annotations

from app.errors import Detail, ValidationFailed
from app.models import Feature
from app.security import Identity, NotAllowed, dashboard_action, user_may
from app.services.rollout import promotion

__all__ = ["NotAllowed", "may_promote_variants", "promote_variant"]


def may_promote_variants(identity: Identity | None) -> bool:
    """Whether this logged-in user may promote a variant (the rollout permission)."""
    return user_may(identity, "rollout:write")


@dashboard_action("rollout:write", "promote variants (product or admin only)")
def promote_variant(key: str, name: str, identity: Identity | None, reason: str | None,
                    override: bool = False) -> Feature:
    """Give variant ``name`` of feature ``key`` weight 100 %; the caller commits.

    :param override: promote although the stage's variant criteria fail (audited with the reason).

    :raises NotAllowed: the role may not change rollouts; :raises ValidationFailed: no reason, no
        such variant; :raises GateFailed: the stage's variant criteria fail for it.
    """
    assert identity is not None  # @dashboard_action refuses a missing identity
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("a reason is required", [Detail("reason", "say why, for the audit trail")])
    feature, _ = promotion.promote(key, name, identity.name, reason, override)
    return feature
