"""What the executive, adoption and quality pages show, as DataFrames and dicts.

Every figure comes from the one KPI module (``app.kpi``) through the reads of
``app.services.kpi_reads.figures``; this module only picks windows and groups, and lays the answers out for
the pages, the exports and the printable report. No Dash, no Flask request: tests call it directly.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import select, union

from app import kpi
from app.db import db, utcnow
from app.errors import Detail, NotFound, ValidationFailed
from app.models import CostEntry, Feature, RolloutStage
from app.models.kpi import FeatureDay, MonthlyClose
from app.months import check_month, is_month, month_bounds, this_month
from app.services.ingest import voids
from app.services.kpi_reads import cache as kpi_cache
from app.services.kpi_reads import figures as kpis
from app.services.reporting.executive import executive_view, feature_names
from app.services.review import labels as review_labels

GROUPINGS = ("stage", "cohort", "department")
# Groupings whose groups split the people (each person in one group): complementary suppression.
SPLITTING = ("stage", "department")
TREND_WEEKS = 8
REST = "Everyone else"


# --- memo: a page's answer is reused while the KPI revision is unchanged ----------------------------

def memo(fn):
    """Reuse ``fn``'s answer for the same arguments while the KPI revision is unchanged (any
    commit writing a KPI input, a department move or rename included, bumps it): the weekly
    breakdowns run the KPI module dozens of times. Kept in the one KPI memo
    (app/services/kpi_reads/cache.py), under its one version; today's date is part of the key, as
    the current month's window ends today and so moves at midnight."""
    @functools.wraps(fn)
    def cached(*args):
        key = ("dashboard", fn.__module__, fn.__name__, args, utcnow().date())
        return kpi_cache.cached(kpi_cache.version(), key, lambda: fn(*args), copies=False)

    cached.uncached = fn
    return cached


def clear_cache() -> None:
    """Forget the page answers (the KPI reads under them stay remembered)."""
    kpi_cache.clear("dashboard")


# --- months -------------------------------------------------------------------------------------

def valid_month(month: str | None) -> str | None:
    """``month`` when it is YYYY-MM, else None."""
    return month if is_month(month) else None


def month_options() -> list[str]:
    """Months with events, costs or a close, newest first; never a month after this one. This month
    when nothing is known yet (where a new installation starts)."""
    stmt = union(select(FeatureDay.month).distinct(), select(CostEntry.month).distinct(),
                 select(MonthlyClose.month))
    current = this_month()
    known = {m for m in db.session.scalars(stmt) if valid_month(m) and m <= current}
    return sorted(known or {current}, reverse=True)


def default_month() -> str:
    """The latest month with events (else this month): where an executive starts."""
    latest = db.session.scalar(select(FeatureDay.month).order_by(FeatureDay.month.desc()).limit(1))
    return latest or this_month()


# --- executive ----------------------------------------------------------------------------------

@memo
def executive(month: str) -> dict:
    """The executive view of ``month`` (app.services.reporting.executive.executive_view), remembered."""
    return executive_view(month)


def export_rows(month: str) -> tuple[list[str], list[list]]:
    """The CSV/XLSX rows of a month: one per feature and a ``TOTAL`` row, live figures, and the
    closed ones beside them when the month is closed."""
    roi = kpis.monthly_roi(check_month(month))
    names = feature_names()
    fields = list(kpi.MONEY_FIELDS) + ["ai_tasks"]
    header = ["month", "feature", "name", *fields, "closed", "restated",
              *[f"closed_{f}" for f in fields]]
    frozen = roi.get("closed_figures") or {}
    frozen_by_key = {f["feature"]: f for f in frozen.get("features", [])}
    rows = []
    for figures in [*roi["features"], {"feature": "TOTAL", **roi["total"]}]:
        key = figures["feature"]
        closed = frozen.get("total") if key == "TOTAL" else frozen_by_key.get(key)
        rows.append([month, key, names.get(key, "Portfolio" if key == "TOTAL" else key),
                     *[figures.get(f) for f in fields], bool(roi["closed"]), bool(roi["restated"]),
                     *[(closed or {}).get(f) for f in fields]])
    return header, rows


def month_costs(month: str) -> list[dict]:
    """Every feature's cost entries of ``month`` (voided ones marked), by feature then id: what the
    Executive page lists for voiding."""
    rows = db.session.execute(select(CostEntry, Feature.key).join(Feature, Feature.id == CostEntry.feature_id)
                              .where(CostEntry.month == month).order_by(Feature.key, CostEntry.id))
    return [voids.cost_record(entry, key) for entry, key in rows]


# --- adoption and quality: per-window records ---------------------------------------------------

def feature_keys() -> list[dict]:
    """Dropdown options of every feature: ``{"label": "Name (key)", "value": key}``; archived ones
    last and marked (their KPIs stay readable), so the default pick is a feature in use."""
    archived = Feature.archived_at.is_not(None)
    rows = db.session.execute(select(Feature.key, Feature.name, archived)
                              .order_by(archived, Feature.name, Feature.key)).all()
    return [{"label": f"{name} ({key})" + (" · archived" if gone else ""), "value": key}
            for key, name, gone in rows]


def default_feature() -> str | None:
    rows = feature_keys()
    return rows[0]["value"] if rows else None


