"""Monthly money: value, cost, net, ROI, cumulative net and payback, per feature and in total."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import pandas as pd

from app.kpi.stats import ratio
from app.kpi.time_saved import saved_minutes
from app.months import months_between

# What the monthly table sums per feature and month from the rollups.
_SUMMED = ("value_eur", "ai_tasks", "hours_saved", "priced_tasks", "priced_eur")
MONEY_FIELDS = ("value_eur", "cost_eur", "cost_per_task_eur", "net_eur", "roi_pct",
                "cumulative_net_eur", "payback_month")
PORTFOLIO_COLUMNS = ["month", "value_eur", "cost_eur", "ai_tasks", "hours_saved", "net_eur",
                     "cumulative_net_eur", "cost_per_task_eur"]


@dataclass
class MoneyInputs:
    """``sums``: per feature_id x month x department_id x task event sums (rollup columns).
    ``features``: feature_id, key, estimated_minutes_saved, per_event_cost_eur.
    ``baselines``: feature_id -> task -> minutes. ``rates``: department_id -> euros per hour
    (0 = no department). ``costs``: feature_id, month, amount_eur. ``variant_tasks``: the AI events
    without their own cost_eur that belong to a variant with a ``cost_per_task_eur``, counted per
    feature_id x month x variant (``tasks``) with that cost (``cost_per_task_eur``); None or empty when
    no variant is priced."""

    sums: pd.DataFrame
    features: pd.DataFrame
    baselines: dict[int, dict[str, float]]
    rates: dict[int, float]
    default_rate: float
    costs: pd.DataFrame
    variant_tasks: pd.DataFrame | None = None
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
    estimates = inputs.features.set_index("feature_id")["estimated_minutes_saved"]
    for key, sums in inputs.sums.groupby("feature_id"):
        # The column holds integers; pandas types a group key as any scalar.
        feature_id = int(cast(int, key))
        saved = saved_minutes(sums, inputs.baselines.get(feature_id, {}), float(estimates[feature_id]))
        rate = sums["department_id"].astype("int64").map(inputs.rates).astype("float64")
        parts.append(pd.DataFrame({
            "feature_id": feature_id, "month": sums["month"],
            "value_eur": saved["saved_min"] / 60 * rate.fillna(inputs.default_rate),
            "ai_tasks": sums["ai_tasks"].astype("int64"),
            "hours_saved": saved["saved_min"] / 60,
            "priced_tasks": sums["ai_cost_n"].astype("int64"),
            "priced_eur": sums["ai_cost_eur"].astype("float64"),
        }))
    activity = (pd.concat(parts) if parts else pd.DataFrame(columns=["feature_id", "month", *_SUMMED]))
    activity = activity.groupby(["feature_id", "month"], as_index=False)[list(_SUMMED)].sum()
    entries = inputs.costs.groupby(["feature_id", "month"], as_index=False)["amount_eur"].sum() \
        if not inputs.costs.empty else pd.DataFrame(columns=["feature_id", "month", "amount_eur"])
    table = activity.merge(entries, on=["feature_id", "month"], how="outer")
    money = ["value_eur", "amount_eur", "hours_saved", "priced_eur"]
    table[money] = table[money].astype("float64").fillna(0.0)
    for count in ("ai_tasks", "priced_tasks"):
        table[count] = table[count].fillna(0).astype("int64")
    table["feature_id"] = table["feature_id"].astype("int64")
    # task_cost(e): the event's own cost_eur when given, else its variant's cost_per_task_eur when
    # set, else the feature's per_event_cost_eur. The rollups know no variant: every event without
    # its own cost is first priced at the feature's rate, then the variant-priced ones are moved to
    # their variant's rate.
    per_event = inputs.features.set_index("feature_id")["per_event_cost_eur"].astype("float64")
    unpriced = table["ai_tasks"] - table["priced_tasks"]
    task_costs = table["priced_eur"] + table["feature_id"].map(per_event).fillna(0.0) * unpriced
    task_costs += _variant_repricing(table, inputs.variant_tasks, per_event)
    table["cost_eur"] = table["amount_eur"] + task_costs
    table["has_cost"] = inputs_has_cost(table, inputs.costs)
    return table.sort_values(["feature_id", "month"]).reset_index(drop=True)


def _variant_repricing(table: pd.DataFrame, variant_tasks: pd.DataFrame | None,
                       per_event: pd.Series) -> pd.Series:
    """Per row of ``table``: sum over its variant-priced tasks of (variant cost - feature cost)."""
    if variant_tasks is None or variant_tasks.empty:
        return pd.Series(0.0, index=table.index)
    vt = variant_tasks
    feature_cost = vt["feature_id"].map(per_event).astype("float64").fillna(0.0)
    extra = vt.assign(extra=vt["tasks"].astype("float64") * (vt["cost_per_task_eur"].astype("float64")
                                                             - feature_cost))
    per_month = extra.groupby(["feature_id", "month"])["extra"].sum()
    keys = pd.MultiIndex.from_arrays([table["feature_id"].astype("int64"), table["month"]])
    return pd.Series(per_month.reindex(keys).fillna(0.0).to_numpy(), index=table.index)


def inputs_has_cost(table: pd.DataFrame, costs: pd.DataFrame) -> pd.Series:
    """A month "has a cost" when a cost entry is dated in it or its per-event cost is above 0."""
    dated = set() if costs.empty else set(zip(costs["feature_id"].astype(int), costs["month"],
                                              strict=True))
    keyed = [(int(f), m) in dated for f, m in zip(table["feature_id"], table["month"], strict=True)]
    return pd.Series(keyed, index=table.index) | (table["cost_eur"] > 0)


def _with_nets(months: pd.DataFrame, key: str) -> pd.DataFrame:
    """``months`` (sorted by ``key`` and month) with each month's net (value - cost) and the
    cumulative net of its series up to it: the one place both are computed."""
    months = months.assign(net_eur=months["value_eur"] - months["cost_eur"])
    months["cumulative_net_eur"] = months.groupby(key)["net_eur"].cumsum()
    return months


def portfolio_months(inputs: MoneyInputs, month: str) -> pd.DataFrame:
    """Per month from the first with figures up to ``month`` (months without any as zeros): the
    portfolio's value, cost, AI tasks, hours saved, net, cumulative net and cost per task."""
    table = monthly_table(inputs)
    if table.empty:
        return pd.DataFrame(columns=PORTFOLIO_COLUMNS)
    sums = ["value_eur", "cost_eur", "ai_tasks", "hours_saved"]
    per_month = table.groupby("month", as_index=False)[sums].sum()
    per_month = pd.DataFrame({"month": months_between(per_month["month"].min(), month)}).merge(
        per_month, on="month", how="left").fillna({"value_eur": 0.0, "cost_eur": 0.0, "ai_tasks": 0,
                                                   "hours_saved": 0.0})
    per_month["ai_tasks"] = per_month["ai_tasks"].astype("int64")
    per_month = _with_nets(per_month.assign(series=0), "series")
    per_month["cost_per_task_eur"] = [ratio(c, t) for c, t in
                                      zip(per_month["cost_eur"], per_month["ai_tasks"], strict=True)]
    return per_month[PORTFOLIO_COLUMNS]


