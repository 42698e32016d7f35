"""Corrections of a feature itself: archive and unarchive it, edit the stages it has not reached.

Archiving retires a feature without losing anything: its history, events, KPIs and closed months
stay; it leaves the default lists, its flag is served disabled to everyone (see
app/flags/compile.py for why disabled rather than absent) and it refuses transitions (409) until
it is unarchived, which puts it back at the stage it had. Both are recorded as transitions, so
the rollout history shows them, and audited with the reason.

Stages already reached (the current one and earlier) are the record of what people were exposed
to, so they cannot change (409 naming the stage); later ones can, with the same validation as at
creation. Functions flush, never commit.
"""

from __future__ import annotations

from app.db import db, utcnow
from app.errors import Conflict, Detail, NotFound
from app.flags import sync
from app.models import Feature, RolloutStage, RolloutTransition
from app.schemas.common import parse
from app.schemas.features import ReasonIn, StagePatch, StagesIn
from app.services.audit import audit
from app.services.rollout import exposure
from app.services.rollout import transitions as rollout


def snapshot(feature: Feature) -> dict:
    """The rollout snapshot of the audit log, with the archive state."""
    return {**rollout._snapshot(feature), "archived": feature.archived_at is not None}


def _reason(reason) -> str:
    return parse(ReasonIn, {"reason": reason}, "invalid request").reason


def _conflict_if_archived(feature: Feature) -> None:
    if feature.archived_at is not None:
        raise Conflict(f"feature {feature.key!r} is archived; unarchive it first",
                       [Detail("archived", f"since {rollout._iso(feature.archived_at)}")])


def _record(feature: Feature, action: str, actor: str, reason: str, archived: bool) -> Feature:
    at = rollout._effective(feature, None)  # now; never before the previous transition
    before = snapshot(feature)
    db.session.add(RolloutTransition(
        feature_id=feature.id, action=action, from_stage=feature.current_stage,
        to_stage=feature.current_stage, killed_after=feature.killed, effective_at=at, actor=actor,
        reason=reason,
    ))
    feature.archived_at = at if archived else None
    db.session.flush()
    audit(actor, f"feature.{action}", "feature", feature.key, before, snapshot(feature), reason)
    exposure.audiences_changed(at, [feature.id])  # closes (or reopens) the exposure spells
    sync.queue_sync([feature.id])
    return feature


def archive(key: str, actor: str, reason) -> Feature:
    """Archive a feature: off for everyone, out of the default lists, kept in history.

    :param key: the feature key.
    :param actor: who archives it (audit log, history).
    :param reason: why; required.
    :raises Conflict: it is archived already.
    """
    reason = _reason(reason)
    feature = rollout._load(key, for_update=True)
    _conflict_if_archived(feature)
    return _record(feature, "archive", actor, reason, archived=True)


def unarchive(key: str, actor: str, reason) -> Feature:
    """Bring an archived feature back at the stage (and kill switch) it had. ``reason`` required.

    :raises Conflict: it is not archived.
    """
    reason = _reason(reason)
    feature = rollout._load(key, for_update=True)
    if feature.archived_at is None:
        raise Conflict(f"feature {feature.key!r} is not archived", [Detail("archived", "is false")])
    return _record(feature, "unarchive", actor, reason, archived=False)


def _same(stage: RolloutStage, planned: RolloutStage) -> bool:
    return (stage.name == planned.name and stage.percentage == planned.percentage
            and [c.key for c in stage.cohorts] == sorted(c.key for c in planned.cohorts))


def replace_stages(key: str, stages, actor: str, reason) -> Feature:
    """Replace the stage plan with ``stages`` (the full list, as at creation). The stages reached
    so far (1 .. current) must come back unchanged; later ones may change, be added or removed.

    :param key: the feature key.
    :param stages: ``[{"name", "cohorts", "percentage"}, ...]``.
    :param actor: who edits (audit log, with the plan before and after).
    :param reason: why; required.
    :raises ValidationFailed: a stage invalid as at creation (named ``stages[i].field``).
    :raises Conflict: a reached stage differs or is missing (named ``stages[i]``), or the feature
        is archived.
    """
    known = rollout.plan_cohorts(stages)
    plan = parse(StagesIn, {"stages": stages, "reason": reason}, "invalid stages",
                 context={"cohorts": known})
    planned, reason = rollout.planned_stages(plan.stages, known), plan.reason
    feature = rollout._load(key, for_update=True)
    _conflict_if_archived(feature)
    current = {s.position: s for s in feature.stages}
    reached = [Detail(f"stages[{p - 1}]", f"stage {p} ({current[p].name!r}) has been reached "
                      f"(the feature is at stage {feature.current_stage}): it cannot change")
               for p in range(1, feature.current_stage + 1)
               if p in current and (p > len(planned) or not _same(current[p], planned[p - 1]))]
    if reached:
        raise Conflict("only stages not yet reached can change", reached)
    before = snapshot(feature)
    _apply(feature, planned)
    db.session.flush()
    audit(actor, "feature.stages", "feature", feature.key, before, snapshot(feature), reason)
    # Segments list every stage's cohorts: the payload may change even if no audience does.
    exposure.audiences_changed(utcnow(), [feature.id])
    sync.queue_sync([feature.id])
    return feature


def _apply(feature: Feature, planned: list[RolloutStage]) -> None:
    """Write the plan's later stages in place (rows keep their ids), drop the surplus, add the new."""
    by_position = {s.position: s for s in feature.stages}
    for position, stage in by_position.items():
        if position > feature.current_stage and position > len(planned):
            feature.stages.remove(stage)  # delete-orphan: the row and its cohort links go
    for new in planned[feature.current_stage:]:
        existing = by_position.get(new.position)
        if existing is None:
            feature.stages.append(new)
        else:
            existing.name, existing.percentage, existing.cohorts = new.name, new.percentage, list(new.cohorts)


def patch_stage(key: str, position: int, changes, actor: str) -> Feature:
    """Change one stage not yet reached: ``changes`` holds any of name, cohorts, percentage, and a
    required ``reason``; the rest of the plan stays as it is.

    :raises NotFound: the feature has no stage at ``position``.
    :raises Conflict: the stage has been reached (or the feature is archived).
    """
    feature = rollout._load(key)
    plan = [{"name": s.name, "cohorts": [c.key for c in s.cohorts], "percentage": s.percentage}
            for s in feature.stages]
    if not 1 <= position <= len(plan):
        raise NotFound(f"feature {feature.key!r} has no stage {position} (it has {len(plan)})")
    if position <= feature.current_stage:
        raise Conflict("only stages not yet reached can change", [Detail(
            f"stages[{position - 1}]", f"stage {position} ({plan[position - 1]['name']!r}) has been "
            f"reached (the feature is at stage {feature.current_stage}): it cannot change")])
    patch = parse(StagePatch, changes, "invalid stage")
    plan[position - 1].update(patch.model_dump(include=patch.given() - {"reason"}))
    return replace_stages(key, plan, actor, patch.reason)
