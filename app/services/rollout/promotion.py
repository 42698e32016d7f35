"""Promoting a variant binds: the current stage's gate says whether this variant may win.

``promote`` is the one door of the API, the CLI and the dashboard. Before the weights move
(app/services/rollout/variants.py ``promote``), it judges, for the variant being promoted, the
criteria of the current stage's gate that speak about variants:

- every ``eval_pass_rate`` criterion without a variant, on the runs of this variant's model;
- ``variant_decision`` without a variant: the rule must name this variant the winner;
- every criterion naming this variant (``variant: NAME``).

Criteria naming another variant, and the stage's other criteria, are the stage advance's concern.
A failing criterion refuses the promotion (409 naming each, nothing changed) unless ``override``
with a reason, audited as ``gate.override`` beside the promotion. Functions flush, never commit.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from app.db import utcnow
from app.errors import Detail, ValidationFailed
from app.models import Feature
from app.playbooks import Criterion, playbook_for
from app.services.audit import audit
from app.services.lookups import feature_with_plan, variants_of
from app.services.rollout import gates, variants
from app.services.rollout.variant_gates import DECISION


def _for_variant(criterion: Criterion, name: str) -> Criterion | None:
    """The criterion as it applies to promoting ``name``, or None when it does not."""
    if criterion.variant is not None:
        return criterion if criterion.variant == name else None
    if criterion.metric in ("eval_pass_rate", DECISION):
        return dataclasses.replace(criterion, variant=name)
    return None


def promotion_criteria(feature: Feature, name: str, now: datetime) -> list[dict]:
    """The current stage's criteria for promoting ``name``, judged (none when the feature has no
    playbook or no live stage)."""
    if not feature.playbook_key or feature.current_stage == 0 or feature.killed:
        return []
    stage = playbook_for(feature.playbook_key).stage(feature.current_stage)
    chosen = [c for c in (_for_variant(c, name) for c in stage.gate) if c is not None]
    return gates.judge_criteria(feature, chosen, now) if chosen else []


def promote(key: str, name, actor: str, reason, override: bool = False,
            effective_at: datetime | None = None) -> tuple[Feature, list[dict]]:
    """Give variant ``name`` weight 100 % once the stage's variant criteria pass for it.

    :param override: promote although some fail; needs a reason, audited as ``gate.override``.
    :returns: the feature and the criteria judged (each with ``passed`` and ``message``).
    :raises ValidationFailed: no such variant (field ``variant``), no reason (``reason``).
    :raises GateFailed: a criterion failed and no override (409), nothing changed.
    """
    feature = feature_with_plan(key, for_update=True)
    names = [v.name for v in variants_of(feature.id)]
    if name not in names:
        # Refused before anything is judged: a criterion of an unknown variant would only fail.
        raise ValidationFailed("invalid promotion", [Detail(
            "variant", f"feature {key!r} has no variants" if not names else
            f"unknown variant {name!r}: the feature has {', '.join(names)}")])
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed("invalid promotion", [Detail("reason", "a reason is required")])
    criteria = promotion_criteria(feature, name, effective_at or utcnow())
    failed = [c for c in criteria if not c["passed"]]
    if failed and not override:
        raise gates.GateFailed(
            f"promoting {name} fails the stage {feature.current_stage} gate; promote with override and a "
            "reason to go on anyway", [Detail(c["metric"], c["message"]) for c in failed])
    if failed:
        audit(actor, "gate.override", "feature", feature.key, None,
              {"promotion": name, "stage": feature.current_stage, "failed": [c["metric"] for c in failed],
               "criteria": [{"criterion": c["metric"], "variant": c.get("variant"), "message": c["message"]}
                            for c in failed]}, reason.strip())
    return variants.promote(key, name, actor, reason, effective_at), criteria