def _figures_per_series(months: pd.DataFrame, key: str, month: str) -> dict:
    """The money figures as of ``month`` of each series of months in ``months`` (rows keyed by
    ``key``: a feature, or the portfolio), all at once."""
    upto = _with_nets(months[months["month"] <= month].sort_values([key, "month"]), key)
    this = upto[upto["month"] == month].groupby(key)[["value_eur", "cost_eur", "ai_tasks"]].sum()
    cumulative = upto.groupby(key)["net_eur"].sum()
    # Payback: the first month, from the first month with a cost on, whose cumulative net is >= 0.
    first_costed = upto[upto["has_cost"]].groupby(key)["month"].min()
    since = upto[key].map(first_costed)
    paid = upto[since.notna() & (upto["month"] >= since) & (upto["cumulative_net_eur"] >= 0)]
    payback = paid.groupby(key)["month"].min()
    out = {}
    for series in months[key].unique():
        value = float(this["value_eur"].get(series, 0.0))
        cost = float(this["cost_eur"].get(series, 0.0))
        tasks = int(this["ai_tasks"].get(series, 0))
        net = value - cost
        out[series] = {
            "ai_tasks": tasks,
            "value_eur": value,
            "cost_eur": cost,
            "cost_per_task_eur": ratio(cost, tasks),
            "net_eur": net,
            "roi_pct": None if cost == 0 else net / cost * 100,
            "cumulative_net_eur": float(cumulative.get(series, 0.0)),
            "payback_month": str(payback[series]) if series in payback.index else None,
        }
    return out


_NOTHING = {"ai_tasks": 0, "value_eur": 0.0, "cost_eur": 0.0, "cost_per_task_eur": None, "net_eur": 0.0,
            "roi_pct": None, "cumulative_net_eur": 0.0, "payback_month": None}


def monthly_roi(inputs: MoneyInputs, month: str) -> dict:
    """The ``/roi/monthly`` answer for ``month`` (YYYY-MM): every feature, and the portfolio."""
    table = monthly_table(inputs)
    per_feature = _figures_per_series(table, "feature_id", month)
    features = [{"feature": row.key, **per_feature.get(row.feature_id, _NOTHING)}
                for row in inputs.features.sort_values("key").itertuples()]
    portfolio = table.groupby("month", as_index=False).agg(
        value_eur=("value_eur", "sum"), cost_eur=("cost_eur", "sum"), ai_tasks=("ai_tasks", "sum"),
        has_cost=("has_cost", "any")).assign(series=0)
    total = _figures_per_series(portfolio, "series", month).get(0, _NOTHING)
    return {"month": month, "features": features, "total": dict(total)}
