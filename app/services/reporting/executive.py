"""The executive view of a month: the ``/roi/monthly`` answer, its features with their names, and the
portfolio's monthly history. Read by the printable report and the report the monthly close
e-mails (app.services.reporting.monthly_report); jobs cannot import ``dashboards``, so it lives here.

Every figure is the KPI module's (``app.kpi``) over the inputs ``app.services.kpi_reads.figures`` reads; this
module only lays them out per month and per feature.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from app import kpi
from app.db import db
from app.kpi.money import portfolio_months
from app.models import Feature
from app.models.kpi import MonthlyClose
from app.months import check_month
from app.services.kpi_reads import figures as kpis

FEATURE_COLUMNS = ["feature", "name", "ai_tasks", "value_eur", "cost_eur", "cost_per_task_eur", "net_eur",
                   "roi_pct", "cumulative_net_eur", "payback_month", "closed_net_eur"]
HISTORY_COLUMNS = ["month", "value_eur", "cost_eur", "ai_tasks", "net_eur", "cumulative_net_eur",
                   "hours_saved", "cost_per_task_eur", "closed", "restated"]


def feature_names() -> dict[str, str]:
    return dict(db.session.execute(select(Feature.key, Feature.name)).all())


def closes() -> dict[str, MonthlyClose]:
    return {c.month: c for c in db.session.scalars(select(MonthlyClose))}


def portfolio_history(inputs: kpi.MoneyInputs, month: str, closed: dict[str, MonthlyClose]) -> pd.DataFrame:
    """Per month up to ``month``: the portfolio's figures (the KPI module's ``portfolio_months``),
    and whether the month is closed / restated (as the last refresh stamped)."""
    per_month = portfolio_months(inputs, month)
    if per_month.empty:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    per_month["closed"] = per_month["month"].isin(list(closed))
    per_month["restated"] = per_month["month"].map(
        lambda m: m in closed and closed[m].restated_at is not None)
    return per_month[HISTORY_COLUMNS]


def feature_table(roi: dict) -> pd.DataFrame:
    """One row per feature of a ``/roi/monthly`` answer, with its name and its closed net."""
    names = feature_names()
    frozen = {f["feature"]: f for f in (roi.get("closed_figures") or {}).get("features", [])}
    rows = []
    for figures in roi["features"]:
        at_close = frozen.get(figures["feature"])
        rows.append({**figures, "name": names.get(figures["feature"], figures["feature"]),
                     "closed_net_eur": at_close["net_eur"] if at_close else None})
    return pd.DataFrame(rows, columns=FEATURE_COLUMNS)


def records(frame: pd.DataFrame) -> list[dict]:
    """The rows of ``frame`` as dicts, a missing value as None: pandas holds a None beside other
    values (a payback month, an ROI) as NaN, which is truthy and would print as "nan"."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def executive_view(month: str) -> dict:
    """The executive view of ``month``: the ``/roi/monthly`` answer (``roi``), its features as a
    table with names (``features``), and the portfolio's monthly history (``history``).

    :param month: ``YYYY-MM`` (a ValidationFailed naming ``month`` otherwise).
    """
    check_month(month)
    inputs = kpis.money_inputs(month)
    # The API's answer: its figures and fingerprint remembered once per KPI revision, its close
    # status read now.
    roi = kpis.monthly_roi(month)
    history = portfolio_history(inputs, month, closes())
    if roi["closed"]:
        # A restated month shows both figures; the status of the chosen month is always live.
        history.loc[history["month"] == month, "restated"] = bool(roi["restated"])
    return {"month": month, "roi": roi, "features": feature_table(roi), "history": history}
