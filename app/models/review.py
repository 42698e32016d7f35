"""Humans in the loop: review samples of AI outputs and their labels, the datasets corrections
become (versioned, by reference), and evaluation runs of a model version on a dataset."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, db, utcnow

LABELS = ("correct", "corrected", "wrong", "not_assessable")
CATEGORY_MAX = 40
VARIANT_MAX = 120
ACTOR_MAX = 320
DATASET_KEY_MAX = 120
# events.id is a BIGINT on PostgreSQL (an INTEGER on SQLite): references must match it.
EVENT_REF = BigInteger().with_variant(Integer, "sqlite")


class ReviewSample(db.Model):
    """A sample of a feature's AI outputs drawn for review, for one stage (and variant)."""

    __tablename__ = "review_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), index=True)
    stage_position: Mapped[int] = mapped_column(Integer)
    # Only outputs served by this variant (none: every output of the stage).
    variant: Mapped[str | None] = mapped_column(String(VARIANT_MAX))
    size: Mapped[int] = mapped_column(Integer)
    second_share: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(ACTOR_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewItem(db.Model):
    """One AI event in a sample; ``needs_second`` marks the items a second reviewer labels too."""

    __tablename__ = "review_items"
    __table_args__ = (UniqueConstraint("sample_id", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("review_samples.id"), index=True)
    event_id: Mapped[int] = mapped_column(EVENT_REF, ForeignKey("events.id"), index=True)
    # The stratum: the person's department when the event happened (a name, not a person).
    department: Mapped[str | None] = mapped_column(String(200))
    needs_second: Mapped[bool] = mapped_column(Boolean, default=False)


class ReviewLabel(db.Model):
    """A reviewer's verdict on an item: round 1 is the review, round 2 the agreement check."""

    __tablename__ = "review_labels"
    __table_args__ = (
        UniqueConstraint("item_id", "round"),
        UniqueConstraint("item_id", "reviewer"),
        CheckConstraint("label IN ('correct', 'corrected', 'wrong', 'not_assessable')", name="label"),
        CheckConstraint("round IN (1, 2)", name="round"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    reviewer: Mapped[str] = mapped_column(String(ACTOR_MAX))
    label: Mapped[str] = mapped_column(String(20))
    category: Mapped[str | None] = mapped_column(String(CATEGORY_MAX))
    # The reviewer's fixed version (label "corrected"): a free text, blanked like the event's.
    fix: Mapped[str | None] = mapped_column(Text)
    labelled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Dataset(db.Model):
    """A named dataset; each export makes a new version of it."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(DATASET_KEY_MAX), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetVersion(db.Model):
    """One export: who made it, when, with which filter, how many items. Its items are frozen."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"))
    filter: Mapped[str] = mapped_column(Text)  # JSON: feature, variant, start, end, category
    item_count: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(ACTOR_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetItem(db.Model):
    """An item of a version, by reference (texts are read from the event and the label when
    exported, so a GDPR erase or the retention reaches every copy)."""

    __tablename__ = "dataset_items"
    __table_args__ = (UniqueConstraint("version_id", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), index=True)
    event_id: Mapped[int] = mapped_column(EVENT_REF, ForeignKey("events.id"))
    # The review verdict that put the item in (none: a self-reported correction).
    label_id: Mapped[int | None] = mapped_column(ForeignKey("review_labels.id"))
    stage_position: Mapped[int] = mapped_column(Integer)


class EvaluationRun(db.Model):
    """A model version run on a dataset version by an evaluation harness."""

    __tablename__ = "evaluation_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), index=True)
    model_version: Mapped[str] = mapped_column(String(200))
    variant: Mapped[str | None] = mapped_column(String(VARIANT_MAX))
    items: Mapped[int] = mapped_column(Integer)
    passed: Mapped[int] = mapped_column(Integer)
    posted_by: Mapped[str] = mapped_column(String(ACTOR_MAX))
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvaluationResult(db.Model):
    __tablename__ = "evaluation_results"

    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("dataset_items.id"), primary_key=True)
    passed: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float | None] = mapped_column(Float)
