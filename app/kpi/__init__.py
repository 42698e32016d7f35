"""The one KPI module: every formula of KPI_DEFINITIONS.md as pure functions over plain values
and DataFrames (no Flask, no database). The API, the dashboard, exports and the monthly close all
call it through ``app.services.kpi_reads.figures``."""

from app.kpi.did import did_time_saved
from app.kpi.exposure import baseline_window, exposed_people, first_exposure
from app.kpi.funnel import adoption_funnel
from app.kpi.groups import MIN_GROUP_EXPOSED, adoption_groups, group_records, hidden_groups
from app.kpi.money import MONEY_FIELDS, MoneyInputs, monthly_roi, monthly_table
from app.kpi.quality import ERROR_OUTCOMES, baseline_breach, quality_flag
from app.kpi.stats import mean_interval, ratio, wilson
from app.kpi.time_saved import (
    baseline_error_interval,
    baseline_error_rate,
    baseline_minutes,
    evidence,
    saved_minutes,
)
from app.kpi.trend import TrendInputs, adoption_trend, quality_trend
from app.kpi.window import WindowInputs, active_people, adoption_figures, habit_cohort, kpi_record

__all__ = [
    "ERROR_OUTCOMES",
    "MIN_GROUP_EXPOSED",
    "MONEY_FIELDS",
    "MoneyInputs",
    "TrendInputs",
    "WindowInputs",
    "active_people",
    "adoption_figures",
    "adoption_funnel",
    "adoption_groups",
    "adoption_trend",
    "baseline_breach",
    "baseline_error_interval",
    "baseline_error_rate",
    "baseline_minutes",
    "baseline_window",
    "did_time_saved",
    "evidence",
    "exposed_people",
    "first_exposure",
    "group_records",
    "habit_cohort",
    "hidden_groups",
    "kpi_record",
    "mean_interval",
    "monthly_roi",
    "monthly_table",
    "quality_flag",
    "quality_trend",
    "ratio",
    "saved_minutes",
    "wilson",
]
