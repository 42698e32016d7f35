"""Difference-in-differences: time saved per task against the not-yet-exposed people as a
concurrent control, beside the before/after figure."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from app.kpi.rows import PersonRows
from app.kpi.stats import Z


def duration_rows(sums: pd.DataFrame) -> pd.DataFrame:
    """Per row of ``sums`` (person x task sums): its person, and the n, sum and sum of squares of
    the minutes of its events with a duration (AI or not). Made once per frame, so each group of
    a breakdown only picks rows."""
    return pd.DataFrame({
        "person_id": sums["person_id"],
        "n": sums["ai_dur_n"] + sums["ai_aband_dur_n"] + sums["manual_dur_n"],
        "total": sums["ai_dur_min"] + sums["ai_aband_min"] + sums["manual_dur_min"],
        "sq": sums["ai_dur_min_sq"] + sums["ai_aband_min_sq"] + sums["manual_dur_min_sq"],
    })


def _duration_cell(rows: pd.DataFrame, people: np.ndarray, by_person: PersonRows | None = None
                   ) -> tuple[float, float, float]:
    """n, sum and sum of squares of the minutes of every event with a duration of these people."""
    if by_person is not None:
        # The group's rows of each column (the same values in the same order as a filter's), summed
        # as a Series sums them (missing values skipped).
        at = by_person.positions(people)
        n, total, sq = (float(np.nansum(rows[c].to_numpy()[at])) for c in ("n", "total", "sq"))
        return n, total, sq
    part = rows[rows["person_id"].isin(people)]  # people: an array (a set is converted per call)
    return float(part["n"].sum()), float(part["total"].sum()), float(part["sq"].sum())


def _mean_var(cell: tuple[float, float, float]) -> tuple[float, float] | None:
    n, total, sq = cell
    if n < 2:
        return None
    mean = total / n
    return mean, max(0.0, (sq - n * mean * mean) / (n - 1)) / n


def did_time_saved(before: pd.DataFrame, during: pd.DataFrame, treated: set[int],
                   control: set[int], rows: tuple[PersonRows, PersonRows] | None = None) -> dict:
    """Minutes saved per task: -[(treated during - before) - (control during - before)], where the
    outcome is the mean minutes of a task with a duration (AI or not), with a 95 % interval.

    :param before: per person x task sums over the baseline window (or its ``duration_rows``).
    :param during: per person x task sums over the KPI window (or its ``duration_rows``).
    :param treated: people exposed in the window; ``control``: people not exposed by its end.
    :param rows: the two frames' rows by person (``app.kpi.rows``), when made once for many
        groups; they must be ``before``'s and ``during``'s ``duration_rows``.
    """
    groups = [np.fromiter(group, dtype=np.int64, count=len(group)) for group in (treated, control)]
    frames = [frame if "total" in frame.columns else duration_rows(frame) for frame in (before, during)]
    indexes = rows or (None, None)
    cells = [_duration_cell(frame, group, index) for group in groups
             for frame, index in zip(frames, indexes, strict=True)]
    return did_from_cells(cells, len(treated), len(control))


def did_from_cells(cells: list[tuple[float, float, float]], treated: int, control: int) -> dict:
    """``did_time_saved`` from its four cells (n, sum and sum of squares of the minutes of the timed
    tasks of the treated before and during, then of the controls before and during) and the
    number of treated and control people."""
    out: dict[str, float | None] = {"did_time_saved_per_task": None, "did_ci_low": None, "did_ci_high": None,
           "did_treated_users": treated, "did_control_users": control}
    moments = [_mean_var(cell) for cell in cells]
    known = [moment for moment in moments if moment is not None]
    if len(known) < len(moments):
        return out  # a cell with fewer than two timed tasks gives no estimate
    (t0, vt0), (t1, vt1), (c0, vc0), (c1, vc1) = known
    estimate = -((t1 - t0) - (c1 - c0))
    half = Z * math.sqrt(vt0 + vt1 + vc0 + vc1)
    out.update(did_time_saved_per_task=estimate, did_ci_low=estimate - half,
               did_ci_high=estimate + half)
    return out
