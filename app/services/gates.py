"""Stage gates: is a feature's current stage ready to move on? Evaluated, stored, and acted on.

Every KPI a gate reads comes through ``stage_kpis``, the single adapter to the KPI module.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime

from sqlalchemy import func, select

from app.db import db, utcnow
from app.errors import Conflict, Detail, LiftoffError, ValidationFailed
from app.models import Feature, Feedback, GateEvaluation, RolloutTransition
from app.playbooks import Criterion
from app.services import kpis, rollout, rollups
from app.services.audit import audit
from app.services.enablement import feature_by_key, playbook_of, training_completion

AUTO_ACTOR = "gate:auto"
log = logging.getLogger(__name__)


def refresh_kpis() -> None:
    """Bring the KPI rollups up to the events accepted so far: a gate or guardrail must not judge
    on numbers older than the last refresh-kpis run (incremental, cheap when nothing is new)."""
    rollups.refresh()


def stage_kpis(feature: Feature, start: date, end: date) -> dict:
    """The KPI answer (contract field names, Wilson intervals included) for the closed day window
    [start, end], from the one KPI module every view uses."""
    return kpis.feature_kpis(feature.key, start, end)


def stage_entered_at(feature: Feature) -> datetime | None:
    """When the feature entered its current stage: the last advance or rollback that led there."""
    return db.session.scalar(
        select(RolloutTransition.effective_at).where(
            RolloutTransition.feature_id == feature.id,
            RolloutTransition.to_stage == feature.current_stage,
            RolloutTransition.from_stage != RolloutTransition.to_stage)
        .order_by(RolloutTransition.effective_at.desc(), RolloutTransition.id.desc()).limit(1))


def _judge(criterion: Criterion, feature: Feature, kpis: dict, days: int, entered: datetime,
           now: datetime) -> dict:
    t = criterion.threshold
    out: dict = {"metric": criterion.metric, "parameter": criterion.parameter, "threshold": t}
    metric = criterion.metric
    if metric == "days_in_stage":
        out.update(value=days, passed=days >= t)
    elif metric in ("exposed_users", "time_saved_hours"):
        value = kpis[metric]
        out.update(value=value, passed=value is not None and value >= t)
    elif metric == "adoption_rate":
        value = kpis["adoption_rate"]
        out.update(value=value, ci_low=kpis["adoption_rate_ci_low"], ci_high=kpis["adoption_rate_ci_high"],
                   exposed_users=kpis["exposed_users"], passed=value is not None and value >= t)
    elif metric == "error_rate":
        value, base = kpis["error_rate"], kpis["baseline_error_rate"]
        low, high = kpis["error_rate_ci_low"], kpis["error_rate_ci_high"]
        out.update(value=value, baseline=base, ci_low=low, ci_high=high)
        if value is None or base is None:
            out.update(passed=False, note="no AI outcomes yet" if value is None else "no baseline")
        else:
            limit = base + t
            # Worse by more than allowed only when the whole interval is above the limit.
            out.update(limit=limit, passed=low <= limit,
                       difference_outside_interval=not (low <= base <= high),
                       note=("whole 95 % interval above the limit" if low > limit else
                             "interval spans the limit: not shown to be worse" if high > limit else
                             "whole 95 % interval within the limit"))
    elif metric == "training_completion":
        done, audience = training_completion(feature, feature.current_stage)
        pct = 100.0 * done / audience if audience else None
        out.update(value=pct, completed=done, audience=audience, passed=pct is not None and pct >= t)
    elif metric == "feedback_mean":
        mean, count = db.session.execute(select(func.avg(Feedback.rating), func.count(Feedback.id)).where(
            Feedback.feature_id == feature.id, Feedback.occurred_at >= entered,
            Feedback.occurred_at <= now)).one()
        value = float(mean) if mean is not None else None
        out.update(value=value, responses=count, passed=value is not None and value >= t)
    elif metric == "open_critical_feedback":
        # Critical feedback stays open until someone verifies its fix.
        count = db.session.scalar(select(func.count(Feedback.id)).where(
            Feedback.feature_id == feature.id, Feedback.severity == "critical",
            Feedback.status != "verified"))
        out.update(value=count, passed=count <= t)
    return out


def evaluate_gate(feature_key: str, trigger: str = "manual", now: datetime | None = None,
                  refresh: bool = False) -> GateEvaluation:
    """Evaluate the gate of the feature's current stage from its playbook, and store the result.

    :param trigger: ``manual``, ``api`` or ``schedule``.
    :param refresh: bring the KPI rollups up to date first. Only jobs may: a request judges on the
        last refresh-kpis run (the scheduler keeps it fresh) and never refreshes inline.
    :raises Conflict: when the feature is off or killed (no stage to judge).
    """
    now = now or utcnow()
    if refresh:
        refresh_kpis()
    feature = feature_by_key(feature_key)
    if feature.current_stage == 0 or feature.killed:
        raise Conflict(f"feature {feature.key} is {'killed' if feature.killed else 'not started'}; "
                       "there is no stage gate to evaluate")
    playbook = playbook_of(feature)
    stage = playbook.stage(feature.current_stage)
    entered = stage_entered_at(feature) or now
    days = (now - entered).days
    kpis = stage_kpis(feature, entered.date(), now.date())
    criteria = [_judge(c, feature, kpis, days, entered, now) for c in stage.gate]
    passed = all(c["passed"] for c in criteria)
    result = {
        "feature": feature.key, "playbook": playbook.key, "stage": feature.current_stage,
        "playbook_stage": stage.name, "evaluated_at": now.isoformat(), "passed": passed,
        "window": {"start": entered.date().isoformat(), "end": now.date().isoformat(),
                   "entered_stage_at": entered.isoformat()},
        "criteria": criteria,
    }
    evaluation = GateEvaluation(feature_id=feature.id, stage_position=feature.current_stage,
                                playbook_key=playbook.key, evaluated_at=now, trigger=trigger,
                                passed=passed, result=json.dumps(result))
    db.session.add(evaluation)
    db.session.flush()
    return evaluation


def evaluation_dict(evaluation: GateEvaluation) -> dict:
    return {"id": evaluation.id, "trigger": evaluation.trigger,
            "transition_id": evaluation.transition_id, **json.loads(evaluation.result)}


def _attach(feature: Feature, evaluation: GateEvaluation) -> RolloutTransition:
    transition = db.session.scalar(select(RolloutTransition).where(
        RolloutTransition.feature_id == feature.id).order_by(RolloutTransition.id.desc()).limit(1))
    transition.gate_result = evaluation.result
    evaluation.transition_id = transition.id
    db.session.flush()
    return transition


def promote(feature_key: str, actor: str, reason: str | None = None, override: bool = False,
            now: datetime | None = None) -> tuple[Feature, GateEvaluation]:
    """Manual promotion: evaluate the gate, advance the feature, attach the result to the transition.

    :param override: promote although the gate failed; needs a ``reason`` and is audited.
    :raises Conflict: when the gate failed and no override was asked for.
    """
    feature = feature_by_key(feature_key)
    if feature.current_stage >= len(feature.stages):
        raise Conflict("cannot promote past the last stage",
                       [Detail("current_stage", f"already at the last stage ({feature.current_stage})")])
    evaluation = evaluate_gate(feature_key, trigger="manual", now=now)
    if not evaluation.passed:
        failed = [c for c in json.loads(evaluation.result)["criteria"] if not c["passed"]]
        if not override:
            raise Conflict("the stage gate failed; promote with override and a reason to go on anyway",
                           [Detail(c["metric"], f"{c['value']} against {c['parameter']} {c['threshold']}")
                            for c in failed])
        if not reason or not reason.strip():
            raise ValidationFailed("an override needs a reason", [Detail("reason", "is required")])
        audit(actor, "gate.override", "feature", feature.key, None,
              {"evaluation": evaluation.id, "failed": [c["metric"] for c in failed]}, reason)
    feature = rollout.advance(feature.key, actor, reason=reason)
    _attach(feature, evaluation)
    return feature, evaluation


def live_playbook_features() -> list[Feature]:
    """Features that are live (started, not killed) and follow a playbook: the ones gates and
    guardrails judge."""
    return list(db.session.scalars(select(Feature).where(
        Feature.playbook_key.is_not(None), Feature.current_stage > 0, Feature.killed.is_(False),
        Feature.archived_at.is_(None))
        .order_by(Feature.key)))


def evaluate_all(now: datetime | None = None, trigger: str = "schedule") -> list[GateEvaluation]:
    """Evaluate every live feature with a playbook; promote those with ``auto_promote`` that pass.

    Each feature is judged in its own savepoint, so one broken feature does not stop the others.
    """
    now = now or utcnow()
    refresh_kpis()
    features = live_playbook_features()
    done: list[GateEvaluation] = []
    for feature in features:
        try:
            with db.session.begin_nested():
                evaluation = evaluate_gate(feature.key, trigger=trigger, now=now, refresh=False)
                last = max((s.position for s in feature.stages), default=0)
                if evaluation.passed and feature.auto_promote and feature.current_stage < last:
                    rollout.advance(feature.key, AUTO_ACTOR, reason="stage gate passed (automatic)")
                    _attach(feature, evaluation)
                done.append(evaluation)
        except LiftoffError as error:
            log.warning("gate of %s not evaluated: %s", feature.key, error)
    return done


def gate_history(feature_key: str, limit: int = 50) -> list[GateEvaluation]:
    feature = feature_by_key(feature_key)
    return list(db.session.scalars(select(GateEvaluation).where(GateEvaluation.feature_id == feature.id)
                                   .order_by(GateEvaluation.id.desc()).limit(limit)))
