"""A feature's variants: define them, change their weights, promote one, state the decision rule.

The weights are a split of the feature's exposed people (percent, summing to 100), served to the
SDKs with ``stickiness: userId`` (app/flags/compile.py). A change of weights is a transition of
the split: validated first (nothing changes when it fails), recorded as a ``VariantWeightChange``
with its effective time and audited, so who had which variant when can be replayed exactly
(app/services/kpi_reads/variant_exposure.py). Variants are never removed or reordered once
recorded: Unleash assigns by walking the list in order, so either would move people silently.
The rules of a list on its own (fields, unique names, weights summing to 100) and of the decision
rule are the schema's (app/schemas/variants.py); this module adds those that need the database.
Functions flush and never commit.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select

from app.db import db, utcnow
from app.errors import Collector, Conflict, Detail, NotFound, ValidationFailed
from app.flags import payload_cache, sync
from app.formats import iso_utc
from app.models import Feature, FeatureVariant, VariantWeightChange
from app.schemas.common import parse
from app.schemas.variants import VariantIn, VariantPromotion, VariantsPut
from app.services.audit import audit
from app.services.lookups import feature_with_plan, variants_of


def _split(variants: list[FeatureVariant]) -> dict[str, int]:
    return {v.name: v.weight for v in variants}


def _record(feature: Feature, action: str, variants: list[FeatureVariant], actor: str,
            reason: str | None, at: datetime, before: dict | None) -> None:
    split = _split(variants)
    db.session.add(VariantWeightChange(feature_id=feature.id, action=action, weights=json.dumps(split),
                                       effective_at=at, actor=actor, reason=reason))
    after = {"variants": [describe(v) for v in variants]}
    audit(actor, f"feature.variants.{action}", "feature", feature.key, before, after, reason)
    payload_cache.mark_changed()
    sync.queue_sync([feature.id])


def attach(feature: Feature, specs: list[VariantIn], actor: str, at: datetime | None = None) -> None:
    """Give a feature without variants its variants (creation of the feature or of its split), a
    list the schema judged whole (app/schemas/variants.py)."""
    rows = [FeatureVariant(feature_id=feature.id, position=i + 1, name=s.name, weight=s.weight,
                           payload=json.dumps(s.payload) if s.payload is not None else None,
                           cost_per_task_eur=s.cost_per_task_eur) for i, s in enumerate(specs)]
    db.session.add_all(rows)
    db.session.flush()
    _record(feature, "create", rows, actor, None, at or utcnow(), None)


def _last_change(feature_id: int) -> datetime | None:
    return db.session.scalar(select(VariantWeightChange.effective_at)
                             .where(VariantWeightChange.feature_id == feature_id)
                             .order_by(VariantWeightChange.effective_at.desc()).limit(1))


def _effective(feature: Feature, effective_at: datetime | None) -> datetime:
    """Now by default; never in the future, never before the feature's previous weight change."""
    now = utcnow()
    if effective_at is None:
        return now
    if effective_at.tzinfo is None:
        raise ValidationFailed("invalid variants", [Detail("effective_at", "needs a UTC offset (e.g. Z)")])
    if effective_at > now:
        raise ValidationFailed("invalid variants", [Detail("effective_at", "must not be in the future")])
    last = _last_change(feature.id)
    if last is not None and effective_at < last:
        raise ValidationFailed("invalid variants", [Detail(
            "effective_at", f"must not be before the previous weight change ({iso_utc(last)})")])
    return effective_at


