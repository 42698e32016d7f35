"""Compile rollouts into the Unleash client-API body, the one format SDKs and Unleash servers share.

Cohorts become global segments (``userId IN members``) so an SDK needs nothing but ``userId``
(or, for an SDK that asks for it, ``liftoffCohorts STR_CONTAINS ",<cohort key>,"``: a payload that
does not grow with the cohorts, docs/rollouts.md);
each live cohort gets its own strategy because Unleash ANDs the segments of one strategy, and the
strategies of a feature are ORed. ``production`` follows the plan; ``development`` serves every
feature that is not killed (nor archived) to everybody, so developers can try it before the champions do.

A feature's variants ride on each of its strategies (Unleash's strategy variants) with
``stickiness: userId``: whichever strategy lets a person in, the engine hashes
``"<feature key>:<userId>"`` (the strategy's ``groupId``) with the variant seed over the same
weights, so the person gets the same variant whatever their cohort, and keeps it as a ramp grows.
Weights are sent as Unleash's per-mille (percent x 10); every variant but the last is ``fix`` so
a real Unleash server keeps the split as given rather than spreading it evenly.
"""

from __future__ import annotations

import json
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.db import db
from app.models import ENVIRONMENTS, Cohort, CohortMember, Feature, FeatureVariant, Person, RolloutStage

# The context field an application fills with a person's cohort keys, comma-delimited on both sides
# (",pilots,champions,"): cohort keys hold no comma, so ",key," matches exactly one cohort.
COHORT_CONTEXT = "liftoffCohorts"
PRODUCTION = "production"
DEVELOPMENT = "development"


def _rollout(key: str, percentage: int, segments: list[int]) -> dict:
    return {
        "name": "flexibleRollout",
        "parameters": {"rollout": str(percentage), "stickiness": "userId", "groupId": key},
        "constraints": [],
        "segments": segments,
    }


def _production_strategies(feature: Feature) -> list[dict]:
    live = [s for s in feature.stages if s.position <= feature.current_stage]  # in position order
    if not live:
        # Off: disabled, no strategies. On without stage rows up to the current stage: nobody, as
        # an explicit 0 % (no strategies would mean everybody).
        return [_rollout(feature.key, 0, [])] if feature.current_stage > 0 else []
    cohorts: dict[int, Cohort] = {c.id: c for s in live for c in s.cohorts}
    strategies = [
        _rollout(feature.key, 100, [cohort.id])
        for cohort in sorted(cohorts.values(), key=lambda c: c.key)
    ]
    percentage = live[-1].percentage
    # Unleash enables a feature with no strategies for everybody, so an empty stage needs a 0 %.
    if percentage > 0 or not strategies:
        strategies.append(_rollout(feature.key, percentage, []))
    return strategies


def compile_variants(variants: list[FeatureVariant]) -> list[dict]:
    """The feature's variants as Unleash strategy variants, in their recorded order."""
    out = []
    for i, v in enumerate(variants):
        variant = {"name": v.name, "weight": v.weight * 10, "stickiness": "userId",
                   "weightType": "variable" if i == len(variants) - 1 else "fix"}
        if v.payload is not None:
            # Keys sorted: the same payload always compiles to the same text (ETag, drift checks).
            variant["payload"] = {"type": "json", "value": json.dumps(json.loads(v.payload), sort_keys=True,
                                                                    separators=(",", ":"))}
        out.append(variant)
    return out


def _variants_by_feature(feature_ids: list[int]) -> dict[int, list[FeatureVariant]]:
    out: dict[int, list[FeatureVariant]] = defaultdict(list)
    if feature_ids:
        for v in db.session.scalars(select(FeatureVariant).where(FeatureVariant.feature_id.in_(feature_ids))
                                    .order_by(FeatureVariant.feature_id, FeatureVariant.position)):
            out[v.feature_id].append(v)
    return out


def compile_feature(feature: Feature, environment: str, variants: list[FeatureVariant] | None = None) -> dict:
    """One feature as the Unleash client API shows it in ``environment``.

    :param feature: the feature with its stages and their cohorts.
    :param environment: ``production`` (the rollout plan) or ``development`` (everyone).
    :param variants: its variants in order (read when None).
    """
    if variants is None:
        variants = _variants_by_feature([feature.id])[feature.id]
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r}")
    strategies: list[dict]
    if feature.archived_at is not None:
        # Served disabled rather than left out: an SDK answers an unknown flag with the app's own
        # fallback (which may be "on"); a disabled one is off for everyone, whatever the app says.
        enabled, strategies = False, []
    elif environment == DEVELOPMENT:
        enabled = not feature.killed
        strategies = [{"name": "default", "parameters": {}, "constraints": [], "segments": []}]
    else:
        enabled = not feature.killed and feature.current_stage > 0
        strategies = _production_strategies(feature)
    if variants:
        compiled = compile_variants(variants)
        strategies = [{**strategy, "variants": compiled} for strategy in strategies]
    return {
        "name": feature.key,
        "type": "release",
        "enabled": enabled,
        "project": "default",
        "stale": feature.archived_at is not None,
        "strategies": strategies,
        "variants": [],
        "impressionData": False,
    }


def _constraint(context: str, operator: str, values: list[str]) -> dict:
    return {"contextName": context, "operator": operator, "values": values, "inverted": False,
            "caseInsensitive": False}


def _segments(features: list[Feature], cohorts_by_context: bool = False) -> list[dict]:
    cohorts = {c.id: c for f in features for s in f.stages for c in s.cohorts}
    if not cohorts:
        return []
    ordered = sorted(cohorts.values(), key=lambda c: c.id)
    if cohorts_by_context:
        # One short constraint per cohort, whatever its size: the application names the person's
        # cohorts in the context instead of the payload listing every member.
        return [{"id": cohort.id, "name": cohort.key,
                 "constraints": [_constraint(COHORT_CONTEXT, "STR_CONTAINS", [f",{cohort.key},"])]}
                for cohort in ordered]
    members: dict[int, list[str]] = defaultdict(list)
    rows = db.session.execute(
        select(CohortMember.cohort_id, Person.person_id)
        .join(Person, Person.id == CohortMember.person_id)
        .where(CohortMember.cohort_id.in_(list(cohorts)))
    )
    for cohort_id, person_id in rows:
        members[cohort_id].append(person_id)
    return [{"id": cohort.id, "name": cohort.key,
             "constraints": [_constraint("userId", "IN", sorted(members[cohort.id]))]}
            for cohort in ordered]


def compile_payload(environment: str, cohorts_by_context: bool = False) -> dict:
    """The whole ``GET /api/client/features`` body for one environment.

    :param environment: ``production`` or ``development``.
    :param cohorts_by_context: cohort segments test the ``liftoffCohorts`` context field instead
        of listing every member's ``userId`` (the compact form an SDK opts into).
    """
    features = list(
        db.session.scalars(
            select(Feature)
            .options(selectinload(Feature.stages).selectinload(RolloutStage.cohorts))
            .order_by(Feature.key)
        )
    )
    variants = _variants_by_feature([f.id for f in features])
    return {
        "version": 2,
        "features": [compile_feature(f, environment, variants[f.id]) for f in features],
        "segments": _segments(features, cohorts_by_context),
        "query": {"environment": environment, "inlineSegmentConstraints": False},
    }
