"""The variant comparison of a feature over a window (``GET /api/v1/features/{key}/variants/comparison``):
its AI events labelled by variant, who was exposed to which, the SDKs' variant counts, then the
one KPI module (app/kpi/variants.py) for the figures, intervals, power, SRM and decision.

Events are read, not the rollups: the rollups have no variant, and an event belongs to the
variant it names, else to the variant its person had at ``occurred_at`` (KPI_DEFINITIONS.md),
which only the event itself can say. Remembered per KPI revision like every KPI read.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import DateTime, func, select, type_coerce

from app import kpi
from app.db import db
from app.errors import Detail, ValidationFailed
from app.kpi import variants as variant_kpis
from app.models import Event, FlagVariantMetric
from app.services.kpi_reads import cache as kpi_cache
from app.services.kpi_reads import figures, variant_exposure
from app.services.lookups import variants_of

EVENT_COLUMNS = ["person_id", "occurred_at", "task", "outcome", "duration_seconds", "cost_eur", "variant"]


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time()), datetime.combine(end + timedelta(days=1), time())


def labelled_events(feature, start: date, end: date, periods: pd.DataFrame) -> pd.DataFrame:
    """The feature's AI events of [start, end] (not voided) with their variant: the one they name,
    else their person's at occurred_at (from ``periods``); events of nobody's variant left out."""
    lo, hi = _bounds(start, end)
    at = type_coerce(Event.occurred_at, DateTime)
    frame = figures._bulk_frame(
        select(Event.person_id, at, Event.task, Event.outcome, Event.duration_seconds, Event.cost_eur,
               Event.variant)
        .where(Event.feature_id == feature.id, Event.ai_assisted.is_(True), Event.voided_at.is_(None),
               at >= lo, at < hi), EVENT_COLUMNS)
    if frame.empty:
        return frame
    frame = variant_exposure.label_events(frame, periods)
    frame[["duration_seconds", "cost_eur"]] = frame[["duration_seconds", "cost_eur"]].astype("float64")
    return frame


def sdk_counts(feature_key: str, start: date, end: date) -> dict[str, int]:
    """How often the SDKs answered each variant in the window (``/api/client/metrics``)."""
    lo, hi = _bounds(start, end)
    hour = type_coerce(FlagVariantMetric.hour, DateTime)
    rows = db.session.execute(select(FlagVariantMetric.variant, func.sum(FlagVariantMetric.count))
                              .where(FlagVariantMetric.feature_key == feature_key, hour >= lo, hour < hi)
                              .group_by(FlagVariantMetric.variant)).all()
    return {name: int(total) for name, total in rows}


def comparison(key: str, start: date, end: date, control: str | None = None,
               adoption_difference: float = 0.05, net_eur_difference: float = 1.0) -> dict:
    """The comparison of the feature's variants over [start, end] against ``control`` (the decision
    rule's control by default, else the first variant).

    :raises ValidationFailed: the feature has no variants, or ``control`` is none of them.
    """
    feature = figures._feature(key)
    variants = variants_of(feature.id)
    if not variants:
        raise ValidationFailed("the feature has no variants", [Detail("feature", f"{key!r} has no variants")])
    rule = json.loads(feature.variant_rule) if feature.variant_rule else None
    control = control or (rule["control"] if rule else variants[0].name)
    if control not in {v.name for v in variants}:
        raise ValidationFailed("invalid query", [Detail(
            "control", f"must be one of the feature's variants ({', '.join(v.name for v in variants)})")])
    version = kpi_cache.version()

    def compute() -> dict:
        # Only what the comparison needs of the window inputs: people's rates and the baselines.
        live = figures._live_window_parts(feature, version)
        people = live["people"]
        baseline_activity = figures._baseline_activity(feature, live["spells"], version)
        periods = variant_exposure.periods(feature, start, end)
        events = labelled_events(feature, start, end, periods)
        rates = people.set_index("person_id")["rate"]
        events["rate"] = events["person_id"].map(rates).astype("float64").fillna(figures.default_rate())
        exposed: dict[str, set[int]] = {v.name: set() for v in variants}
        for name, part in periods.groupby("variant"):
            exposed[str(name)].update(int(p) for p in part["person_id"])
        weights = {v.name: v.weight for v in variants}
        answer = variant_kpis.compare(variant_kpis.VariantInputs(
            events=events, exposed=exposed, weights=weights,
            variant_costs={v.name: v.cost_per_task_eur for v in variants},
            per_event_cost_eur=float(feature.per_event_cost_eur or 0.0),
            baselines=kpi.baseline_minutes(live["explicit"], baseline_activity),
            estimated_minutes_saved=float(feature.estimated_minutes_saved or 0.0),
        ), control, adoption_difference, net_eur_difference, rule)
        now = variant_exposure.assignments_now(feature)
        exposed_now = {name: sum(1 for v in now.values() if v == name) for name in weights}
        answer["sample_ratio"] = {**variant_kpis.sample_ratio(exposed_now, weights),
                                  "sdk_counts": sdk_counts(feature.key, start, end)}
        answer.update(feature=feature.key, start=start.isoformat(), end=end.isoformat())
        return answer

    key_ = ("variant_comparison", feature.id, start, end, control, adoption_difference, net_eur_difference,
            datetime.now(UTC).replace(minute=0, second=0, microsecond=0))
    return kpi_cache.cached(version, key_, compute)
