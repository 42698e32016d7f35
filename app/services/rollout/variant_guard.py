"""Guardrails on variants: switch off the variant that breaks quality, not the whole feature.

A playbook stage's ``guardrails.variant_max_error_rate_increase`` watches each served variant
(weight > 0) against the control (the decision rule's, else the first variant) over the
guardrail's week: it trips for a variant when the 95 % interval of its error rate minus the
control's (Newcombe, app/kpi/variants.py) lies entirely above the margin, both having at least
``min_events`` rated AI tasks. The variant's weight goes to 0 and its share goes to the others in
proportion to their weights: a weight transition through the variants service (audited, recorded
in the variant history, reason naming the guardrail), announced naming the variant. When no other
variant would keep a weight, the stage's own action (rollback or kill) applies instead.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import select

from app.db import db
from app.kpi import variants as variant_kpis
from app.models import Feature, VariantWeightChange
from app.playbooks import Guardrails
from app.services.audit import audit
from app.services.kpi_reads import variant_exposure, variant_figures
from app.services.lookups import variants_of
from app.services.rollout import variants
from app.services.rollout.announce import announce

ACTOR = "guardrail"


def redistributed(weights: dict[str, int], off: set[str]) -> dict[str, int]:
    """The split with the variants ``off`` at 0 and their share given to the other served variants
    in proportion to their weights, as whole percentages summing to 100 (largest remainder; ties
    to the earlier variant). Empty when no other variant has a weight to grow from."""
    kept = {name: w for name, w in weights.items() if name not in off and w > 0}
    total = sum(kept.values())
    if total == 0:
        return {}
    exact = {name: 100 * w / total for name, w in kept.items()}
    out = {name: int(exact[name]) if name in kept else 0 for name in weights}
    order = list(weights)
    short = 100 - sum(out.values())
    for name in sorted(kept, key=lambda n: (-(exact[n] - int(exact[n])), order.index(n)))[:short]:
        out[name] += 1
    return out


def last_switch_off(feature: Feature) -> datetime | None:
    """When a guardrail last switched off one of the feature's variants."""
    return db.session.scalar(select(VariantWeightChange.effective_at)
                             .where(VariantWeightChange.feature_id == feature.id,
                                    VariantWeightChange.actor == ACTOR)
                             .order_by(VariantWeightChange.effective_at.desc()).limit(1))


def breaches(feature: Feature, guard: Guardrails, start: date, end: date) -> list[dict]:
    """The served variants whose error rate is worse than the control's beyond the margin over
    [start, end], with their numbers and the reason in words."""
    margin = guard.variant_max_error_rate_increase
    served = variants_of(feature.id)
    if margin is None or len(served) < 2:
        return []
    rule = json.loads(feature.variant_rule) if feature.variant_rule else None
    control = rule["control"] if rule else served[0].name
    periods = variant_exposure.periods(feature, start, end)
    counts = variant_kpis.error_counts(variant_figures.labelled_events(feature, start, end, periods))
    base = counts.get(control, (0, 0))
    found = []
    for v in served:
        mine = counts.get(v.name, (0, 0))
        if v.name == control or v.weight == 0 or min(mine[1], base[1]) < guard.min_events:
            continue
        diff = variant_kpis.error_rate_increase(mine, base)
        if diff["ci_low"] is None or diff["ci_low"] <= margin:
            continue
        rate, control_rate = mine[0] / mine[1], base[0] / base[1]
        found.append({
            "variant": v.name, "control": control, "errors": mine[0], "rated_tasks": mine[1],
            "error_rate": rate, "control_errors": base[0], "control_rated_tasks": base[1],
            "control_error_rate": control_rate, "difference": diff["difference"],
            "ci_low": diff["ci_low"], "ci_high": diff["ci_high"], "margin": margin,
            "reason": (f"variant {v.name}: error rate {rate:.3f} ({mine[0]} of {mine[1]}) against control "
                       f"{control}'s {control_rate:.3f} ({base[0]} of {base[1]}); the difference's 95 % "
                       f"interval {diff['ci_low']:.3f} to {diff['ci_high']:.3f} is entirely above the "
                       f"playbook's variant_max_error_rate_increase {margin}")})
    return found


def can_switch_off(feature: Feature, found: list[dict]) -> bool:
    """Whether another variant would keep serving people with the breaching ones at 0."""
    weights = {v.name: v.weight for v in variants_of(feature.id)}
    return bool(redistributed(weights, {b["variant"] for b in found}))


def switch_off(feature: Feature, found: list[dict], stage: int) -> dict[str, int]:
    """Give the breaching variants weight 0, the others their share: a weight transition through
    the variants service, audited as ``guardrail.variant`` with the numbers, and announced."""
    current = variants_of(feature.id)
    before = {v.name: v.weight for v in current}
    names = [b["variant"] for b in found]
    after = redistributed(before, set(names))
    reason = "guardrail: " + "; ".join(b["reason"] for b in found)
    variants.define(feature.key, {"variants": [{**variants.describe(v), "weight": after[v.name]}
                                               for v in current], "reason": reason}, ACTOR)
    audit(ACTOR, "guardrail.variant", "feature", feature.key, {"weights": before},
          {"weights": after, "stage": stage, "variants": names,
           "breaches": [{k: v for k, v in b.items() if k != "reason"} for b in found]}, reason)
    split = ", ".join(f"{name} {w} %" for name, w in after.items())
    announce(feature, f"guardrail switched off variant {', '.join(names)}: {feature.name}",
             f"{reason}. Weights now: {split}.")
    return after
