"""Gate criteria on variants (docs/playbooks.md): a metric judged on one variant's exposed people
and events (``variant: NAME``), and ``variant_decision``, which passes when the feature's decision
rule names a winner.

Both read the variant comparison over the stage (app/services/kpi_reads/variant_figures.py), so a
gate, the comparison page and the CLI see the same figures, intervals and decision. A playbook may
be written before the variants exist: a criterion naming a variant the feature lacks fails with a
note saying so, as does a variant whose figures are hidden (fewer than 5 exposed people).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from app.kpi.stats import wilson
from app.models import Feature
from app.playbooks import Criterion
from app.playbooks.schema import DECISION_METRIC as DECISION
from app.services.kpi_reads import variant_figures
from app.services.lookups import variants_of


def _missing(criterion: Criterion, feature: Feature, names: list[str]) -> dict | None:
    """The failure of a criterion whose variant (or whose feature's variants) does not exist."""
    if not names:
        return {"value": None, "passed": False, "note": f"feature {feature.key} has no variants"}
    if criterion.variant is not None and criterion.variant not in names:
        return {"value": None, "passed": False,
                "note": f"feature {feature.key} has no variant {criterion.variant!r} (it has "
                        f"{', '.join(names)})"}
    return None


def _decision(criterion: Criterion, feature: Feature, entered: datetime, now: datetime) -> dict:
    if not feature.variant_rule:
        return {"value": None, "passed": False, "note": "the feature states no decision rule"}
    rule = json.loads(feature.variant_rule)
    decision = variant_figures.comparison(feature.key, entered.date(), now.date())["decision"]
    winner, meets = decision["winner"], decision["meets"]
    out = {"value": winner, "winner": winner, "meets": meets, "control": rule["control"],
           "objective": rule["objective"], "max_error_rate_increase": rule["max_error_rate_increase"]}
    if winner is None:
        return {**out, "passed": False, "note": "no variant meets the rule yet"}
    if criterion.variant is not None and winner != criterion.variant:
        return {**out, "passed": False, "note": f"the rule's winner is {winner}, not {criterion.variant}"}
    return {**out, "passed": True}


def _figures(feature: Feature, name: str, entered: datetime, now: datetime) -> dict:
    answer = variant_figures.comparison(feature.key, entered.date(), now.date())
    return next(v for v in answer["variants"] if v["variant"] == name)


def _kpi(criterion: Criterion, feature: Feature, kpis: dict, entered: datetime, now: datetime) -> dict:
    """A KPI criterion on the variant's own people and events over the stage."""
    name = criterion.variant
    assert name is not None  # only variant criteria come here
    mine = _figures(feature, name, entered, now)
    if mine["suppressed"]:
        return {"value": None, "passed": False, "exposed_users": None,
                "note": f"fewer than 5 people exposed to variant {name}: its figures are hidden"}
    t = criterion.threshold
    assert t is not None  # every KPI metric has a threshold; variant_decision goes elsewhere
    metric = criterion.metric
    if metric in ("exposed_users", "time_saved_hours"):
        value = mine[metric]
        return {"value": value, "passed": value >= t}
    if metric == "adoption_rate":
        low, high = wilson(mine["active_users"], mine["exposed_users"])
        value = mine["adoption_rate"]
        return {"value": value, "ci_low": low, "ci_high": high, "exposed_users": mine["exposed_users"],
                "passed": value is not None and value >= t}
    # error_rate: the variant's rate against the feature's baseline, as the feature's criterion does.
    value, base = mine["error_rate"], kpis["baseline_error_rate"]
    if value is None or base is None:
        return {"value": value, "baseline": base, "passed": False,
                "note": "no AI outcomes yet" if value is None else "no baseline"}
    low, high = wilson(mine["errors"], mine["rated_tasks"])
    limit = base + t
    return {"value": value, "baseline": base, "ci_low": low, "ci_high": high, "limit": limit,
            "passed": low is not None and low <= limit,
            "note": ("whole 95 % interval above the limit" if low is not None and low > limit else
                     "interval spans the limit: not shown to be worse"
                     if high is not None and high > limit else "whole 95 % interval within the limit")}


def judge(criterion: Criterion, feature: Feature, kpis: dict, entered: datetime, now: datetime,
          evaluation: Callable[..., dict]) -> dict:
    """One variant criterion's figures and verdict (``value``, ``passed``, ``note``...).

    :param kpis: the stage's KPIs (the baseline error rate comes from them).
    :param evaluation: how an ``eval_pass_rate`` criterion is judged for a variant
        (gates.evaluation_figure, passed in so this module stays below the gates).
    """
    out: dict = {"variant": criterion.variant}
    missing = _missing(criterion, feature, [v.name for v in variants_of(feature.id)])
    if missing is not None:
        return {**out, **missing}
    if criterion.metric == DECISION:
        return {**out, **_decision(criterion, feature, entered, now)}
    if criterion.metric == "eval_pass_rate":
        return {**out, **evaluation(criterion, feature, criterion.variant)}
    return {**out, **_kpi(criterion, feature, kpis, entered, now)}


def message(c: dict, plain: Callable[[dict], str]) -> str:
    """Observed against required for a variant criterion; ``plain`` words the metric itself."""
    name = c.get("variant")
    if c["metric"] == DECISION:
        wanted = f"the rule to name {name} the winner" if name else "the rule to name a winner"
        if c.get("winner") is not None:
            observed = f"winner {c['winner']} (meeting the rule: {', '.join(c['meets'])})"
        else:
            observed = c.get("note") or "no winner"
        return f"observed {observed}, required {wanted}"
    note = c.get("note") or ""
    if c.get("value") is None and c.get("passed") is False and (
            note.startswith(("feature ", "fewer than 5"))):
        return f"variant {name}: observed {note}, required the variant's figures ({c['metric']})"
    return f"variant {name}: {plain(c)}"
