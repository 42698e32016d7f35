"""Quality beside money: whether a feature's error rate is worse than its baseline beyond the
uncertainty of both (KPI_DEFINITIONS, Quality and Uncertainty).

The rule is the guardrails' (app.services.rollout.guardrails): the error rate's 95 % Wilson lower bound
is above the baseline's upper bound, or above the recorded baseline itself when that has no
interval (a recorded rate carries no count). The executive view, the board report and the
dashboard flag a feature with it, so ROI never hides a feature that is doing the work worse.
"""

from __future__ import annotations

# What counts as an error (KPI_DEFINITIONS, error_rate): an AI task that failed, or whose output had
# to be fixed. The rollups count these outcomes in SQL and the drift watch in Python; both read it here.
ERROR_OUTCOMES = ("error", "corrected")


def interval_text(kpis: dict) -> str:
    """The error rate's 95 % interval as text, e.g. ``[0.093, 0.233]``."""
    return f"[{kpis['error_rate_ci_low']:.3f}, {kpis['error_rate_ci_high']:.3f}]"


def baseline_breach(kpis: dict) -> str | None:
    """Why the window's error rate is worse than the baseline beyond the intervals, or None.

    :param kpis: a KPI answer (contract field names): ``error_rate`` with its ``_ci_low`` and
        ``_ci_high``, ``baseline_error_rate`` and, when measured from events, its interval.
    """
    low, base = kpis.get("error_rate_ci_low"), kpis.get("baseline_error_rate")
    if low is None or base is None:
        return None
    base_high = kpis.get("baseline_error_rate_ci_high")
    if base_high is not None:
        if low <= base_high:
            return None
        base_low = kpis.get("baseline_error_rate_ci_low")
        return (f"error rate {kpis['error_rate']:.3f} with 95 % interval {interval_text(kpis)} is worse "
                f"than the baseline {base:.3f} beyond both intervals (baseline interval "
                f"[{base_low:.3f}, {base_high:.3f}])")
    if low <= base:
        return None
    return (f"error rate {kpis['error_rate']:.3f} with 95 % interval {interval_text(kpis)} is entirely "
            f"above the recorded baseline {base:.3f}")


def quality_flag(kpis: dict) -> dict:
    """A feature's quality beside its money, from its KPI answer for a window.

    :returns: ``flagged`` (worse than its baseline beyond the interval), ``reason`` (why, or None),
        ``error_rate`` and ``baseline_error_rate`` (None when unknown), and ``evidence`` of its time
        saved (``measured``, ``modeled``, ``mixed``; None without AI tasks).
    """
    reason = baseline_breach(kpis)
    return {"flagged": reason is not None, "reason": reason, "error_rate": kpis.get("error_rate"),
            "baseline_error_rate": kpis.get("baseline_error_rate"),
            "evidence": kpis.get("time_saved_evidence")}
