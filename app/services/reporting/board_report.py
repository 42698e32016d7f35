"""What the board report of a month says (``board_context``): the figures, ready to lay out.

Every figure is the KPI module's, read through the executive view (money) and
``kpis.feature_kpis`` (adoption, quality, evidence); this module only gathers them for one month,
the month before it and the months of its history. app.services.reporting.board_pdf draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from flask import current_app
from sqlalchemy import select

from app import kpi
from app.db import db, utcnow
from app.models import Feature, JobRun
from app.months import month_before as previous_month  # the report compares with the month before
from app.months import month_bounds
from app.services.kpi_reads import figures as kpis
from app.services.kpi_reads import revision as kpi_revision
from app.services.reporting import variant_tables
from app.services.reporting.executive import executive_view, records

HISTORY_MONTHS = 12


def month_quality(month: str) -> dict[str, dict]:
    """Per feature key, its adoption and quality over ``month``: ``kpi.quality_flag`` plus
    ``adoption_rate``, ``exposed_users`` and ``ai_tasks``. The dashboard may read it too."""
    start, end = month_bounds(month)
    out = {}
    for key in db.session.scalars(select(Feature.key).order_by(Feature.key)):
        record = kpis.feature_kpis(key, start, end)
        out[key] = {**kpi.quality_flag(record), "adoption_rate": record.get("adoption_rate"),
                    "exposed_users": record.get("exposed_users") or 0,
                    "ai_tasks": record.get("ai_tasks") or 0}
    return out


def portfolio_adoption(quality: dict[str, dict]) -> float | None:
    """The features' adoption rates weighted by their exposed people: the share of (person,
    feature) exposures that led to use. None when nobody was exposed."""
    exposed = sum(q["exposed_users"] for q in quality.values() if q["adoption_rate"] is not None)
    if not exposed:
        return None
    return sum(q["adoption_rate"] * q["exposed_users"] for q in quality.values()
               if q["adoption_rate"] is not None) / exposed


def last_refresh() -> datetime | None:
    """When the last successful ``refresh-kpis`` run finished (the figures are as of it)."""
    return db.session.scalar(select(JobRun.finished_at).where(
        JobRun.job == "refresh-kpis", JobRun.status.in_(("success", "warning")))
        .order_by(JobRun.finished_at.desc()).limit(1))


@dataclass
class BoardReport:
    """One month's board report, as data (money in euros, rates as shares 0..1)."""

    company: str
    month: str
    made_at: datetime
    refreshed_at: datetime | None
    revision: int | None
    status: str  # open | closed | restated
    total: dict
    previous: dict  # the month before's total (the KPI module's, as of that month)
    adoption: float | None
    previous_adoption: float | None
    features: list[dict] = field(default_factory=list)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    invested_eur: float = 0.0
    # The month's comparison of each feature with variants (variant_tables.comparisons).
    variants: list[dict] = field(default_factory=list)


def board_context(month: str) -> BoardReport:
    """Gather ``month``'s board report.

    :param month: ``YYYY-MM`` (a ValidationFailed naming ``month`` otherwise).
    """
    view = executive_view(month)
    roi = view["roi"]
    before = previous_month(month)
    previous_total = executive_view(before)["roi"]["total"]
    quality = month_quality(month)
    history = view["history"].tail(HISTORY_MONTHS).reset_index(drop=True)
    history["adoption"] = [portfolio_adoption(month_quality(m)) if m != month else None
                           for m in history["month"]]
    history.loc[history["month"] == month, "adoption"] = portfolio_adoption(quality)
    features = []
    for row in records(view["features"]):
        q = quality.get(row["feature"], kpi.quality_flag({}))
        features.append({**row, **{k: q.get(k) for k in ("flagged", "reason", "error_rate",
                                                          "baseline_error_rate", "evidence",
                                                          "adoption_rate")}})
    status = "restated" if roi["restated"] else ("closed" if roi["closed"] else "open")
    return BoardReport(
        company=current_app.config.get("COMPANY_NAME") or "", month=month, made_at=utcnow(),
        refreshed_at=last_refresh(), revision=kpi_revision.current(), status=status,
        total=roi["total"], previous=previous_total, adoption=portfolio_adoption(quality),
        previous_adoption=portfolio_adoption(month_quality(before)), features=features,
        history=history, invested_eur=float(view["history"]["cost_eur"].sum()),
        variants=variant_tables.comparisons(month))
