"""The Compare variants page's writes, promoting a variant and defining or changing a feature's
variants: re-checked on the server whatever the page showed, through the same service as the API
(app/services/rollout/variants.py), so the same refusals come back."""

from __future__ import annotations

from app.errors import Detail, ValidationFailed
from app.models import Feature
from app.security import Identity, NotAllowed, dashboard_action, user_may
from app.services.rollout import promotion, variants
from dashboards.variants.form_values import effective_at, variant_rows

__all__ = ["NotAllowed", "define_variants", "may_promote_variants", "promote_variant"]


def may_promote_variants(identity: Identity | None) -> bool:
    """Whether this logged-in user may promote or define variants (the rollout permission, as the
    API's PUT and POST .../promote)."""
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


@dashboard_action("rollout:write", "define variants (product or admin only)")
def define_variants(key: str, rows: list[dict], identity: Identity | None, *, rule: dict | None = None,
                    reason: str | None = None, effective: str | None = None) -> Feature:
    """Define feature ``key``'s variants, or change their weights, payloads and costs, from the
    form's rows (``name``, ``weight``, ``payload`` JSON text, ``cost``); the caller commits.

    :param rule: ``control``, ``max_error_rate_increase`` (a share), ``objective``; None keeps it.
    :raises NotAllowed: the role may not change rollouts; :raises ValidationFailed: each problem
        naming ``variants[i].field`` as the API does (nothing is written).
    """
    assert identity is not None  # @dashboard_action refuses a missing identity
    at = effective_at(effective)
    body = {"variants": variant_rows(rows), "rule": rule, "reason": (reason or "").strip() or None}
    return variants.define(key, body, identity.name, at)
