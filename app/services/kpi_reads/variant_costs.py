"""The AI events the monthly ROI prices at a variant's ``cost_per_task_eur``.

task_cost(e) is the event's own cost_eur, else its variant's cost_per_task_eur when set, else the
feature's per_event_cost_eur (KPI_DEFINITIONS.md, "Money"). The rollups count events without a
variant, so the money module prices every event without its own cost at the feature's rate and
moves these, counted here per feature, month and variant, to their variant's rate. Only features
with a priced variant are read; an event's variant is the one it names, else its person's at
``occurred_at`` (the same labelling as the variant comparison).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pandas as pd
from sqlalchemy import DateTime, select, type_coerce

from app.db import column_lists, db
from app.models import Event, Feature, FeatureVariant
from app.months import month_bounds
from app.services.kpi_reads import variant_exposure

COLUMNS = ["feature_id", "month", "variant", "tasks", "cost_per_task_eur"]


def priced_variant_tasks(through_month: str) -> pd.DataFrame:
    """Per feature x month (up to ``through_month``) x priced variant: its AI events without their
    own cost_eur (``tasks``) and the variant's ``cost_per_task_eur``."""
    priced = db.session.execute(
        select(Feature, FeatureVariant.name, FeatureVariant.cost_per_task_eur)
        .join(FeatureVariant, FeatureVariant.feature_id == Feature.id)
        .where(FeatureVariant.cost_per_task_eur.is_not(None)).order_by(Feature.id)).all()
    if not priced:
        return pd.DataFrame(columns=COLUMNS)
    features: dict[int, Feature] = {}
    costs: dict[int, dict[str, float]] = {}
    for feature, name, cost in priced:
        features[feature.id] = feature
        costs.setdefault(feature.id, {})[name] = float(cost or 0.0)  # never None: filtered above
    end = datetime.combine(month_bounds(through_month)[1] + timedelta(days=1), time())
    parts = [_feature_tasks(features[feature_id], prices, end) for feature_id, prices in costs.items()]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def _feature_tasks(feature: Feature, prices: dict[str, float], end: datetime) -> pd.DataFrame:
    at = type_coerce(Event.occurred_at, DateTime)
    person_ids, instants, named = column_lists(
        select(Event.person_id, at, Event.variant)
        .where(Event.feature_id == feature.id, Event.ai_assisted.is_(True), Event.voided_at.is_(None),
               Event.cost_eur.is_(None), at < end))
    events = pd.DataFrame({"person_id": person_ids, "occurred_at": instants, "variant": named})
    if events.empty:
        return pd.DataFrame(columns=COLUMNS)
    first = pd.to_datetime(events["occurred_at"]).min().date()
    spans = variant_exposure.periods(feature, first, (end - timedelta(days=1)).date())
    events = variant_exposure.label_events(events, spans)
    events = events[events["variant"].isin(list(prices))]
    if events.empty:
        return pd.DataFrame(columns=COLUMNS)
    counts = (events.assign(month=events["occurred_at"].dt.strftime("%Y-%m"))
              .groupby(["month", "variant"], as_index=False).size().rename(columns={"size": "tasks"}))
    counts["feature_id"] = feature.id
    counts["cost_per_task_eur"] = counts["variant"].map(prices).astype("float64")
    counts["tasks"] = counts["tasks"].astype("int64")
    return counts[COLUMNS]
