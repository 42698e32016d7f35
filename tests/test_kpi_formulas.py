"""The KPI module's formulas on hand-made frames (no database)."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from app import kpi
from app.models.kpi import SUM_COLUMNS
from tests.helpers import utc


def sums(**rows) -> pd.DataFrame:
    """One row per keyword: task -> dict of sums (others 0)."""
    return pd.DataFrame([{"task": task, **{c: 0.0 for c in SUM_COLUMNS}, **values}
                         for task, values in rows.items()])


@pytest.mark.parametrize(("days", "cohort"), [(30, "daily"), (20, "daily"), (19, "weekly"),
                                               (3, "weekly"), (2, "monthly"), (1, "monthly"),
                                               (0, "never")])
def test_habit_cohort_boundaries(days, cohort):
    assert kpi.habit_cohort(days) == cohort


def test_mean_interval_by_hand():
    values = [1.0, 2.0, 6.0]
    mean, low, high = kpi.mean_interval(sum(values), sum(v * v for v in values), 3)
    sd = math.sqrt(((1 - 3) ** 2 + (2 - 3) ** 2 + (6 - 3) ** 2) / 2)
    assert mean == 3.0
    assert (low, high) == (pytest.approx(3 - 1.96 * sd / math.sqrt(3)),
                           pytest.approx(3 + 1.96 * sd / math.sqrt(3)))
    assert kpi.mean_interval(5.0, 25.0, 1) == (5.0, None, None)
    assert kpi.mean_interval(0.0, 0.0, 0) == (None, None, None)


def test_baseline_minutes_explicit_latest_wins_else_window_mean_else_none():
    window = pd.DataFrame({"task": ["a", "a", "b"], "manual_dur_n": [1, 3, 0],
                           "manual_dur_min": [10.0, 30.0, 0.0]})
    explicit = pd.DataFrame({"task": ["c", "c", "a"], "minutes_per_task": [5.0, 7.0, None],
                             "error_rate": [None, None, 0.2],
                             "measured_at": [utc(2026, 2, 1), utc(2026, 1, 1), utc(2026, 3, 1)]})
    # a: mean of 40 minutes over 4 timed tasks; b: no timed task -> none; c: the later record.
    assert kpi.baseline_minutes(explicit, window) == {"a": 10.0, "c": 5.0}
    assert kpi.baseline_error_rate(explicit, window) == 0.2


def test_baseline_error_rate_from_the_window_when_nothing_was_recorded():
    window = pd.DataFrame({"manual_errors": [1, 2], "manual_ok": [4, 4]})
    assert kpi.baseline_error_rate(pd.DataFrame(columns=["error_rate"]), window) == 3 / 8
    assert kpi.baseline_error_rate(pd.DataFrame(columns=["error_rate"]),
                                   pd.DataFrame({"manual_errors": [0], "manual_ok": [0]})) is None


def test_saved_minutes_measured_estimated_and_abandoned():
    frame = sums(
        # 2 timed (3 and 5 min) + 1 untimed, against a 10-minute baseline; 1 abandoned of 4 min
        t1={"ai_tasks": 4, "ai_ok": 3, "ai_dur_n": 2, "ai_dur_min": 8.0, "ai_dur_min_sq": 34.0,
            "ai_aband_dur_n": 1, "ai_aband_min": 4.0, "ai_aband_min_sq": 16.0},
        # no baseline: both timed tasks use the estimate
        t2={"ai_tasks": 2, "ai_ok": 2, "ai_dur_n": 2, "ai_dur_min": 6.0, "ai_dur_min_sq": 18.0},
    )
    out = kpi.saved_minutes(frame, {"t1": 10.0}, estimated_minutes=1.5)
    # t1: (10-3) + (10-5) + 1.5 - 4 = 9.5; squares 49 + 25 + 2.25 + 16
    assert out.loc[0, "saved_min"] == pytest.approx(9.5)
    assert out.loc[0, "saved_sq"] == pytest.approx(92.25)
    assert (out.loc[0, "estimated_n"], out.loc[0, "measured_n"]) == (1, 3)
    assert out.loc[1, "saved_min"] == pytest.approx(3.0)
    assert (out.loc[1, "estimated_n"], out.loc[1, "measured_n"]) == (2, 0)
    assert kpi.evidence(3, 0) == "measured" and kpi.evidence(0, 2) == "modeled"
    assert kpi.evidence(3, 1) == "mixed" and kpi.evidence(0, 0) is None


def test_exposure_windows_and_the_baseline_window():
    spells = pd.DataFrame({"person_id": [1, 2, 3, 4],
                           "start_at": [utc(2026, 10, 1, 9), utc(2026, 10, 3), utc(2026, 10, 11),
                                        utc(2026, 10, 2)],
                           "end_at": [None, utc(2026, 10, 5), None, utc(2026, 10, 2)]})
    assert kpi.exposed_people(spells, date(2026, 10, 1), date(2026, 10, 10)) == {1, 2}
    # A spell that ended at midnight opening the window exposed nobody inside it.
    assert kpi.exposed_people(spells, date(2026, 10, 5), date(2026, 10, 10)) == {1}
    assert kpi.baseline_window(spells, 28) == (date(2026, 9, 3), date(2026, 9, 30))
    assert kpi.baseline_window(spells.iloc[0:0], 28) is None


def _person_sums(person_id, n, total, sq):
    return {"person_id": person_id, "task": "default",
            **{c: 0.0 for c in SUM_COLUMNS}, "manual_dur_n": n, "manual_dur_min": total,
            "manual_dur_min_sq": sq}


def test_difference_in_differences_by_hand():
    # treated (1): before 10, 12 -> 11; during 6, 8 -> 7. control (2): before 10, 10 -> 10;
    # during 9, 9 -> 9. DiD = (7 - 11) - (9 - 10) = -3 -> 3 minutes saved per task.
    before = pd.DataFrame([_person_sums(1, 2, 22, 244), _person_sums(2, 2, 20, 200)])
    during = pd.DataFrame([_person_sums(1, 2, 14, 100), _person_sums(2, 2, 18, 162)])
    out = kpi.did_time_saved(before, during, {1}, {2})
    assert out["did_time_saved_per_task"] == pytest.approx(3.0)
    half = 1.96 * math.sqrt(2 / 2 + 2 / 2 + 0 + 0)  # variances 2, 2, 0, 0 over n = 2 each
    assert out["did_ci_low"] == pytest.approx(3 - half)
    assert out["did_ci_high"] == pytest.approx(3 + half)
    assert kpi.did_time_saved(before, during, {1}, set())["did_time_saved_per_task"] is None


def _money(costs, sums_rows, per_event=0.0, est=0.0):
    return kpi.MoneyInputs(
        sums=pd.DataFrame([{"feature_id": 1, "department_id": 0, "task": "default",
                            **{c: 0.0 for c in SUM_COLUMNS}, **r} for r in sums_rows]),
        features=pd.DataFrame([{"feature_id": 1, "key": "f", "estimated_minutes_saved": est,
                                "per_event_cost_eur": per_event}]),
        baselines={1: {}}, rates={}, default_rate=60.0,
        costs=pd.DataFrame(costs, columns=["feature_id", "month", "amount_eur"]))


def test_monthly_roi_cumulative_and_payback_by_hand():
    # Events from January (value 1 EUR/task at 60 EUR/h and 1 minute each), costs from February.
    rows = [{"month": m, "ai_tasks": n, "ai_ok": n} for m, n in
            (("2026-01", 10), ("2026-02", 10), ("2026-03", 50), ("2026-04", 50))]
    inputs = _money([(1, "2026-02", 40.0), (1, "2026-03", 20.0)], rows, est=1.0)
    # nets: Jan +10, Feb -30, Mar +30, Apr +50; cumulative 10, -20, 10, 60
    expected = {"2026-01": (10, None, None), "2026-02": (-20, -75.0, None),
                "2026-03": (10, 150.0, "2026-03"), "2026-04": (60, None, "2026-03")}
    for month, (cumulative, roi, payback) in expected.items():
        (figures,) = kpi.monthly_roi(inputs, month)["features"]
        assert figures["cumulative_net_eur"] == pytest.approx(cumulative), month
        assert figures["roi_pct"] == (pytest.approx(roi) if roi is not None else None), month
        assert figures["payback_month"] == payback, month
    total = kpi.monthly_roi(inputs, "2026-03")["total"]
    assert total["net_eur"] == pytest.approx(30) and total["payback_month"] == "2026-03"
