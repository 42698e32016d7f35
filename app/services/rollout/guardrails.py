"""Guardrails: roll back or kill a live feature by itself when its quality breaks.

Over the last 7 days of the current stage, a guardrail trips when the error rate is worse than
the feature's baseline beyond the uncertainty of both (KPI_DEFINITIONS, Quality and Uncertainty):
the error rate's 95 % Wilson lower bound is above the baseline's upper bound, or above the
recorded baseline itself when that has no interval (a recorded rate carries no count). A playbook
may add rules: an absolute ``max_error_rate`` (the whole interval above it) and a spike against
the previous week (``spike_factor`` times last week's upper bound). Weeks with fewer than
``min_events`` AI tasks are not judged; without a baseline only the playbook's own rules judge.
A playbook's ``correction_rate`` adds the corrected and reviewed-wrong rates against the previous
stage (app/services/rollout/correction_guard.py): ``alert`` announces, ``rollback`` trips.
A playbook's ``variant_max_error_rate_increase`` watches each variant against the control
(app/services/rollout/variant_guard.py): a breaching variant is switched off (weight 0, the others
take its share) instead of acting on the whole feature; that is the run's only action, and the
feature's own week restarts the day after, since the days before mix in the variant's events.
When no other variant would keep serving, the stage's action applies with the variant's reason.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from app.db import db, utcnow
from app.errors import LiftoffError
from app.kpi.quality import baseline_breach, interval_text
from app.models import Feature
from app.playbooks import Guardrails, playbook_for
from app.services.audit import audit
from app.services.rollout import transitions as rollout
from app.services.rollout import variant_guard
from app.services.rollout.announce import announce
from app.services.rollout.correction_guard import check_correction_rates
from app.services.rollout.gates import live_playbook_features, refresh_kpis, stage_entered_at, stage_kpis

ACTOR = "guardrail"
log = logging.getLogger(__name__)


def playbook_breaches(this_week: dict, previous: dict, guard: Guardrails) -> list[str]:
    """The playbook's extra rules: the absolute limit and the spike against the previous week."""
    reasons = []
    low = this_week["error_rate_ci_low"]
    if guard.max_error_rate is not None and low > guard.max_error_rate:
        reasons.append(f"error rate {this_week['error_rate']:.3f} with 95 % interval "
                       f"{interval_text(this_week)} is entirely above the playbook's limit "
                       f"max_error_rate {guard.max_error_rate}")
    prev_high = previous["error_rate_ci_high"]
    if (guard.spike_factor is not None and prev_high is not None
            and previous["ai_tasks"] >= guard.min_events and low > guard.spike_factor * prev_high):
        reasons.append(f"error rate spiked: this week's interval starts at {low:.3f}, above "
                       f"{guard.spike_factor} x last week's upper bound {prev_high:.3f}")
    return reasons


def check_guardrails(feature: Feature, now: datetime | None = None, refresh: bool = True) -> dict:
    """Judge a live feature's guardrails without acting; the numbers and, if any, why it trips.

    :param refresh: bring the KPI rollups up to date first (run_guardrails does it once for all).

    :returns: ``{"tripped": bool, "reasons": [...], "this_week": kpis, "previous_week": kpis, ...}``.
    """
    now = now or utcnow()
    if refresh:
        refresh_kpis()
    assert feature.playbook_key is not None, "guardrails judge the features that follow a playbook"
    guard = playbook_for(feature.playbook_key).stage(feature.current_stage).guardrails
    today = now.date()
    entered = stage_entered_at(feature)
    # Only the current stage's behaviour counts, so a rollback is not judged on the stage it left.
    start = max(today - timedelta(days=6), entered.date() if entered else today)
    # Nor the days that mixed in a variant a guardrail has since switched off.
    switched = variant_guard.last_switch_off(feature)
    fresh = switched is not None and switched.date() >= today
    if switched is not None and not fresh:
        start = max(start, switched.date() + timedelta(days=1))
    this_week = stage_kpis(feature, start, today)
    previous = stage_kpis(feature, today - timedelta(days=13), today - timedelta(days=7))
    reasons: list[str] = []
    enough = (not fresh and this_week["ai_tasks"] >= guard.min_events
              and this_week["error_rate_ci_low"] is not None)
    if enough:
        against_baseline = baseline_breach(this_week)
        reasons = ([against_baseline] if against_baseline else []) + \
            playbook_breaches(this_week, previous, guard)
    variants_off = [] if fresh else variant_guard.breaches(feature, guard, start, today)
    if variants_off and not variant_guard.can_switch_off(feature, variants_off):
        # The breaching variant is all that is served: the stage's own action, for its reason.
        reasons = reasons + [b["reason"] for b in variants_off]
        variants_off = []
    corrections, alerts = None, []
    if guard.correction_rate is not None and feature.current_stage > 1:
        # Against the previous stage: the first stage has none to compare with.
        corrections = check_correction_rates(feature, now, guard.min_events)
        if guard.correction_rate == "rollback":
            reasons = reasons + corrections["reasons"]
        else:
            alerts = corrections["reasons"]
    return {"feature": feature.key, "stage": feature.current_stage, "action": guard.action,
            "tripped": bool(reasons), "reasons": reasons, "enough_data": enough,
            "this_week": this_week, "previous_week": previous, "correction_rates": corrections,
            "alerts": alerts, "variants_off": variants_off}


def run_guardrails(now: datetime | None = None) -> list[dict]:
    """Check every live feature with a playbook; switch off the variants that trip, roll back or
    kill the features that trip, audited and announced, and announce correction-rate alerts.
    Returns the verdicts acted on."""
    now = now or utcnow()
    refresh_kpis()
    features = live_playbook_features()
    tripped: list[dict] = []
    for feature in features:
        try:
            with db.session.begin_nested():  # one feature's failure must not undo another's rollback
                verdict = check_guardrails(feature, now, refresh=False)
                if verdict["variants_off"]:  # the variant, not the feature, answers for it
                    variant_guard.switch_off(feature, verdict["variants_off"], feature.current_stage)
                    tripped.append(verdict)
                elif verdict["tripped"]:
                    _act(feature, verdict)
                    tripped.append(verdict)
                elif verdict["alerts"]:
                    _alert(feature, verdict)
                    tripped.append(verdict)
        except LiftoffError as error:
            log.error("guardrail of %s could not act: %s", feature.key, error)
    return tripped


def _alert(feature: Feature, verdict: dict) -> None:
    """A correction-rate guardrail set to ``alert``: tell people, change nothing."""
    reason = "guardrail: " + "; ".join(verdict["alerts"])
    audit(ACTOR, "guardrail.alert", "feature", feature.key, None,
          {"stage": feature.current_stage, "correction_rates": verdict["correction_rates"]}, reason)
    announce(feature, f"guardrail alert: {feature.name}", reason)


def _act(feature: Feature, verdict: dict) -> None:
    reason = "guardrail: " + "; ".join(verdict["reasons"])
    before = {"stage": feature.current_stage, "killed": feature.killed}
    if verdict["action"] == "kill":
        rollout.kill(feature.key, ACTOR, reason)
    else:
        rollout.rollback(feature.key, ACTOR, reason)
    audit(ACTOR, f"guardrail.{verdict['action']}", "feature", feature.key, before,
          {"stage": feature.current_stage, "killed": feature.killed,
           "this_week": verdict["this_week"], "previous_week": verdict["previous_week"]}, reason)
    announce(feature, f"guardrail {verdict['action']}: {feature.name}", reason)
