"""Monthly money: value, cost, net, ROI, cumulative net and payback, per feature and in total."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from app.kpi.stats import ratio
from app.kpi.time_saved import saved_minutes

MONEY_FIELDS = ("value_eur", "cost_eur", "cost_per_task_eur", "net_eur", "roi_pct",
                "cumulative_net_eur", "payback_month")


@dataclass
class MoneyInputs:
    """``sums``: per feature_id x month x department_id x task event sums (rollup columns).
    ``features``: feature_id, key, estimated_minutes_saved, per_event_cost_eur.
    ``baselines``: feature_id -> task -> minutes. ``rates``: department_id -> euros per hour
    (0 = no department). ``costs``: feature_id, month, amount_eur."""

    sums: pd.DataFrame
    features: pd.DataFrame
    baselines: dict[int, dict[str, float]]
    rates: dict[int, float]
    default_rate: float
    costs: pd.DataFrame
    _table: pd.DataFrame | None = field(default=None, repr=False)


def monthly_table(inputs: MoneyInputs) -> pd.DataFrame:
    """value_eur, ai_tasks, hours_saved and cost_eur per feature_id x month (every month with a cost
    or event).

    Computed once per inputs (the executive view asks for it twice); each caller gets a copy."""
    if inputs._table is None:
        inputs._table = _monthly_table(inputs)
    return inputs._table.copy()


def _monthly_table(inputs: MoneyInputs) -> pd.DataFrame:
    parts = []
    for feature_id, sums in inputs.sums.groupby("feature_id"):
        feature = inputs.features.set_index("feature_id").loc[feature_id]
        saved = saved_minutes(sums, inputs.baselines.get(int(feature_id), {}),
                              float(feature["estimated_minutes_saved"]))
        rate = sums["department_id"].astype("int64").map(inputs.rates).astype("float64")
        parts.append(pd.DataFrame({
            "feature_id": int(feature_id), "month": sums["month"],
            "value_eur": saved["saved_min"] / 60 * rate.fillna(inputs.default_rate),
            "ai_tasks": sums["ai_tasks"].astype("int64"),
            "hours_saved": saved["saved_min"] / 60,
        }))
    activity = (pd.concat(parts) if parts else
                pd.DataFrame(columns=["feature_id", "month", "value_eur", "ai_tasks", "hours_saved"]))
    activity = activity.groupby(["feature_id", "month"], as_index=False)[
        ["value_eur", "ai_tasks", "hours_saved"]].sum()
    entries = inputs.costs.groupby(["feature_id", "month"], as_index=False)["amount_eur"].sum() \
        if not inputs.costs.empty else pd.DataFrame(columns=["feature_id", "month", "amount_eur"])
    table = activity.merge(entries, on=["feature_id", "month"], how="outer")
    money = ["value_eur", "amount_eur", "hours_saved"]
    table[money] = table[money].astype("float64").fillna(0.0)
    table["ai_tasks"] = table["ai_tasks"].fillna(0).astype("int64")
    table["feature_id"] = table["feature_id"].astype("int64")
    per_event = inputs.features.set_index("feature_id")["per_event_cost_eur"].astype("float64")
    per_event_cost = table["feature_id"].map(per_event).fillna(0.0) * table["ai_tasks"]
    table["cost_eur"] = table["amount_eur"] + per_event_cost
    table["has_cost"] = inputs_has_cost(table, inputs.costs)
    return table.sort_values(["feature_id", "month"]).reset_index(drop=True)


def inputs_has_cost(table: pd.DataFrame, costs: pd.DataFrame) -> pd.Series:
    """A month "has a cost" when a cost entry is dated in it or its per-event cost is above 0."""
    dated = set() if costs.empty else set(zip(costs["feature_id"].astype(int), costs["month"],
                                              strict=True))
    keyed = [(int(f), m) in dated for f, m in zip(table["feature_id"], table["month"], strict=True)]
    return pd.Series(keyed, index=table.index) | (table["cost_eur"] > 0)


def _series_figures(months: pd.DataFrame, month: str) -> dict:
    """The money figures of one series of months (a feature, or the portfolio) as of ``month``."""
    upto = months[months["month"] <= month].sort_values("month")
    this = upto[upto["month"] == month]
    value = float(this["value_eur"].sum())
    cost = float(this["cost_eur"].sum())
    tasks = int(this["ai_tasks"].sum())
    net = value - cost
    upto = upto.assign(net=upto["value_eur"] - upto["cost_eur"])
    upto["cumulative"] = upto["net"].cumsum()
    payback = None
    costed = upto[upto["has_cost"]]
    if not costed.empty:
        after = upto[(upto["month"] >= costed["month"].iloc[0]) & (upto["cumulative"] >= 0)]
        payback = None if after.empty else str(after["month"].iloc[0])
    return {
        "ai_tasks": tasks,
        "value_eur": value,
        "cost_eur": cost,
        "cost_per_task_eur": ratio(cost, tasks),
        "net_eur": net,
        "roi_pct": None if cost == 0 else net / cost * 100,
        "cumulative_net_eur": float(upto["net"].sum()),
        "payback_month": payback,
    }


def monthly_roi(inputs: MoneyInputs, month: str) -> dict:
    """The ``/roi/monthly`` answer for ``month`` (YYYY-MM): every feature, and the portfolio."""
    table = monthly_table(inputs)
    by_feature = dict(tuple(table.groupby("feature_id")))
    features = []
    for row in inputs.features.sort_values("key").itertuples():
        figures = _series_figures(by_feature.get(row.feature_id, table.iloc[0:0]), month)
        features.append({"feature": row.key, **figures})
    portfolio = table.groupby("month", as_index=False).agg(
        value_eur=("value_eur", "sum"), cost_eur=("cost_eur", "sum"), ai_tasks=("ai_tasks", "sum"),
        has_cost=("has_cost", "any"))
    return {"month": month, "features": features, "total": _series_figures(portfolio, month)}
