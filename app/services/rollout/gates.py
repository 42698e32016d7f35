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
from app.kpi import review as review_kpi
from app.models import Feature, Feedback, GateEvaluation, RolloutTransition
from app.playbooks import Criterion
from app.services.audit import audit
from app.services.enablement.activities import feature_by_key, playbook_of, training_completion
from app.services.kpi_reads import figures as kpis
from app.services.rollout import transitions as rollout
from app.services.rollout import variant_gates
from app.services.rollups import materialise as rollups

AUTO_ACTOR = "gate:auto"
log = logging.getLogger(__name__)


class GateFailed(Conflict):
    """The gate guarding the next stage failed (409): one detail per failing criterion, its name
    as the field and observed against required as the message."""


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
    if criterion.variant is not None or metric == variant_gates.DECISION:
        out.update(variant_gates.judge(criterion, feature, kpis, entered, now, evaluation_figure))
        out["message"] = observed_vs_required(out)
        return out
    assert t is not None, "only variant_decision has no threshold (app/playbooks/schema.py)"
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
        count = db.session.execute(select(func.count(Feedback.id)).where(
            Feedback.feature_id == feature.id, Feedback.severity == "critical",
            Feedback.status != "verified")).scalar_one()
        out.update(value=count, passed=count <= t)
    elif metric == "eval_pass_rate":
        out.update(evaluation_figure(criterion, feature))
    out["message"] = observed_vs_required(out)
    return out


def judge_criteria(feature: Feature, criteria: list[Criterion], now: datetime) -> list[dict]:
    """Criteria judged over the feature's current stage as its gate judges them, nothing stored
    (a variant's promotion judges its own criteria this way: app/services/rollout/promotion.py)."""
    entered = stage_entered_at(feature) or now
    kpis = stage_kpis(feature, entered.date(), now.date())
    return [_judge(c, feature, kpis, (now - entered).days, entered, now) for c in criteria]


def evaluation_figure(criterion: Criterion, feature: Feature, variant: str | None = None) -> dict:
    """An ``eval_pass_rate`` criterion judged on the latest evaluation run on its dataset (``{feature}``
    in the dataset's name stands for the feature key): passes when the lower bound of the pass
    rate's 95 % Wilson interval reaches the threshold.

    :param variant: the variant being promoted, whose model's runs count (None: any run).
    """
    from app.services.review.evaluations import latest_run

    dataset = (criterion.dataset or "").replace("{feature}", feature.key)
    out: dict = {"dataset": dataset, "variant": variant}
    try:
        run = latest_run(dataset, variant)
    except LiftoffError:  # no such dataset yet
        run = None
    if run is None:
        return {**out, "value": None, "passed": False, "note": "no evaluation run"}
    figure = review_kpi.pass_rate(run.passed, run.items)
    low = figure["pass_rate_ci_low"]
    return {**out, "value": figure["pass_rate"], "ci_low": low, "ci_high": figure["pass_rate_ci_high"],
            "items": run.items, "run": run.id, "model_version": run.model_version,
            "passed": low is not None and low >= criterion.threshold}


def _num(value, digits: int = 3) -> str:
    return "none" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def observed_vs_required(c: dict) -> str:
    """One criterion's numbers in words: what was observed against what its gate requires."""
    if c.get("variant") is not None or c["metric"] == variant_gates.DECISION:
        return variant_gates.message(c, _plain_message)
    return _plain_message(c)


def _plain_message(c: dict) -> str:
    metric, t, value = c["metric"], c["threshold"], c.get("value")
    if metric == "error_rate":
        if c.get("note") in ("no AI outcomes yet", "no baseline"):
            return f"observed {c['note']}; required an error rate and a baseline to compare"
        return (f"observed {_num(value)} (95 % interval {_num(c['ci_low'])}-{_num(c['ci_high'])}), "
                f"required the interval not entirely above baseline {_num(c['baseline'])} + "
                f"max_increase {_num(t)} = {_num(c['limit'])}")
    if metric == "training_completion":
        shown = "none (empty audience)" if value is None else f"{value:.1f} %"
        return (f"observed {shown} trained ({c['completed']} of {c['audience']}), "
                f"required at least {_num(t)} % (min_pct)")
    if metric == "feedback_mean":
        if value is None:
            return f"observed no rating during the stage, required a mean of at least {_num(t)} (min)"
        return (f"observed mean rating {_num(value)} from {c['responses']} response(s), "
                f"required at least {_num(t)} (min)")
    if metric == "adoption_rate":
        return (f"observed {_num(value)} (95 % interval {_num(c['ci_low'])}-{_num(c['ci_high'])}), "
                f"required at least {_num(t)} (min)")
    if metric == "open_critical_feedback":
        return f"observed {value} open critical item(s), required at most {_num(t)} (max)"
    if metric == "eval_pass_rate":
        if value is None:
            return (f"observed no evaluation run on dataset {c['dataset']}, required a pass rate whose "
                    f"95 % interval starts at {_num(t)} or more (min)")
        return (f"observed pass rate {_num(value)} of {c['items']} item(s) on dataset {c['dataset']} "
                f"(model {c['model_version']}, 95 % interval {_num(c['ci_low'])}-{_num(c['ci_high'])}), "
                f"required the interval's lower bound at least {_num(t)} (min)")
    return f"observed {_num(value)}, required at least {_num(t)} ({c['parameter']})"


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