def stage_groups(key: str, people: pd.DataFrame, cohorts: dict[str, set[int]]) -> dict[str, set[int]]:
    """People by the rollout stage whose cohorts first reach them (stage 1 the champions, stage 2
    the pilot, ...); everyone no cohort stage names is ``Everyone else``.

    :param cohorts: the people of each cohort (``kpis.window_groups``).
    """
    feature = db.session.scalar(select(Feature).where(Feature.key == key))
    if feature is None:
        raise NotFound(f"no feature {key!r}")
    seen: set[int] = set()
    out: dict[str, set[int]] = {}
    stages = db.session.scalars(select(RolloutStage).where(RolloutStage.feature_id == feature.id)
                                .order_by(RolloutStage.position)).all()
    for stage in stages:
        members = set().union(*[cohorts.get(c.key, set()) for c in stage.cohorts]) - seen
        if members:
            out[f"{stage.position}. {stage.name}"] = members
            seen |= members
    out[REST] = set(people["person_id"].astype(int)) - seen
    return out


def groups(key: str, grouping: str, people: pd.DataFrame, spells: pd.DataFrame,
           start: date, end: date) -> dict[str, set[int]]:
    """The groups of a breakdown over the days [start, end]: ``stage``, ``cohort`` or
    ``department``, with the membership as it stood then (``kpis.window_groups``)."""
    if grouping == "stage":
        return stage_groups(key, people, kpis.window_groups("cohort", people, spells, start, end))
    return kpis.window_groups(grouping, people, spells, start, end)


def weeks_ending(end: date, weeks: int = TREND_WEEKS) -> list[tuple[date, date]]:
    """``weeks`` consecutive 7-day windows, the last one ending on ``end``."""
    return [(end - timedelta(days=7 * i + 6), end - timedelta(days=7 * i)) for i in reversed(range(weeks))]


def window_end(month: str) -> date:
    """The month's last day, or today inside the current month (no empty future days)."""
    start, end = month_bounds(month)
    return max(start, min(end, utcnow().date()))


def funnel(inputs: kpi.WindowInputs, record: dict) -> pd.DataFrame:
    """Exposed -> tried -> active -> habitual among the people exposed in the window (the KPI
    module's ``adoption_funnel``)."""
    return kpi.adoption_funnel(inputs, record)


def _check(key: str, month: str, grouping: str = "stage") -> tuple[date, date]:
    check_month(month)
    if grouping not in GROUPINGS:
        raise ValidationFailed("invalid query", [Detail("group", "must be stage, cohort or department")])
    if db.session.scalar(select(Feature.id).where(Feature.key == key)) is None:
        raise NotFound(f"no feature {key!r}")
    return month_bounds(month)[0], window_end(month)


@memo
def adoption(key: str, month: str, grouping: str = "stage") -> dict:
    """The adoption of a feature in a month: the headline record, the funnel and the per-group
    records (``groups``).

    :param grouping: ``stage`` (champions, pilot, the rest), ``cohort`` or ``department``.
    """
    start, end = _check(key, month, grouping)
    inputs, people = kpis.kpi_inputs(key, start, end)
    record = kpi.kpi_record(inputs)
    return {"feature": key, "month": month, "start": start, "end": end, "record": record,
            "funnel": funnel(inputs, record),
            "groups": pd.DataFrame(kpi.adoption_groups(
                inputs, groups(key, grouping, people, inputs.spells, start, end),
                splits_people=grouping in SPLITTING))}


@memo
def adoption_weeks(key: str, month: str, grouping: str = "stage") -> dict:
    """Adoption over the TREND_WEEKS weeks to the month's end: per group of ``grouping`` and for
    everyone (``trend``, group ``All``), and per department (``heatmap``); a group with fewer than
    5 exposed people in a week is ``suppressed`` there (and, for stages and departments, which
    split the people, the smallest shown one beside it while the hidden ones hold 1 to 4)."""
    _start, end = _check(key, month, grouping)
    inputs, people = kpis.trend_inputs(key, weeks_ending(end))

    def trend(by: str) -> pd.DataFrame:
        # Each week with the membership as it stood then; every group named in every week.
        weekly = [groups(key, by, people, inputs.spells, lo, hi) for lo, hi in inputs.weeks]
        names = set().union(*weekly)
        weekly = [{name: week.get(name, set()) for name in names} for week in weekly]
        return kpi.adoption_trend(inputs, weekly, kpi.MIN_GROUP_EXPOSED, splits_people=by in SPLITTING)

    chosen = trend(grouping)
    departments = chosen if grouping == "department" else trend("department")
    return {"trend": chosen, "heatmap": departments[departments["group"] != kpi.trend.EVERYONE]}


@memo
def quality(key: str, month: str) -> dict:
    """The quality of a feature in a month: its KPI record (error rate and its baseline, time saved
    per task before/after and by difference in differences, the evidence label)."""
    start, end = _check(key, month)
    # The API's answer for the window (the same kpi_record): the precompute-kpis job stores it for
    # the latest 13 months, so a new worker shows it without reading the rollups.
    return {"feature": key, "month": month, "start": start, "end": end,
            "record": kpis.feature_kpis(key, start, end)}


def reviewed_quality(key: str) -> dict:
    """The error rate human reviewers found in the feature's sampled outputs (every sample so far),
    beside the self-reported one. Not memoised: a new label changes it, and no KPI refresh does."""
    return review_labels.reviewed_quality(key)


@memo
def quality_weeks(key: str, month: str) -> dict:
    """Error rate and minutes saved per AI task, with their intervals, over the TREND_WEEKS weeks
    to the month's end (``trend``), and the baseline error rate they are drawn against."""
    _start, end = _check(key, month)
    inputs = kpis.trend_inputs(key, weeks_ending(end))[0]
    return {"trend": kpi.quality_trend(inputs), "baseline_error_rate": inputs.baseline_error_rate}


def outside_interval(value: float | None, low: float | None, high: float | None) -> bool | None:
    """Whether ``value`` (a baseline) lies outside [low, high] (None when unknown)."""
    if value is None or low is None or high is None:
        return None
    return value < low or value > high
