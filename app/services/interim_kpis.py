"""INTERIM, to be deleted when the KPI module lands: just enough of KPI_DEFINITIONS.md for the
gates (adoption, time saved, error rate, baseline error rate, Wilson intervals). The gates reach
it only through ``app.services.gates.stage_kpis``, which calls the KPI service once it exists."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from app.db import db
from app.models import Baseline, Event, ExposureSpell, Feature

Z95 = 1.96


def _wilson(successes: int, n: int) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def feature_kpis(feature: Feature, start: date, end: date) -> dict:
    """The KPI answer's fields the gates use, for the closed day window [start, end]."""
    lo, hi = _day_start(start), _day_start(end + timedelta(days=1))
    exposed = set(db.session.scalars(select(ExposureSpell.person_id).where(
        ExposureSpell.feature_id == feature.id, ExposureSpell.start_at < hi,
        (ExposureSpell.end_at.is_(None)) | (ExposureSpell.end_at > lo))))
    events = list(db.session.scalars(select(Event).where(
        Event.feature_id == feature.id, Event.occurred_at >= lo, Event.occurred_at < hi)))
    ai = [e for e in events if e.ai_assisted]
    active = {e.person_id for e in ai}
    first = db.session.scalar(select(func.min(ExposureSpell.start_at)).where(
        ExposureSpell.feature_id == feature.id))
    base_events: list[Event] = []
    if first is not None:
        b_hi = _day_start(first.date())
        base_events = list(db.session.scalars(select(Event).where(
            Event.feature_id == feature.id, Event.ai_assisted.is_(False),
            Event.occurred_at >= b_hi - timedelta(days=feature.baseline_days), Event.occurred_at < b_hi)))
    minutes: dict[str, float | None] = {}

    def baseline_minutes(task: str) -> float | None:
        if task not in minutes:
            row = db.session.scalar(select(Baseline).where(
                Baseline.feature_id == feature.id, Baseline.task == task,
                Baseline.minutes_per_task.is_not(None)).order_by(Baseline.measured_at.desc()))
            durations = [e.duration_seconds / 60 for e in base_events
                         if e.task == task and e.duration_seconds is not None]
            minutes[task] = row.minutes_per_task if row else (
                sum(durations) / len(durations) if durations else None)
        return minutes[task]

    saved = 0.0
    for e in ai:
        if e.outcome == "abandoned":
            saved -= (e.duration_seconds or 0) / 60
        elif e.duration_seconds is not None and baseline_minutes(e.task) is not None:
            saved += baseline_minutes(e.task) - e.duration_seconds / 60
        else:
            saved += feature.estimated_minutes_saved
    judged = [e for e in ai if e.outcome != "abandoned"]
    errors = sum(1 for e in judged if e.outcome in ("error", "corrected"))
    recorded = db.session.scalar(select(Baseline).where(
        Baseline.feature_id == feature.id, Baseline.error_rate.is_not(None))
        .order_by(Baseline.measured_at.desc()))
    base_judged = [e for e in base_events if e.outcome != "abandoned"]
    if recorded is not None:
        baseline_error = recorded.error_rate
    elif base_judged:
        baseline_error = sum(e.outcome in ("error", "corrected") for e in base_judged) / len(base_judged)
    else:
        baseline_error = None
    adopters = len(active & exposed)
    adoption_low, adoption_high = _wilson(adopters, len(exposed))
    error_low, error_high = _wilson(errors, len(judged))
    return {
        "feature": feature.key, "start": start.isoformat(), "end": end.isoformat(),
        "exposed_users": len(exposed), "active_users": len(active),
        "adoption_rate": adopters / len(exposed) if exposed else None,
        "ai_tasks": len(ai), "time_saved_hours": saved / 60,
        "error_rate": errors / len(judged) if judged else None,
        "baseline_error_rate": baseline_error,
        "adoption_rate_ci_low": adoption_low, "adoption_rate_ci_high": adoption_high,
        "error_rate_ci_low": error_low, "error_rate_ci_high": error_high,
    }
