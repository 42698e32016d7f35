"""A feature's variants: define them, change their weights, promote one, state the decision rule.

The weights are a split of the feature's exposed people (percent, summing to 100), served to the
SDKs with ``stickiness: userId`` (app/flags/compile.py). A change of weights is a transition of
the split: validated first (nothing changes when it fails), recorded as a ``VariantWeightChange``
with its effective time and audited, so who had which variant when can be replayed exactly
(app/services/kpi_reads/variant_exposure.py). Variants are never removed or reordered once
recorded: Unleash assigns by walking the list in order, so either would move people silently.
Functions flush and never commit.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime

from sqlalchemy import select

from app import plausible
from app.db import db, utcnow
from app.errors import Collector, Conflict, Detail, NotFound, ValidationFailed
from app.flags import payload_cache, sync
from app.formats import iso_utc
from app.models import Feature, FeatureVariant, VariantWeightChange
from app.models.variants import VARIANT_NAME_MAX
from app.services.audit import audit
from app.services.lookups import feature_with_plan, variants_of

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,99}$")
VARIANT_FIELDS = ("name", "weight", "payload", "cost_per_task_eur")
PAYLOAD_MAX_CHARS = 10_000
OBJECTIVES = ("cost_per_task", "net_eur_per_person")
RULE_FIELDS = ("control", "max_error_rate_increase", "objective")


def _variant(item, where: str, problems: Collector) -> dict | None:
    if not isinstance(item, dict):
        problems.add(where, "must be an object {name, weight, payload?, cost_per_task_eur?}")
        return None
    for field in item:
        if field not in VARIANT_FIELDS:
            problems.add(f"{where}.{field}", "unknown field")
    name = item.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or name == "disabled":
        problems.add(f"{where}.name", f"must be 1-{VARIANT_NAME_MAX} letters, digits, '.', '_', '-' or "
                                      "spaces, starting with a letter or digit (not 'disabled', "
                                      "which SDKs answer when the feature is off)")
        name = None
    weight = item.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
        problems.add(f"{where}.weight", f"must be an integer percentage from 0 to 100, not {weight!r}")
        weight = None
    payload = item.get("payload")
    if payload is not None:
        text = json.dumps(payload, sort_keys=True) if isinstance(payload, dict) else ""
        if not isinstance(payload, dict) or len(text) > PAYLOAD_MAX_CHARS:
            problems.add(f"{where}.payload", f"must be a JSON object of at most {PAYLOAD_MAX_CHARS} "
                                             "characters (vendor, model, prompt version, settings)")
            payload = None
    cost = item.get("cost_per_task_eur")
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int | float)
                             or not math.isfinite(cost) or not 0 <= cost <= plausible.MAX_AMOUNT_EUR):
        problems.add(f"{where}.cost_per_task_eur",
                     f"must be a number from 0 to {plausible.figure(plausible.MAX_AMOUNT_EUR)}")
        cost = None
    return {"name": name, "weight": weight, "payload": payload,
            "cost_per_task_eur": None if cost is None else float(cost)}


def parse_variants(raw, problems: Collector, field: str = "variants") -> list[dict]:
    """Validated variant specs in order, each problem a detail naming ``variants[i].field``.

    An empty list means no variants; otherwise the names are unique and the weights sum to 100.
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add(field, "must be a list of {name, weight, payload?, cost_per_task_eur?}")
        return []
    specs = [_variant(item, f"{field}[{i}]", problems) for i, item in enumerate(raw)]
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        if spec and spec["name"] is not None:
            if spec["name"] in seen:
                problems.add(f"{field}[{i}].name", f"duplicate variant name {spec['name']!r}")
            seen.add(spec["name"])
    weights = [s["weight"] for s in specs if s and s["weight"] is not None]
    if specs and len(weights) == len(specs) and sum(weights) != 100:
        problems.add(f"{field}", f"the weights must sum to 100, not {sum(weights)}")
    return [s for s in specs if s]


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


def attach(feature: Feature, specs: list[dict], actor: str, at: datetime | None = None) -> None:
    """Give a feature without variants its variants (creation of the feature or of its split)."""
    rows = [FeatureVariant(feature_id=feature.id, position=i + 1, name=s["name"], weight=s["weight"],
                           payload=json.dumps(s["payload"]) if s["payload"] is not None else None,
                           cost_per_task_eur=s["cost_per_task_eur"]) for i, s in enumerate(specs)]
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


