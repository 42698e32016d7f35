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
from app.kpi.fingerprint import fingerprint
from app.models import Feature
from app.models.kpi import MonthlyClose
from app.months import check_month, months_between  # noqa: F401  (check_month: callers found it here)
from app.services.kpi_reads import figures as kpis
from app.services.kpi_reads.close_state import close_status

FEATURE_COLUMNS = ["feature", "name", "ai_tasks", "value_eur", "cost_eur", "cost_per_task_eur", "net_eur",
                   "roi_pct", "cumulative_net_eur", "payback_month", "closed_net_eur"]
HISTORY_COLUMNS = ["month", "value_eur", "cost_eur", "ai_tasks", "net_eur", "cumulative_net_eur",
                   "hours_saved", "cost_per_task_eur", "closed", "restated"]


def feature_names() -> dict[str, str]:
    return dict(db.session.execute(select(Feature.key, Feature.name)).all())


def closes() -> dict[str, MonthlyClose]:
    return {c.month: c for c in db.session.scalars(select(MonthlyClose))}


def portfolio_history(inputs: kpi.MoneyInputs, month: str, closed: dict[str, MonthlyClose]) -> pd.DataFrame:
    """Per month up to ``month``: the portfolio's value, cost, net, cumulative net, hours saved, AI
    tasks, cost per task, and whether the month is closed / restated (as the last refresh stamped)."""
    table = kpi.monthly_table(inputs)
    if table.empty:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    sums = ["value_eur", "cost_eur", "ai_tasks", "hours_saved"]
    per_month = table.groupby("month", as_index=False)[sums].sum()
    per_month = pd.DataFrame({"month": months_between(per_month["month"].min(), month)}).merge(
        per_month, on="month", how="left").fillna({"value_eur": 0.0, "cost_eur": 0.0, "ai_tasks": 0,
                                                   "hours_saved": 0.0})
    per_month["ai_tasks"] = per_month["ai_tasks"].astype("int64")
    per_month["net_eur"] = per_month["value_eur"] - per_month["cost_eur"]
    per_month["cumulative_net_eur"] = per_month["net_eur"].cumsum()
    per_month["cost_per_task_eur"] = [kpi.ratio(c, t) for c, t in
                                      zip(per_month["cost_eur"], per_month["ai_tasks"], strict=True)]
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
    # The same composition as kpis.monthly_roi, with the inputs read once for the history too.
    roi = kpi.monthly_roi(inputs, month)
    roi.update(close_status(month, fingerprint(inputs)))
    history = portfolio_history(inputs, month, closes())
    if roi["closed"]:
        # A restated month shows both figures; the status of the chosen month is always live.
        history.loc[history["month"] == month, "restated"] = bool(roi["restated"])
    return {"month": month, "roi": roi, "features": feature_table(roi), "history": history}