def _gate_before_advance(feature: Feature, at: datetime, trigger: str) -> GateEvaluation | None:
    """The gate guarding the next stage, evaluated and stored: the gate of the stage being left,
    judged over the time spent in it. Starting stage 1 and features without a playbook have none."""
    if not feature.playbook_key or feature.current_stage == 0:
        return None
    return evaluate_gate(feature.key, trigger=trigger, now=at)


def _advance_judged(feature: Feature, evaluation: GateEvaluation | None, actor: str,
                    reason: str | None, override: bool, effective_at: datetime | None) -> Feature:
    """Advance on a judged gate: the one place that decides whether a failed gate binds."""
    result = json.loads(evaluation.result) if evaluation is not None else None
    evaluation_id = evaluation.id if evaluation is not None else None
    if result is not None and not result["passed"]:
        failed = [c for c in result["criteria"] if not c["passed"]]
        if not override:
            raise GateFailed(
                f"the gate to stage {feature.current_stage + 1} failed; advance with override and a "
                "reason to go on anyway",
                [Detail(c["metric"], c["message"]) for c in failed])
        audit(actor, "gate.override", "feature", feature.key, None,
              {"evaluation": evaluation_id, "from_stage": feature.current_stage,
               "to_stage": feature.current_stage + 1, "failed": [c["metric"] for c in failed],
               "criteria": [{"criterion": c["metric"], "message": c["message"]} for c in failed]},
              reason)
    gate_result = json.dumps({**result, "evaluation_id": evaluation_id}) if result else None
    feature = rollout.advance(feature.key, actor, reason=reason, effective_at=effective_at,
                              gate_result=gate_result)
    if evaluation is not None:
        transition_id = db.session.scalar(select(func.max(RolloutTransition.id)).where(
            RolloutTransition.feature_id == feature.id))
        evaluation.transition_id = transition_id
        db.session.flush()
    return feature


def advance_stage(feature_key: str, actor: str, reason: str | None = None, override: bool = False,
                  effective_at: datetime | None = None,
                  trigger: str = "advance") -> tuple[Feature, GateEvaluation | None]:
    """Move a feature to its next stage once the gate guarding that stage passes: the one path
    of ``/advance``, ``/promote``, the dashboard and the CLI (the scheduler shares its decision).

    The evaluation is stored and attached to the transition (gate history); when the gate
    fails nothing is written and every failing criterion is named.

    :param override: advance although the gate failed; needs a ``reason``, audited as
        ``gate.override`` with the failing criteria and kept on the transition.
    :param effective_at: when the advance takes effect (the gate is judged at that instant).
    :raises Conflict: the gate failed without override (409), or already at the last stage.
    :raises ValidationFailed: override without a reason, or a bad ``effective_at``.
    """
    if override and (not isinstance(reason, str) or not reason.strip()):
        raise ValidationFailed("an override needs a reason",
                               [Detail("reason", "say why the failed gate is overridden")])
    feature, at = rollout.check_advance(feature_key, reason, effective_at)
    evaluation = _gate_before_advance(feature, at, trigger)
    try:
        feature = _advance_judged(feature, evaluation, actor, reason, override, at)
    except GateFailed:
        # A refused advance leaves nothing behind, whoever called (not a savepoint: the KPI
        # refresh inside the evaluation cannot run in a subtransaction on PostgreSQL).
        db.session.delete(evaluation)
        db.session.flush()
        raise
    return feature, evaluation


def promote(feature_key: str, actor: str, reason: str | None = None, override: bool = False,
            now: datetime | None = None) -> tuple[Feature, GateEvaluation | None]:
    """``POST /promote``: the same as ``advance_stage`` (kept for its callers)."""
    return advance_stage(feature_key, actor, reason, override, effective_at=now)


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
                    _advance_judged(feature, evaluation, AUTO_ACTOR, "stage gate passed (automatic)",
                                    override=False, effective_at=None)
                done.append(evaluation)
        except LiftoffError as error:
            log.warning("gate of %s not evaluated: %s", feature.key, error)
    return done


def gate_history(feature_key: str, limit: int = 50) -> list[GateEvaluation]:
    feature = feature_by_key(feature_key)
    return list(db.session.scalars(select(GateEvaluation).where(GateEvaluation.feature_id == feature.id)
                                   .order_by(GateEvaluation.id.desc()).limit(limit)))
