"""What the Compare variants page shows, from the KPI reads (nothing computed here)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import select

from app.db import db
from app.models import Feature, FeatureVariant, VariantWeightChange
from app.services.kpi_reads import variant_exposure, variant_figures
from dashboards.kpi import data as kpi_data
from dashboards.kpi import periods as kpi_time


def feature_options() -> list[dict]:
    """Dropdown options of the features that have variants."""
    rows = db.session.execute(
        select(Feature.key, Feature.name)
        .where(Feature.id.in_(select(FeatureVariant.feature_id)))
        .order_by(Feature.name, Feature.key)
    ).all()
    return [{"label": f"{name} ({key})", "value": key} for key, name in rows]


def window(month: str) -> tuple[date, date]:
    start, _ = kpi_data.month_bounds(month)
    return start, kpi_data.window_end(month)


def comparison(key: str, month: str, control: str | None) -> dict:
    start, end = window(month)
    return variant_figures.comparison(key, start, end, control)


def weekly(key: str, month: str) -> pd.DataFrame:
    """AI tasks, error rate and cost per task per variant and week, over the 8 weeks up to the
    month's end: ``week`` (its Monday), ``variant``, ``ai_tasks``, ``error_rate``, ``cost_per_task``."""
    feature = db.session.scalar(select(Feature).where(Feature.key == key))
    _, end = window(month)
    start = end - timedelta(days=end.weekday()) - timedelta(weeks=7)
    columns = ["week", "variant", "ai_tasks", "error_rate", "cost_per_task"]
    if feature is None:
        return pd.DataFrame(columns=columns)
    periods = variant_exposure.periods(feature, start, end)
    events = variant_figures.labelled_events(feature, start, end, periods)
    if events.empty:
        return pd.DataFrame(columns=columns)
    variants = {
        v.name: v.cost_per_task_eur
        for v in db.session.scalars(select(FeatureVariant).where(FeatureVariant.feature_id == feature.id))
    }
    from app.kpi.variants import task_costs

    events["cost"] = task_costs(events, variants, float(feature.per_event_cost_eur or 0.0))
    events["week"] = (
        events["occurred_at"].dt.normalize() - pd.to_timedelta(events["occurred_at"].dt.weekday, unit="D")
    ).dt.date
    rated = events["outcome"] != "abandoned"
    events["error"] = events["outcome"].isin(("error", "corrected")) & rated
    events["rated"] = rated
    grouped = events.groupby(["week", "variant"]).agg(
        ai_tasks=("cost", "size"), errors=("error", "sum"), rated=("rated", "sum"), cost=("cost", "sum")
    )
    grouped["error_rate"] = (grouped["errors"] / grouped["rated"]).where(grouped["rated"] > 0)
    grouped["cost_per_task"] = grouped["cost"] / grouped["ai_tasks"]
    return grouped.reset_index()[columns]


def marks(key: str) -> list[dict]:
    """Rollout changes and weight changes, oldest first, for the trend charts."""
    feature = db.session.scalar(select(Feature).where(Feature.key == key))
    out = kpi_time.rollout_marks(key)
    if feature is None:
        return out
    changes = db.session.scalars(
        select(VariantWeightChange)
        .where(VariantWeightChange.feature_id == feature.id)
        .order_by(VariantWeightChange.effective_at)
    )
    for change in changes:
        weights = json.loads(change.weights)
        label = "/".join(str(w) for w in weights.values())
        out.append({"at": kpi_time._utc(change.effective_at), "label": f"{change.action} {label}"})
    return sorted(out, key=lambda m: m["at"])


def definable_options() -> list[dict]:
    """Dropdown options of the features whose variants may be defined or changed (not archived)."""
    rows = db.session.execute(
        select(Feature.key, Feature.name)
        .where(Feature.archived_at.is_(None))
        .order_by(Feature.name, Feature.key)
    ).all()
    return [{"label": f"{name} ({key})", "value": key} for key, name in rows]


def definition(key: str | None) -> dict:
    """The feature's variants as the form shows them (texts), its weights now and its rule:
    ``rows`` [{name, weight, payload, cost}], ``weights`` {name: weight}, ``rule`` or None."""
    feature = db.session.scalar(select(Feature).where(Feature.key == key)) if key else None
    if feature is None:
        return {"rows": [], "weights": {}, "rule": None}
    existing = db.session.scalars(
        select(FeatureVariant)
        .where(FeatureVariant.feature_id == feature.id)
        .order_by(FeatureVariant.position)
    ).all()
    rows = [
        {
            "name": v.name,
            "weight": str(v.weight),
            "payload": json.dumps(json.loads(v.payload), indent=None) if v.payload else "",
            "cost": "" if v.cost_per_task_eur is None else f"{v.cost_per_task_eur:g}",
        }
        for v in existing
    ]
    rule = json.loads(feature.variant_rule) if feature.variant_rule else None
    return {"rows": rows, "weights": {v.name: v.weight for v in existing}, "rule": rule}
