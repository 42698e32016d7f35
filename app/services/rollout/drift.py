"""Drift watch: do a feature's live task durations and error rates still look like its first
month after rollout? Models and the data they see change; a divergence is announced."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta

from scipy import stats
from sqlalchemy import func, select

from app.db import db, utcnow
from app.kpi.quality import ERROR_OUTCOMES
from app.models import DriftCheck, Event, ExposureSpell, Feature
from app.services.rollout.announce import announce

REFERENCE_DAYS = 30
LIVE_DAYS = 7
ALPHA = 0.01  # weekly tests on many features: a strict level keeps false alarms rare
MIN_SAMPLES = 20


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (datetime.combine(start, time(0), tzinfo=UTC),
            datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC))


def _ai_events(feature: Feature, start: date, end: date) -> list[tuple[float | None, str]]:
    lo, hi = _bounds(start, end)
    return list(db.session.execute(select(Event.duration_seconds, Event.outcome).where(
        Event.feature_id == feature.id, Event.ai_assisted.is_(True), Event.voided_at.is_(None),
        Event.occurred_at >= lo, Event.occurred_at < hi)).all())


def two_proportion_p(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z test; None when it cannot be computed."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / se
    return float(2 * stats.norm.sf(abs(z)))


def check_drift(feature: Feature, now: datetime | None = None) -> list[DriftCheck]:
    """Compare the last 7 days with the first 30 days after first exposure; store the checks.

    :returns: the stored checks (none when the reference month is not over yet).
    """
    now = now or utcnow()
    first = db.session.scalar(select(func.min(ExposureSpell.start_at)).where(
        ExposureSpell.feature_id == feature.id))
    if first is None:
        return []
    ref_start = first.date()
    ref_end = ref_start + timedelta(days=REFERENCE_DAYS - 1)
    live_end = now.date()
    live_start = live_end - timedelta(days=LIVE_DAYS - 1)
    if live_start <= ref_end:
        return []
    reference, live = _ai_events(feature, ref_start, ref_end), _ai_events(feature, live_start, live_end)
    windows = dict(zip(("reference_start", "reference_end"), _bounds(ref_start, ref_end), strict=True))
    windows.update(zip(("live_start", "live_end"), _bounds(live_start, live_end), strict=True))
    checks = []

    ref_d = [d for d, _ in reference if d is not None]
    live_d = [d for d, _ in live if d is not None]
    p = None
    if len(ref_d) >= MIN_SAMPLES and len(live_d) >= MIN_SAMPLES:
        p = float(stats.mannwhitneyu(ref_d, live_d, alternative="two-sided").pvalue)
    checks.append(DriftCheck(
        feature_id=feature.id, checked_at=now, metric="duration_seconds", test="mann-whitney",
        reference_n=len(ref_d), live_n=len(live_d),
        reference_value=float(stats.scoreatpercentile(ref_d, 50)) if ref_d else None,
        live_value=float(stats.scoreatpercentile(live_d, 50)) if live_d else None,
        p_value=p, diverged=p is not None and p < ALPHA, **windows))

    ref_o = [o for _, o in reference if o != "abandoned"]
    live_o = [o for _, o in live if o != "abandoned"]
    ref_x = sum(o in ERROR_OUTCOMES for o in ref_o)
    live_x = sum(o in ERROR_OUTCOMES for o in live_o)
    p = None
    if len(ref_o) >= MIN_SAMPLES and len(live_o) >= MIN_SAMPLES:
        p = two_proportion_p(ref_x, len(ref_o), live_x, len(live_o))
    checks.append(DriftCheck(
        feature_id=feature.id, checked_at=now, metric="error_rate", test="two-proportion-z",
        reference_n=len(ref_o), live_n=len(live_o),
        reference_value=ref_x / len(ref_o) if ref_o else None,
        live_value=live_x / len(live_o) if live_o else None,
        p_value=p, diverged=p is not None and p < ALPHA, **windows))
    db.session.add_all(checks)
    db.session.flush()
    diverged = [c for c in checks if c.diverged]
    if diverged:
        body = "; ".join(f"{c.metric}: first month {c.reference_value:.3f} (n={c.reference_n}), "
                         f"last 7 days {c.live_value:.3f} (n={c.live_n}), p={c.p_value:.2g}"
                         for c in diverged)
        announce(feature, f"drift detected: {feature.name}", body)
    return checks


def drift_watch(now: datetime | None = None) -> list[DriftCheck]:
    """Check every feature that has been rolled out to anyone."""
    features = list(db.session.scalars(select(Feature).where(Feature.current_stage > 0)
                                       .order_by(Feature.key)))
    return [check for feature in features for check in check_drift(feature, now)]


def latest_drift(feature: Feature) -> list[DriftCheck]:
    """The most recent check of each metric (for the dashboard and the API)."""
    last = db.session.scalar(select(func.max(DriftCheck.checked_at)).where(
        DriftCheck.feature_id == feature.id))
    if last is None:
        return []
    return list(db.session.scalars(select(DriftCheck).where(
        DriftCheck.feature_id == feature.id, DriftCheck.checked_at == last).order_by(DriftCheck.metric)))
