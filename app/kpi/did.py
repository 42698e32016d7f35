"""Difference-in-differences: time saved per task against the not-yet-exposed people as a
concurrent control, beside the before/after figure."""

from __future__ import annotations

import math

import pandas as pd

from app.kpi.stats import Z


def _duration_cell(sums: pd.DataFrame, people: set[int]) -> tuple[float, float, float]:
    """n, sum and sum of squares of the minutes of every event with a duration of these people."""
    part = sums[sums["person_id"].isin(people)]
    n = float((part["ai_dur_n"] + part["ai_aband_dur_n"] + part["manual_dur_n"]).sum())
    total = float((part["ai_dur_min"] + part["ai_aband_min"] + part["manual_dur_min"]).sum())
    sq = float((part["ai_dur_min_sq"] + part["ai_aband_min_sq"] + part["manual_dur_min_sq"]).sum())
    return n, total, sq


def _mean_var(cell: tuple[float, float, float]) -> tuple[float, float] | None:
    n, total, sq = cell
    if n < 2:
        return None
    mean = total / n
    return mean, max(0.0, (sq - n * mean * mean) / (n - 1)) / n


def did_time_saved(before: pd.DataFrame, during: pd.DataFrame, treated: set[int],
                   control: set[int]) -> dict:
    """Minutes saved per task: -[(treated during - before) - (control during - before)], where the
    outcome is the mean minutes of a task with a duration (AI or not), with a 95 % interval.

    :param before: per person x task sums over the baseline window.
    :param during: per person x task sums over the KPI window.
    :param treated: people exposed in the window; ``control``: people not exposed by its end.
    """
    out = {"did_time_saved_per_task": None, "did_ci_low": None, "did_ci_high": None,
           "did_treated_users": len(treated), "did_control_users": len(control)}
    cells = [_mean_var(_duration_cell(frame, group))
             for group in (treated, control) for frame in (before, during)]
    if any(cell is None for cell in cells):
        return out  # a cell with fewer than two timed tasks gives no estimate
    (t0, vt0), (t1, vt1), (c0, vc0), (c1, vc1) = cells
    estimate = -((t1 - t0) - (c1 - c0))
    half = Z * math.sqrt(vt0 + vt1 + vc0 + vc1)
    out.update(did_time_saved_per_task=estimate, did_ci_low=estimate - half,
               did_ci_high=estimate + half)
    return out
