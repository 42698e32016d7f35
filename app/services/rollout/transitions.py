"""Staged rollouts: create a feature's plan; advance, roll back, kill and resume it.

Every transition is validated first (nothing changes when it fails), then written as a
``RolloutTransition`` and an ``AuditEntry`` with the state before and after, then the exposure
spells and the flag payload follow. Functions flush and never commit.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import plausible
from app.db import db, utcnow
from app.errors import Collector, Conflict, Detail, ValidationFailed
from app.flags import sync
from app.formats import iso_utc as _iso
from app.models import AuditEntry, Cohort, Feature, RolloutStage, RolloutTransition
from app.schemas.common import refuse, validate
from app.schemas.features import FeatureIn, StageIn
from app.services.audience.stages import People, stage_audience
from app.services.lookups import feature_with_plan as _load
from app.services.rollout import exposure


def plan_cohorts(raw) -> dict[str, Cohort]:
    """The cohorts a raw stage plan names that exist, by key: the context ``StageIn`` judges
    ``unknown cohort`` with, so a bad plan is refused with every problem at once."""
    stages = raw if isinstance(raw, list) else []
    keys = {k for s in stages if isinstance(s, dict) for k in (s.get("cohorts") or [])
            if isinstance(k, str)}
    if not keys:
        return {}
    return {c.key: c for c in db.session.scalars(select(Cohort).where(Cohort.key.in_(keys)))}


def planned_stages(stages: list[StageIn], known: dict[str, Cohort]) -> list[RolloutStage]:
    """Rows of a parsed plan (positions from 1; a cohort named twice counts once)."""
    return [RolloutStage(position=i + 1, name=s.name, percentage=s.percentage,
                         cohorts=[known[k] for k in dict.fromkeys(s.cohorts)])
            for i, s in enumerate(stages)]


def create_feature(spec: dict | FeatureIn, actor: str) -> Feature:
    """Create a feature and its stage plan from the body of ``POST /api/v1/features``.

    :param spec: a ``FeatureIn`` (app/schemas/features.py) or its JSON: ``key``, ``name``, the
        optional ``description``, ``owner``, ``baseline_days``, ``estimated_minutes_saved``,
        ``per_event_cost_eur``, ``stages`` (each ``name``, ``cohorts`` as cohort keys,
        ``percentage`` 0-100) and optional ``variants`` (each ``name``, ``weight`` percent summing
        to 100, ``payload``, ``cost_per_task_eur``).
    :param actor: who creates it (written to the audit log).
    """
    from app.services.rollout import variants as variant_split  # it builds on this module

    raw = spec.model_dump() if isinstance(spec, FeatureIn) else spec
    known = plan_cohorts(raw.get("stages") if isinstance(raw, dict) else None)
    problems = Collector()
    # The variant list is judged whole by the schema (app/schemas/variants.py), with the plan.
    plan = validate(FeatureIn, raw, problems, context={"cohorts": known})
    refuse(problems, "invalid feature")
    assert plan is not None  # refuse raised otherwise
    if db.session.scalar(select(Feature.id).where(Feature.key == plan.key)) is not None:
        raise Conflict(f"a feature with key {plan.key!r} exists already", [Detail("key", "already taken")])
    feature = Feature(
        key=plan.key, name=plan.name, description=plan.description, owner=plan.owner or actor,
        baseline_days=plan.baseline_days,
        estimated_minutes_saved=plan.estimated_minutes_saved or 0.0,
        per_event_cost_eur=plan.per_event_cost_eur or 0.0,
        current_stage=0, killed=False,
    )
    feature.stages = planned_stages(plan.stages, known)
    db.session.add(feature)
    db.session.flush()
    _audit(actor, "feature.create", feature, None, _snapshot(feature), None)
    if plan.variants:
        variant_split.attach(feature, plan.variants, actor)
    exposure.audiences_changed(utcnow(), [feature.id])
    sync.queue_sync([feature.id])
    return feature


def _stage_name(feature: Feature, position: int) -> str | None:
    return next((s.name for s in feature.stages if s.position == position), None)


def _snapshot(feature: Feature) -> dict:
    return {
        "current_stage": feature.current_stage,
        "current_stage_name": _stage_name(feature, feature.current_stage),
        "killed": feature.killed,
        "stages": [
            {"position": s.position, "name": s.name, "cohorts": [c.key for c in s.cohorts],
             "percentage": s.percentage}
            for s in feature.stages
        ],
    }


def _audit(actor: str, action: str, feature: Feature, before: dict | None, after: dict,
           reason: str | None) -> None:
    db.session.add(AuditEntry(
        actor=actor, action=action, entity_type="feature", entity_key=feature.key,
        before=json.dumps(before) if before is not None else None, after=json.dumps(after), reason=reason,
    ))


def _effective(feature: Feature, effective_at: datetime | None) -> datetime:
    now = utcnow()
    if effective_at is None:
        effective_at = now
    elif effective_at.tzinfo is None:
        raise ValidationFailed(
            "invalid transition", [Detail("effective_at", "needs a UTC offset (e.g. Z)")]
        )
    else:
        problems = Collector()
        moment = plausible.to_utc(effective_at, "effective_at", None, problems)
        problems.raise_if_any("invalid transition")
        assert moment is not None  # to_utc gives None only with a problem
        effective_at = moment
    if effective_at > now:
        raise ValidationFailed("invalid transition", [Detail("effective_at", "must not be in the future")])
    last = db.session.scalar(
        select(RolloutTransition.effective_at)
        .where(RolloutTransition.feature_id == feature.id)
        .order_by(RolloutTransition.effective_at.desc())
        .limit(1)
    )
    if last is not None and effective_at < last:
        raise ValidationFailed("invalid transition", [
            Detail("effective_at", f"must not be before the previous transition ({_iso(last)})")
        ])
    return effective_at


def _reason(reason: str | None, required: bool) -> str | None:
    if reason is None and not required:
        return None
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed("invalid transition", [Detail("reason", "a reason is required")])
    return reason.strip()


def _transition(feature: Feature, action: str, actor: str, reason: str | None, at: datetime,
                to_stage: int, killed: bool, gate_result: str | None = None) -> Feature:
    if feature.archived_at is not None:  # retired: unarchive first (app/services/rollout/feature_plan.py)
        raise Conflict(f"feature {feature.key!r} is archived; unarchive it before any transition",
                       [Detail("archived", f"since {_iso(feature.archived_at)}")])
    before = _snapshot(feature)
    db.session.add(RolloutTransition(
        feature_id=feature.id, action=action, from_stage=feature.current_stage, to_stage=to_stage,
        killed_after=killed, effective_at=at, actor=actor, reason=reason, gate_result=gate_result,
    ))
    feature.current_stage = to_stage
    feature.killed = killed
    db.session.flush()
    _audit(actor, f"feature.{action}", feature, before, _snapshot(feature), reason)
    exposure.audiences_changed(at, [feature.id])
    sync.queue_sync([feature.id])
    return feature


def check_advance(key: str, reason: str | None = None,
                  effective_at: datetime | None = None) -> tuple[Feature, datetime]:
    """Lock the feature and check that it can move to its next stage, changing nothing.

    :returns: the feature and the instant the advance would take effect.
    :raises Conflict: at the last stage already; :raises ValidationFailed: bad reason or instant.
    """
    feature = _load(key, for_update=True)
    _reason(reason, required=False)
    if feature.current_stage >= len(feature.stages):
        raise Conflict("cannot advance past the last stage",
                       [Detail("current_stage", f"already at the last stage ({feature.current_stage})")])
    return feature, _effective(feature, effective_at)


def advance(key: str, actor: str, reason: str | None = None,
            effective_at: datetime | None = None, gate_result: str | None = None) -> Feature:
    """Move the feature to its next stage (the first call starts stage 1), without judging a gate:
    every user-facing advance goes through ``app.services.rollout.gates.advance_stage``, which judges the
    gate first and calls this.

    :param key: the feature key.
    :param actor: who decided (audit log).
    :param reason: optional for an advance.
    :param effective_at: when it took effect; now by default, never future, never before the
        previous transition.
    :param gate_result: the gate evaluation (JSON text) this advance was judged on, kept on the
        transition.
    """
    feature, at = check_advance(key, reason, effective_at)
    return _transition(feature, "advance", actor, _reason(reason, required=False), at,
                       feature.current_stage + 1, feature.killed, gate_result)


def rollback(key: str, actor: str, reason: str | None, effective_at: datetime | None = None) -> Feature:
    """Move the feature back one stage (from stage 1 back to off). ``reason`` is required."""
    feature = _load(key, for_update=True)
    reason = _reason(reason, required=True)
    if feature.current_stage <= 0:
        raise Conflict("cannot roll back: the feature is off", [Detail("current_stage", "already off (0)")])
    at = _effective(feature, effective_at)
    return _transition(feature, "rollback", actor, reason, at, feature.current_stage - 1, feature.killed)


def kill(key: str, actor: str, reason: str | None, effective_at: datetime | None = None) -> Feature:
    """Turn the feature off for everyone, keeping its stage for ``resume``. ``reason`` is required."""
    feature = _load(key, for_update=True)
    reason = _reason(reason, required=True)
    if feature.killed:
        raise Conflict("the feature is killed already", [Detail("killed", "already true")])
    at = _effective(feature, effective_at)
    return _transition(feature, "kill", actor, reason, at, feature.current_stage, True)


def resume(key: str, actor: str, reason: str | None, effective_at: datetime | None = None) -> Feature:
    """Lift the kill switch: the feature is back at its stage. ``reason`` is required."""
    feature = _load(key, for_update=True)
    reason = _reason(reason, required=True)
    if not feature.killed:
        raise Conflict("the feature is not killed", [Detail("killed", "is false: nothing to resume")])
    at = _effective(feature, effective_at)
    return _transition(feature, "resume", actor, reason, at, feature.current_stage, False)


def feature_state(key: str) -> dict:
    """The JSON body of ``GET /api/v1/features/{key}``: plan, audiences, current state, history."""
    from app.services.rollout import variants as variant_split  # it builds on this module

    feature = _load(key)
    people = People()
    transitions = db.session.scalars(
        select(RolloutTransition).where(RolloutTransition.feature_id == feature.id)
        .order_by(RolloutTransition.effective_at, RolloutTransition.id)
    )
    return {
        **summary(feature),
        "description": feature.description,
        "owner": feature.owner,
        "baseline_days": feature.baseline_days,
        "estimated_minutes_saved": feature.estimated_minutes_saved,
        "per_event_cost_eur": feature.per_event_cost_eur,
        **variant_split.state(feature),
        "stages": [
            {
                "position": s.position,
                "name": s.name,
                "cohorts": [c.key for c in s.cohorts],
                "percentage": s.percentage,
                "audience_size": len(stage_audience(feature, s.position, people)),
            }
            for s in feature.stages
        ],
        "history": [
            {
                "action": t.action,
                "from_stage": t.from_stage,
                "to_stage": t.to_stage,
                "killed": t.killed_after,
                "effective_at": _iso(t.effective_at),
                "actor": t.actor,
                "reason": t.reason,
                **gate_of_transition(t),
            }
            for t in transitions
        ],
    }


def gate_of_transition(transition: RolloutTransition) -> dict:
    """Whether a transition went past a failed gate (an override) and the criteria that failed.

    An advance is only recorded past a failed gate when someone overrode it with a reason, so a
    kept gate result that did not pass *is* the override."""
    if not transition.gate_result:
        return {"override": False, "gate": None}
    result = json.loads(transition.gate_result)
    failed = [{"criterion": c["metric"], "message": c.get("message", "")}
              for c in result.get("criteria", []) if not c.get("passed")]
    return {"override": not result.get("passed", True),
            "gate": {"passed": bool(result.get("passed")), "evaluation": result.get("evaluation_id"),
                     "failed": failed}}


def summary(feature: Feature) -> dict:
    """The short form used in listings."""
    return {
        "key": feature.key,
        "name": feature.name,
        "current_stage": feature.current_stage,
        "current_stage_name": _stage_name(feature, feature.current_stage),
        "stage_count": len(feature.stages),
        "killed": feature.killed,
        "archived": feature.archived_at is not None,
        "archived_at": _iso(feature.archived_at),
        "exposed_now": exposure.exposed_now(feature.id),
    }


def list_features(include_archived: bool = False) -> list[dict]:
    """Every feature in short form, by key (``GET /api/v1/features``); archived ones only when
    ``include_archived``."""
    query = select(Feature).options(selectinload(Feature.stages)).order_by(Feature.key)
    if not include_archived:
        query = query.where(Feature.archived_at.is_(None))
    return [summary(f) for f in db.session.scalars(query)]