def define(key: str, body: dict | VariantsPut, actor: str, effective_at: datetime | None = None) -> Feature:
    """``PUT /api/v1/features/{key}/variants``: create the split, or change its weights, payloads,
    costs and decision rule. Once variants exist the same names must come back (in any order),
    since removing, adding or reordering variants would reassign people silently.

    :param body: a ``VariantsPut`` (app/schemas/variants.py, which judges the list and the rule) or
        its JSON: ``variants`` (the list as at creation), optional ``rule``, ``reason``.
    :param effective_at: when a weight change took effect (default: the body's, else now; never
        future, never before the previous weight change).
    """
    feature = feature_with_plan(key, for_update=True)
    put = body if isinstance(body, VariantsPut) else parse(VariantsPut, body, "invalid variants")
    specs, reason = put.variants, put.reason
    # What the schema cannot know: the variants the feature has already.
    problems = Collector()
    existing = variants_of(feature.id)
    if existing:
        known = {v.name for v in existing}
        for i, spec in enumerate(specs):
            if spec.name not in known:
                problems.add(f"variants[{i}].name", f"unknown variant {spec.name!r}: the feature has "
                                                    f"{', '.join(sorted(known))}")
        for name in sorted(known - {s.name for s in specs}):
            problems.add("variants", f"variant {name!r} is missing (variants are never removed; "
                                     "give it weight 0)")
    problems.raise_if_any("invalid variants")
    if feature.archived_at is not None:
        raise Conflict(f"feature {feature.key!r} is archived; unarchive it first",
                       [Detail("archived", "archived features keep their variants as they were")])
    at = _effective(feature, effective_at if effective_at is not None else put.effective_at)
    if put.rule is not None:
        rule = put.rule.model_dump()
        before_rule = json.loads(feature.variant_rule) if feature.variant_rule else None
        feature.variant_rule = json.dumps(rule)
        audit(actor, "feature.variants.rule", "feature", feature.key, {"rule": before_rule}, {"rule": rule},
              reason)
    if not existing:
        attach(feature, specs, actor, at)
        return feature
    before = {"variants": [describe(v) for v in existing]}
    by_name = {s.name: s for s in specs}
    weights_changed = any(v.weight != by_name[v.name].weight for v in existing)
    for v in existing:
        spec = by_name[v.name]
        v.weight = spec.weight
        v.payload = json.dumps(spec.payload) if spec.payload is not None else None
        v.cost_per_task_eur = spec.cost_per_task_eur
    db.session.flush()
    if weights_changed:
        _record(feature, "reweight", existing, actor, reason, at, before)
    else:
        audit(actor, "feature.variants.update", "feature", feature.key, before,
              {"variants": [describe(v) for v in existing]}, reason)
        payload_cache.mark_changed()
        sync.queue_sync([feature.id])
    return feature


def promote(key: str, name, actor: str, reason, effective_at: datetime | None = None) -> Feature:
    """Give one variant weight 100 (the others 0): every exposed person gets the winner.

    :raises ValidationFailed: the feature has no variant ``name`` (the rule that needs the
        database), or no reason (``VariantPromotion``'s rule).
    """
    feature = feature_with_plan(key, for_update=True)
    existing = variants_of(feature.id)
    if not existing:
        raise ValidationFailed("invalid promotion", [Detail("variant", f"feature {key!r} has no variants")])
    if name not in {v.name for v in existing}:
        raise ValidationFailed("invalid promotion", [Detail(
            "variant", f"unknown variant {name!r}: the feature has {', '.join(v.name for v in existing)}")])
    why = parse(VariantPromotion, {"reason": reason}, "invalid promotion").reason
    if feature.archived_at is not None:
        raise Conflict(f"feature {feature.key!r} is archived; unarchive it first",
                       [Detail("archived", "archived features keep their variants as they were")])
    at = _effective(feature, effective_at)
    before = {"variants": [describe(v) for v in existing]}
    for v in existing:
        v.weight = 100 if v.name == name else 0
    db.session.flush()
    _record(feature, "promote", existing, actor, why, at, before)
    return feature


def describe(variant: FeatureVariant) -> dict:
    return {"name": variant.name, "weight": variant.weight,
            "payload": json.loads(variant.payload) if variant.payload else None,
            "cost_per_task_eur": variant.cost_per_task_eur}


def history(feature_id: int) -> list[dict]:
    """Every split of the feature's variants with when it took effect, oldest first."""
    change = VariantWeightChange
    changes = db.session.scalars(select(change).where(change.feature_id == feature_id)
                                 .order_by(change.effective_at, change.id))
    return [{"action": c.action, "weights": json.loads(c.weights),
             "effective_at": iso_utc(c.effective_at), "actor": c.actor, "reason": c.reason}
            for c in changes]


def state(feature: Feature) -> dict:
    """The variant part of ``GET /api/v1/features/{key}``."""
    return {"variants": [describe(v) for v in variants_of(feature.id)],
            "variant_rule": json.loads(feature.variant_rule) if feature.variant_rule else None,
            "variant_history": history(feature.id)}


def feature_or_404(key: str) -> Feature:
    feature = db.session.scalar(select(Feature).where(Feature.key == key))
    if feature is None:
        raise NotFound(f"no feature with key {key!r}")
    return feature
