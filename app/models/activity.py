"""What people did: task events, baselines to compare them with, costs and feedback."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, db, utcnow
from app.models.enablement import OWNER_MAX

OUTCOMES = ("success", "error", "corrected", "abandoned")
COST_CATEGORIES = ("licences", "compute", "tokens", "implementation", "training", "other")
FEEDBACK_STATUSES = ("open", "triaged", "fixed", "verified")
# Bounds of an event's free texts: an AI answer and its fix can be long, not unbounded.
EVENT_TEXT_MAX = 20_000
MODEL_VERSION_MAX = 200


class Event(db.Model):
    """One task done by one person, with or without the AI feature."""

    __tablename__ = "events"
    __table_args__ = (
        # event_id is unique per source: a resent event is recognised and ignored.
        UniqueConstraint("source", "event_id"),
        Index("ix_events_feature_occurred", "feature_id", "occurred_at"),
        Index("ix_events_feature_ingested", "feature_id", "ingested_at"),
        # Per-variant reads select one feature's events of a window and group them by variant.
        Index("ix_events_feature_variant", "feature_id", "variant"),
        CheckConstraint(
            "outcome IN ('success', 'error', 'corrected', 'abandoned')", name="outcome"
        ),
        CheckConstraint("duration_seconds IS NULL OR duration_seconds >= 0", name="duration"),
        CheckConstraint("cost_eur IS NULL OR cost_eur >= 0", name="cost"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(120), default="api")
    event_id: Mapped[str] = mapped_column(String(200))
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    task: Mapped[str] = mapped_column(String(120), default="default")
    ai_assisted: Mapped[bool] = mapped_column(Boolean)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(20))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the event was voided (app/services/ingest/voids.py): kept, but no longer counted anywhere.
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The task's direct AI cost; when absent the feature's per_event_cost_eur applies (task_cost).
    cost_eur: Mapped[float | None] = mapped_column(Float)
    # What the AI produced, its fixed version and the model: free texts, blanked by a GDPR erase.
    output: Mapped[str | None] = mapped_column(Text)
    correction: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[str | None] = mapped_column(String(MODEL_VERSION_MAX))
    # The variant that served the task, as sent (validated against the feature's variants); when
    # absent the task belongs to the variant its person had at occurred_at (variant_exposure).
    variant: Mapped[str | None] = mapped_column(String(100))


class Baseline(db.Model):
    """An explicitly recorded (entered or pulled) pre-AI measurement of a task."""

    __tablename__ = "baselines"
    __table_args__ = (Index("ix_baselines_feature_task", "feature_id", "task"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"))
    task: Mapped[str] = mapped_column(String(120), default="default")
    minutes_per_task: Mapped[float | None] = mapped_column(Float)
    error_rate: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(200))
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CostEntry(db.Model):
    __tablename__ = "cost_entries"
    __table_args__ = (Index("ix_cost_entries_feature_month", "feature_id", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"))
    month: Mapped[str] = mapped_column(String(7))  # "YYYY-MM"
    amount_eur: Mapped[float] = mapped_column(Float)
    category: Mapped[str] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A voided entry stays listed (as voided) but no longer counts in any cost or ROI figure.
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(Text)


class Feedback(db.Model):
    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("rating >= 1 AND rating <= 5", name="rating_range"),
        Index("ix_feedback_feature_occurred", "feature_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    # e.g. "usability", "quality", "correction" (a faulty AI answer and its fix).
    category: Mapped[str | None] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(20), default="normal")  # normal | critical
    status: Mapped[str] = mapped_column(String(20), default="open")
    owner: Mapped[str | None] = mapped_column(String(OWNER_MAX))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
