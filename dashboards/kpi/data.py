"""What the executive, adoption and quality pages show, as DataFrames and dicts.

Every figure comes from the one KPI module (``app.kpi``) through the reads of
``app.services.kpi_reads.figures``; this module only picks windows and groups, and lays the answers out for
the pages, the exports and the printable report. No Dash, no Flask request: tests call it directly.
"""

from __future__ import annotations

import functools

from sqlalchemy import select, union

from app import kpi
from app.db import db, utcnow
from app.models import CostEntry, Feature
from app.models.kpi import FeatureDay, MonthlyClose
from app.months import check_month, is_month, month_bounds, this_month
from app.services.ingest import voids
from app.services.kpi_reads import cache as kpi_cache
from app.services.kpi_reads import feature_pages
from app.services.kpi_reads import figures as kpis
from app.services.reporting.executive import executive_view, feature_names
from app.services.review import labels as review_labels

GROUPINGS, TREND_WEEKS = feature_pages.GROUPINGS, feature_pages.TREND_WEEKS
weeks_ending, window_end = feature_pages.weeks_ending, feature_pages.window_end


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
    """Forget the page answers, these pages' and the adoption and quality pages' (``feature_pages``);
    the KPI reads under them stay remembered."""
    kpi_cache.clear("dashboard")
    kpi_cache.clear(feature_pages.MEMO)


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


# The adoption and quality pages' answers are kept under the key of their inputs, in this process and
# in the answer store (app/services/kpi_reads/feature_pages.py): not under the page memo, which a
# refresh clears, whereas a stored answer of an older month outlives it.
adoption = feature_pages.adoption
adoption_weeks = feature_pages.adoption_weeks
quality_weeks = feature_pages.quality_weeks


@memo
def quality(key: str, month: str) -> dict:
    """The quality of a feature in a month: its KPI record (error rate and its baseline, time saved
    per task before/after and by difference in differences, the evidence label)."""
    start, end = month_bounds(check_month(month))[0], window_end(month)
    # The API's answer for the window (the same kpi_record): the precompute-kpis job stores it for
    # the latest 13 months, so a new worker shows it without reading the rollups.
    return {"feature": key, "month": month, "start": start, "end": end,
            "record": kpis.feature_kpis(key, start, end)}


def reviewed_quality(key: str) -> dict:
    """The error rate human reviewers found in the feature's sampled outputs (every sample so far),
    beside the self-reported one. Not memoised: a new label changes it, and no KPI refresh does."""
    return review_labels.reviewed_quality(key)


def outside_interval(value: float | None, low: float | None, high: float | None) -> bool | None:
    """Whether ``value`` (a baseline) lies outside [low, high] (None when unknown)."""
    if value is None or low is None or high is None:
        return None
    return value < low or value > high