def _rule(raw, names: list[str], problems: Collector) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.add("rule", "must be an object {control, max_error_rate_increase, objective}")
        return None
    for field in raw:
        if field not in RULE_FIELDS:
            problems.add(f"rule.{field}", "unknown field")
    control = raw.get("control")
    if control not in names:
        problems.add("rule.control", f"must name one of the feature's variants ({', '.join(names)})")
    margin = raw.get("max_error_rate_increase", 0.0)
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 <= margin <= 1:
        problems.add("rule.max_error_rate_increase", "must be a share from 0 to 1 (0.02 = 2 points)")
    objective = raw.get("objective", "cost_per_task")
    if objective not in OBJECTIVES:
        problems.add("rule.objective", f"must be one of {', '.join(OBJECTIVES)}")
    return {"control": control, "max_error_rate_increase": margin, "objective": objective}


def define(key: str, body: dict, actor: str, effective_at: datetime | None = None) -> Feature:
    """``PUT /api/v1/features/{key}/variants``: create the split, or change its weights, payloads,
    costs and decision rule. Once variants exist the same names must come back (in any order),
    since removing, adding or reordering variants would reassign people silently.

    :param body: ``variants`` (the list as at creation), optional ``rule``, ``reason``.
    :param effective_at: when a weight change took effect (now by default, never future, never
        before the previous weight change).
    """
    feature = feature_with_plan(key, for_update=True)
    problems = Collector()
    specs = parse_variants(body.get("variants"), problems)
    if body.get("variants") is None:
        problems.add("variants", "is required: the whole list {name, weight, payload?, cost_per_task_eur?}")
    elif not specs and not problems.details:
        problems.add("variants", "must not be empty")
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 2000):
        problems.add("reason", "must be a string of at most 2000 characters")
    existing = variants_of(feature.id)
    names = [s["name"] for s in specs]
    if existing:
        known = {v.name for v in existing}
        for i, spec in enumerate(specs):
            if spec["name"] is not None and spec["name"] not in known:
                problems.add(f"variants[{i}].name", f"unknown variant {spec['name']!r}: the feature has "
                                                    f"{', '.join(sorted(known))}")
        for name in sorted(known - set(names)):
            problems.add("variants", f"variant {name!r} is missing (variants are never removed; "
                                     "give it weight 0)")
    rule = _rule(body.get("rule"), names, problems)
    problems.raise_if_any("invalid variants")
    if feature.archived_at is not None:
        raise Conflict(f"feature {feature.key!r} is archived; unarchive it first",
                       [Detail("archived", "archived features keep their variants as they were")])
    at = _effective(feature, effective_at)
    if rule is not None:
        before_rule = json.loads(feature.variant_rule) if feature.variant_rule else None
        feature.variant_rule = json.dumps(rule)
        audit(actor, "feature.variants.rule", "feature", feature.key, {"rule": before_rule}, {"rule": rule},
              reason)
    if not existing:
        attach(feature, specs, actor, at)
        return feature
    before = {"variants": [describe(v) for v in existing]}
    by_name = {s["name"]: s for s in specs}
    weights_changed = any(v.weight != by_name[v.name]["weight"] for v in existing)
    for v in existing:
        spec = by_name[v.name]
        v.weight = spec["weight"]
        v.payload = json.dumps(spec["payload"]) if spec["payload"] is not None else None
        v.cost_per_task_eur = spec["cost_per_task_eur"]
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

    :raises NotFound: the feature has no variant ``name``; :raises ValidationFailed: no reason.
    """
    feature = feature_with_plan(key, for_update=True)
    existing = variants_of(feature.id)
    if not existing:
        raise ValidationFailed("invalid promotion", [Detail("variant", f"feature {key!r} has no variants")])
    if name not in {v.name for v in existing}:
        raise ValidationFailed("invalid promotion", [Detail(
            "variant", f"unknown variant {name!r}: the feature has {', '.join(v.name for v in existing)}")])
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed("invalid promotion", [Detail("reason", "a reason is required")])
    if feature.archived_at is not None:
        raise Conflict(f"feature {feature.key!r} is archived; unarchive it first",
                       [Detail("archived", "archived features keep their variants as they were")])
    at = _effective(feature, effective_at)
    before = {"variants": [describe(v) for v in existing]}
    for v in existing:
        v.weight = 100 if v.name == name else 0
    db.session.flush()
    _record(feature, "promote", existing, actor, reason.strip(), at, before)
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
