"""Unleash backend jobs: retry pending syncs, detect and resolve drift, pull flag metrics."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from app.db import db, utcnow
from app.flags import sync
from app.flags import unleash_baseline as baseline
from app.flags.unleash_admin import UnleashError
from app.flags.unleash_apply import apply_state, differences, read_state
from app.jobs.base import JobStats
from app.models import Feature, FlagMetric, FlagSync

log = logging.getLogger(__name__)


@dataclass
class FlagJobStats(JobStats):
    """JobStats plus what the Unleash jobs found: drifted features and errors."""

    drifted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def reconcile_flags() -> FlagJobStats:
    """Retry due pending syncs, then compare every feature with Unleash and resolve drift per feature."""
    stats = FlagJobStats()
    if sync.backend() != "unleash":
        return stats
    session = db.session()  # the request's own Session (db.session is its scoped proxy)
    now = utcnow()
    due = session.scalars(
        select(FlagSync).where(FlagSync.status == "pending", FlagSync.next_attempt_at <= now)
        .order_by(FlagSync.id)
    ).all()
    stats.rows_read += len(due)
    applied, errors = sync.process(session, list(due), now)
    stats.rows_written += applied
    stats.errors.extend(errors)
    still_pending = set(session.scalars(select(FlagSync.feature_id).where(FlagSync.status == "pending")))
    try:
        s = sync.settings()
        admin = sync.admin_client(s)
    except UnleashError as exc:
        stats.errors.append(str(exc))
        return stats
    try:
        admin.ensure_project(list(s.environments.values()))
        payloads = sync.compile_payloads(s)
        segments = admin.segments()
        for feature in session.scalars(select(Feature).order_by(Feature.key)):
            if feature.id in still_pending:
                continue  # its pending sync carries Liftoff's state; the retry above handles it
            stats.rows_read += 1
            if _reconcile_one(session, admin, s, payloads, segments, feature, stats):
                stats.rows_written += 1
                segments = admin.segments()
    except UnleashError as exc:
        stats.errors.append(f"drift check stopped: {exc}")
        log.warning("Unleash drift check stopped: %s", exc)
    finally:
        admin.close()
    session.flush()
    if stats.drifted:
        log.warning("Unleash drift on %d feature(s): %s", len(stats.drifted), "; ".join(stats.drifted))
    return stats


def _reconcile_one(session, admin, s, payloads, segments, feature: Feature, stats: FlagJobStats) -> bool:
    """Resolve one feature; True when something was written (to Unleash or the audit log)."""
    want = sync.desired(feature.key, s, payloads)
    have = read_state(admin, feature.key, list(s.environments.values()), segments).state
    diff = differences(want, have)
    if not diff:
        return False
    base = baseline.last_baseline(session, feature.key)
    unleash_changed = base is None or baseline.digest(have) != base.unleash
    if not have.exists or not unleash_changed:
        if base is not None and baseline.digest(want) == base.liftoff:
            return False  # an adopted state that Liftoff has not changed since
        # Unleash is as Liftoff left it: Liftoff changed (e.g. a cohort's members), so apply it.
        done: list[str] = []
        apply_state(admin, want, done)
        baseline.record(session, baseline.APPLIED, feature.key, want, want, done)
        return True
    if feature.drift_policy == "adopt":
        stats.drifted.append(f"{feature.key} (adopted): {'; '.join(diff)}")
        baseline.record(session, baseline.ADOPTED, feature.key, want, have, [], reason="; ".join(diff))
        return True
    stats.drifted.append(f"{feature.key} (re-applied): {'; '.join(diff)}")
    done = []
    apply_state(admin, want, done)
    baseline.record(session, baseline.REAPPLIED, feature.key, want, want, done, reason="; ".join(diff),
                    before=have)
    return True


def pull_unleash_metrics() -> FlagJobStats:
    """Copy the hourly yes/no counts of every feature from Unleash into FlagMetric (idempotent)."""
    stats = FlagJobStats()
    if sync.backend() != "unleash":
        return stats
    s = sync.settings()
    to_liftoff = {unleash: liftoff for liftoff, unleash in s.environments.items()}
    admin = sync.admin_client(s)
    session = db.session
    try:
        for key in session.scalars(select(Feature.key).order_by(Feature.key)):
            for row in admin.feature_metrics(key):
                if _store_metric(session, key, row, to_liftoff):
                    stats.rows_written += 1
                stats.rows_read += 1
    finally:
        admin.close()
    session.flush()
    return stats


def _hour(value: str) -> datetime:
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _store_metric(session, key: str, row: dict, to_liftoff: dict[str, str]) -> bool:
    # Unleash reports whole-hour totals: store them as they are so pulling twice never double-counts.
    env = to_liftoff.get(row.get("environment", ""), row.get("environment", ""))
    app_name = row.get("appName") or ""
    hour = _hour(row["timestamp"])
    yes, no = int(row.get("yes") or 0), int(row.get("no") or 0)
    if yes == 0 and no == 0:
        return False  # Unleash fills every hour of its window, most with zeros: keep only real counts
    metric = session.scalars(
        select(FlagMetric).where(FlagMetric.feature_key == key, FlagMetric.app_name == app_name,
                                 FlagMetric.environment == env, FlagMetric.hour == hour)
    ).first()
    if metric is None:
        session.add(FlagMetric(feature_key=key, app_name=app_name, environment=env, hour=hour,
                               yes=yes, no=no))
        return True
    if (metric.yes, metric.no) == (yes, no):
        return False
    metric.yes, metric.no = yes, no
    return True
