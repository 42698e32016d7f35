"""Which stage (and variant) an AI event belongs to: the rollout's stage when it happened.

Variants (issue #18) add a ``variant`` column to events; until a build has it, no event names a
variant, so a variant filter matches nothing and a variant stratum is empty (``event_variant``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, false, or_, select

from app.db import db
from app.models import Event, Feature, RolloutTransition


def bad_name(value, limit: int) -> bool:
    """Whether ``value`` is not a usable name: a non-blank text of at most ``limit`` characters."""
    return not isinstance(value, str) or not value.strip() or len(value) > limit


def event_variant():
    """The events' variant column, or None in a build without variants."""
    return getattr(Event, "variant", None)


def variant_filter(variant: str | None):
    """SQL: the events served by ``variant`` (everything when None)."""
    if variant is None:
        return None
    column = event_variant()
    return false() if column is None else column == variant


Period = tuple[int, datetime, datetime | None]


def stage_periods(transitions: list[RolloutTransition]) -> list[Period]:
    """(stage, from, until) for each stretch of time the feature stood live at a stage (not killed,
    not archived), oldest first; the last one is open (until None) while it holds."""
    periods: list[tuple[int, datetime, datetime | None]] = []
    stage, off, since = 0, False, None
    archived = False
    for t in sorted(transitions, key=lambda t: (t.effective_at, t.id)):
        if since is not None and stage > 0 and not off and t.effective_at > since:
            periods.append((stage, since, t.effective_at))
        archived = t.action == "archive" or (archived and t.action != "unarchive")
        stage, off, since = t.to_stage, t.killed_after or archived, t.effective_at
    if since is not None and stage > 0 and not off:
        periods.append((stage, since, None))
    return periods


def transitions_of(feature: Feature) -> list[RolloutTransition]:
    """The feature's transitions (advance, rollback, kill, resume, archive), in no set order."""
    return list(db.session.scalars(select(RolloutTransition).where(
        RolloutTransition.feature_id == feature.id)))


def in_stage(periods, stage: int):
    """SQL: the event happened while the feature stood at ``stage``."""
    spans = [and_(Event.occurred_at >= start, *([Event.occurred_at < end] if end else []))
             for s, start, end in periods if s == stage]
    return or_(*spans) if spans else false()


def stage_at(periods, at: datetime) -> int:
    """The stage live at instant ``at`` (0: off or killed)."""
    for stage, start, end in periods:
        if start <= at and (end is None or at < end):
            return stage
    return 0
