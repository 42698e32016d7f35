"""Variants compared on the business KPIs (docs/variants.md): per-variant figures, each variant's
difference from a control with its 95 % interval, the people needed to detect a difference, the
sample-ratio check and the decision rule. Pure: plain frames and values in, dicts out.

Intervals: two proportions (adoption, error rate) by Newcombe's hybrid score method (the Wilson
interval of each rate, combined); two means (time saved per task, cost per task, net EUR per
exposed person) by Welch's t interval. Both at z (or t) for 95 % exactly, as the statistics
libraries compute them, so they can be checked against those.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from app.kpi.groups import hidden_groups
from app.kpi.quality import ERROR_OUTCOMES
from app.kpi.stats import wilson

Z95 = float(stats.norm.ppf(0.975))
SRM_ALPHA = 0.001
POWER = 0.8
ALPHA = 0.05
PROPORTIONS = ("adoption_rate", "error_rate")
MEANS = ("time_saved_per_task_minutes", "cost_per_task_eur", "net_eur_per_exposed_person")
FIGURES = ("active_users", "ai_tasks", "adoption_rate", "error_rate", "time_saved_per_task_minutes",
           "cost_per_task_eur", "net_eur_per_exposed_person", "value_eur", "task_cost_eur", "errors",
           "rated_tasks", "time_saved_hours")


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float | None, ...]:
    """p1 - p2 and its hybrid score interval (Newcombe 1998, method 10); None when n1 or n2 is 0."""
    if n1 <= 0 or n2 <= 0:
        return None, None, None
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    # wilson gives None only for an empty sample, ruled out above.
    assert l1 is not None and u1 is not None and l2 is not None and u2 is not None
    diff = p1 - p2
    return (diff, diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def welch(a: np.ndarray, b: np.ndarray) -> tuple[float | None, ...]:
    """mean(a) - mean(b) and its Welch t interval; the interval is None with fewer than two values
    in either sample, the difference also when one is empty."""
    if len(a) == 0 or len(b) == 0:
        return None, None, None
    diff = float(np.mean(a) - np.mean(b))
    if len(a) < 2 or len(b) < 2:
        return diff, None, None
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(stats.t.ppf(0.975, df)) * se
    return diff, diff - half, diff + half


@dataclass
class VariantInputs:
    """One feature's window, split by variant.

    :param events: the AI events of the window, one row each: ``person_id``, ``variant`` (named or
        the person's at occurred_at; rows without one are left out), ``task``, ``outcome``,
        ``duration_seconds`` and ``cost_eur`` (NaN when absent), ``rate`` (EUR per hour).
    :param exposed: variant -> people exposed to it in the window (every variant, empty too).
    :param weights: variant -> weight now (percent), in Unleash's order.
    :param variant_costs: variant -> cost_per_task_eur (None: the feature's per-event cost).
    """

    events: pd.DataFrame
    exposed: dict[str, set[int]]
    weights: dict[str, int]
    variant_costs: dict[str, float | None]
    per_event_cost_eur: float
    baselines: dict[str, float]
    estimated_minutes_saved: float


def saved_minutes(events: pd.DataFrame, baselines: dict[str, float], estimated: float) -> pd.Series:
    """saved(e) of KPI_DEFINITIONS.md for each AI event."""
    minutes = events["duration_seconds"] / 60.0
    baseline = events["task"].map(baselines).astype("float64")
    abandoned = events["outcome"] == "abandoned"
    measured = minutes.notna() & baseline.notna()
    out = pd.Series(estimated, index=events.index, dtype="float64")
    out[measured] = (baseline - minutes)[measured]
    out[abandoned] = -minutes[abandoned].fillna(0.0)
    return out


def task_costs(events: pd.DataFrame, variant_costs: dict[str, float | None], per_event: float) -> pd.Series:
    """task_cost(e): its cost_eur, else its variant's cost_per_task_eur, else the feature's."""
    fallback = events["variant"].map(lambda v: variant_costs.get(v)).astype("float64").fillna(per_event)
    return events["cost_eur"].astype("float64").fillna(fallback)


def _prepared(inputs: VariantInputs) -> pd.DataFrame:
    ev = inputs.events
    if ev.empty:
        empty = {name: pd.Series(dtype="float64") for name in ("saved", "cost", "net")}
        return ev.assign(**empty, error=pd.Series(dtype=bool), rated=pd.Series(dtype=bool))
    saved = saved_minutes(ev, inputs.baselines, inputs.estimated_minutes_saved)
    cost = task_costs(ev, inputs.variant_costs, inputs.per_event_cost_eur)
    return ev.assign(saved=saved, cost=cost, net=saved / 60.0 * ev["rate"] - cost,
                     error=ev["outcome"].isin(("error", "corrected")), rated=ev["outcome"] != "abandoned")


def _samples(ev: pd.DataFrame, name: str, exposed: set[int]) -> dict:
    mine = ev[ev["variant"] == name]
    in_exposed = mine[mine["person_id"].isin(exposed)]
    per_person = in_exposed.groupby("person_id")["net"].sum()
    net = np.zeros(len(exposed))
    net[: len(per_person)] = per_person.to_numpy()  # people without a task of it count as 0
    return {"events": mine, "active": set(in_exposed["person_id"].astype(int)), "net_per_person": net}


def _figures(name: str, sample: dict, exposed: set[int], weight: int | None) -> dict:
    mine = sample["events"]
    rated = mine[mine["rated"]]
    n = len(exposed)
    return {
        "variant": name, "weight": weight, "exposed_users": n, "active_users": len(sample["active"]),
        "ai_tasks": len(mine),
        "adoption_rate": len(sample["active"]) / n if n else None,
        "error_rate": float(rated["error"].mean()) if len(rated) else None,
        "time_saved_per_task_minutes": float(mine["saved"].mean()) if len(mine) else None,
        "cost_per_task_eur": float(mine["cost"].mean()) if len(mine) else None,
        "net_eur_per_exposed_person": float(sample["net_per_person"].mean()) if n else None,
        "value_eur": float((mine["saved"] / 60.0 * mine["rate"]).sum()),
        "task_cost_eur": float(mine["cost"].sum()),
        # The error rate's counts and the variant's total time saved, for gates on one variant.
        "errors": int(rated["error"].sum()), "rated_tasks": len(rated),
        "time_saved_hours": float(mine["saved"].sum()) / 60.0,
    }


def _difference(diff, low, high) -> dict:
    excludes = None if low is None or high is None else bool(low > 0 or high < 0)
    return {"difference": diff, "ci_low": low, "ci_high": high, "excludes_zero": excludes}


def _differences(a: dict, b: dict, fa: dict, fb: dict) -> dict:
    """Variant a minus control b on each compared figure."""
    ea, eb = a["events"], b["events"]
    ra, rb = ea[ea["rated"]], eb[eb["rated"]]
    return {
        "adoption_rate": _difference(*newcombe(fa["active_users"], fa["exposed_users"],
                                               fb["active_users"], fb["exposed_users"])),
        "error_rate": _difference(*newcombe(int(ra["error"].sum()), len(ra), int(rb["error"].sum()),
                                            len(rb))),
        "time_saved_per_task_minutes": _difference(*welch(ea["saved"].to_numpy(), eb["saved"].to_numpy())),
        "cost_per_task_eur": _difference(*welch(ea["cost"].to_numpy(), eb["cost"].to_numpy())),
        "net_eur_per_exposed_person": _difference(*welch(a["net_per_person"], b["net_per_person"])),
    }


def people_needed(control: dict, control_sample: dict, adoption_difference: float,
                  net_eur_difference: float) -> dict:
    """People per variant for 80 % power at alpha 0.05 (two-sided) to detect the given difference
    from the control: in adoption (Cohen's h from the control's rate) and in net EUR per exposed
    person (the control's standard deviation). None when the control gives nothing to size on."""
    from statsmodels.stats.power import NormalIndPower, TTestIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    out: dict = {"adoption_difference": adoption_difference, "net_eur_difference": net_eur_difference,
                 "adoption": None, "net_eur_per_exposed_person": None}
    p = control["adoption_rate"]
    if p is not None and adoption_difference > 0:
        target = min(1.0, p + adoption_difference)
        effect = abs(proportion_effectsize(target, p))
        if effect > 0:
            out["adoption"] = _solved(NormalIndPower(), effect)
    net = control_sample["net_per_person"]
    sd = float(np.std(net, ddof=1)) if len(net) >= 2 else 0.0
    if sd > 0 and net_eur_difference > 0:
        out["net_eur_per_exposed_person"] = _solved(TTestIndPower(), net_eur_difference / sd)
    return out


def _solved(power, effect: float) -> int | None:
    """People per group for the effect, or None when statsmodels' root finder does not converge
    (it warns and answers NaN for an effect so large that no sample size is bracketed, as against
    the rounding noise of equal net figures): nothing to size on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(power.solve_power(effect, alpha=ALPHA, power=POWER))
    return math.ceil(value) if math.isfinite(value) else None


def sample_ratio(exposed_now: dict[str, int], weights: dict[str, int]) -> dict:
    """Chi-square of the people exposed per variant against the weights; ``mismatch`` when p <
    0.001. A variant with weight 0 that still has people is a mismatch by itself."""
    served = {name: w for name, w in weights.items() if w > 0}
    total = sum(exposed_now.get(name, 0) for name in weights)
    out = {"observed": {name: exposed_now.get(name, 0) for name in weights},
           "expected": {name: total * w / 100 for name, w in weights.items()},
           "chi_square": None, "p_value": None, "mismatch": False}
    if any(exposed_now.get(name, 0) for name, w in weights.items() if w == 0):
        out["mismatch"] = True
    if total == 0 or len(served) < 2:
        return out
    observed = [exposed_now.get(name, 0) for name in served]
    expected = [sum(observed) * w / sum(served.values()) for w in served.values()]
    chi, p = stats.chisquare(observed, expected)
    out.update(chi_square=float(chi), p_value=float(p), mismatch=out["mismatch"] or bool(p < SRM_ALPHA))
    return out


def error_counts(events: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Per variant: (errors, rated tasks) of its AI events (``variant``, ``outcome`` columns), as
    the error rate counts them (KPI_DEFINITIONS.md: abandoned tasks are not rated)."""
    if events.empty:
        return {}
    rated = events[events["outcome"] != "abandoned"]
    errors = rated["outcome"].isin(ERROR_OUTCOMES)
    grouped = errors.groupby(rated["variant"])
    return {str(name): (int(part.sum()), len(part)) for name, part in grouped}


def error_rate_increase(variant: tuple[int, int], control: tuple[int, int]) -> dict:
    """A variant's error rate minus the control's with its 95 % interval (Newcombe), as counts
    (errors, rated tasks) of each."""
    return _difference(*newcombe(variant[0], variant[1], control[0], control[1]))


def decide(rule: dict | None, differences: dict[str, dict]) -> dict:
    """Which variants meet the rule against its control: error rate not worse by more than the
    margin (the interval's upper end within it), and the objective better with an interval
    excluding zero (cost per task lower, or net EUR per exposed person higher). The winner is the
    one meeting it with the best objective; none while no variant does."""
    if rule is None:
        return {"rule": None, "meets": [], "winner": None}
    margin, objective = rule.get("max_error_rate_increase", 0.0), rule.get("objective", "cost_per_task")
    metric = "cost_per_task_eur" if objective == "cost_per_task" else "net_eur_per_exposed_person"
    meets = []
    for name, diff in differences.items():
        err, obj = diff["error_rate"], diff[metric]
        if err["ci_high"] is None or obj["ci_low"] is None:
            continue
        better = obj["ci_high"] < 0 if objective == "cost_per_task" else obj["ci_low"] > 0
        if err["ci_high"] <= margin and better:
            meets.append((obj["difference"] if objective != "cost_per_task" else -obj["difference"], name))
    winner = max(meets)[1] if meets else None
    return {"rule": rule, "meets": sorted(name for _, name in meets), "winner": winner}


def compare(inputs: VariantInputs, control: str, adoption_difference: float = 0.05,
            net_eur_difference: float = 1.0, rule: dict | None = None) -> dict:
    """Per-variant figures (suppressed below 5 exposed people, complementarily), each other
    variant's differences from ``control`` with 95 % intervals, the people needed per variant and
    the decision. A suppressed variant (or control) shows no figures and no differences."""
    ev = _prepared(inputs)
    names = list(inputs.weights)
    samples = {name: _samples(ev, name, inputs.exposed.get(name, set())) for name in names}
    figures = {name: _figures(name, samples[name], inputs.exposed.get(name, set()), inputs.weights.get(name))
               for name in names}
    hidden = hidden_groups({name: f["exposed_users"] for name, f in figures.items()}, splits_people=True)
    for name in hidden:
        figures[name].update({key: None for key in FIGURES}, suppressed=True)
    for name in names:
        figures[name].setdefault("suppressed", False)
    differences = {}
    if control in figures and control not in hidden:
        for name in names:
            if name != control and name not in hidden:
                differences[name] = _differences(samples[name], samples[control], figures[name],
                                                 figures[control])
    needed = (people_needed(figures[control], samples[control], adoption_difference, net_eur_difference)
              if control in figures and control not in hidden else None)
    return {"control": control, "variants": [figures[n] for n in names], "differences": differences,
            "people_needed_per_variant": needed,
            "decision": decide(rule if rule and rule.get("control") == control else None, differences)}
