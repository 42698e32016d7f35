"""Time on the KPI pages: which month a URL asks for and whether it may, how a month stands (closed
or not yet), how fresh each feature's data is, and when its rollout changed (to mark on charts)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import func, select

from app.db import db, utcnow
from app.models import Event, Feature, RolloutStage, RolloutTransition
from app.models.kpi import FeatureDay
from app.months import is_month, month_of, this_month

# A live feature whose newest event is older than this has a late source (a connector stopped,
# a team stopped sending): its figures are not wrong, only incomplete.
LATE_AFTER = timedelta(days=2)


def month_refusal(requested: str | None, now: datetime | None = None) -> str | None:
    """Why the month a URL or picker asked for cannot be shown; None when it can (or none was asked)."""
    if requested is None or requested == "":
        return None
    if not is_month(requested):
        # Not echoed: what a URL says is not repeated on the page.
        return "The month asked for is not a month: write it as YYYY-MM, e.g. 2026-10."
    if requested > this_month(now):
        return f"{requested} is in the future: no figures exist for it yet."
    return None


def month_state(month: str, closed: bool, now: datetime | None = None) -> str:
    """``closed``, ``open`` (this month: figures still move) or ``not closed yet`` (a past month
    nobody has closed)."""
    if closed:
        return "closed"
    return "open" if month >= this_month(now) else "not closed yet"


def month_has_events(month: str, key: str | None = None) -> bool:
    """Whether any event of ``month`` (of feature ``key``, or of any feature) reached the rollups."""
    stmt = select(FeatureDay.feature_id).where(FeatureDay.month == month).limit(1)
    if key is not None:
        stmt = stmt.join(Feature, Feature.id == FeatureDay.feature_id).where(Feature.key == key)
    return db.session.scalar(stmt) is not None


def _utc(at: datetime | None) -> pd.Timestamp | None:
    if at is None:
        return None
    stamp = pd.Timestamp(at)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def data_through(now: datetime | None = None) -> pd.DataFrame:
    """Per feature not archived: its newest event (not voided) and whether its source is late: no
    event for more than LATE_AFTER while the feature is live (started, not killed)."""
    now_at = _utc(now or utcnow())
    assert now_at is not None, "_utc answers None for None only"
    # One backward probe of ix_events_feature_occurred per feature: a GROUP BY over the events read
    # all of them (minutes at 50 M events).
    latest = (select(func.max(Event.occurred_at))
              .where(Event.feature_id == Feature.id, Event.voided_at.is_(None)).scalar_subquery())
    newest = dict(db.session.execute(select(Feature.id, latest).where(Feature.archived_at.is_(None))).all())
    rows = []
    for feature in db.session.scalars(select(Feature).where(Feature.archived_at.is_(None))
                                      .order_by(Feature.name)):
        last = _utc(newest.get(feature.id))
        live = feature.current_stage > 0 and not feature.killed
        late = live and (last is None or now_at - last > LATE_AFTER)
        rows.append({"feature": feature.key, "name": feature.name, "last_event_at": last, "live": live,
                     "late": late})
    return pd.DataFrame(rows, columns=["feature", "name", "last_event_at", "live", "late"])


def rollout_marks(key: str) -> list[dict]:
    """The feature's rollout changes, oldest first: ``at`` (UTC) and ``label`` (the stage it went to,
    or ``killed`` / ``off``)."""
    feature = db.session.scalar(select(Feature).where(Feature.key == key))
    if feature is None:
        return []
    names = dict(db.session.execute(select(RolloutStage.position, RolloutStage.name)
                                    .where(RolloutStage.feature_id == feature.id)).all())
    marks = []
    changes = select(RolloutTransition).where(RolloutTransition.feature_id == feature.id)
    for change in db.session.scalars(changes.order_by(RolloutTransition.effective_at, RolloutTransition.id)):
        if change.killed_after:
            label = "killed"
        elif change.to_stage <= 0:
            label = "off"
        else:
            label = names.get(change.to_stage, f"stage {change.to_stage}")
        marks.append({"at": _utc(change.effective_at), "label": label})
    return marks


def rollout_changes_by_month() -> dict[str, list[str]]:
    """Every feature's rollout changes grouped by month (YYYY-MM): ``Feature → stage`` texts, for
    the executive's monthly charts."""
    by_month: dict[str, list[str]] = {}
    for feature in db.session.scalars(select(Feature).where(Feature.archived_at.is_(None))):
        for mark in rollout_marks(feature.key):
            by_month.setdefault(month_of(mark["at"]), []).append(f"{feature.name} → {mark['label']}")
    return by_month
