"""AI features, their staged rollout plans, every transition and who was exposed when."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, db, utcnow

if TYPE_CHECKING:
    from app.models.people import Cohort

TRANSITION_ACTIONS = ("advance", "rollback", "kill", "resume", "archive", "unarchive")


class Feature(db.Model):
    __tablename__ = "features"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(200))
    baseline_days: Mapped[int] = mapped_column(Integer, default=28)
    estimated_minutes_saved: Mapped[float] = mapped_column(Float, default=0.0)
    per_event_cost_eur: Mapped[float] = mapped_column(Float, default=0.0)
    # 0 = not started (off); k = stage k of the plan is live.
    current_stage: Mapped[int] = mapped_column(Integer, default=0)
    killed: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the Unleash reconcile job does on drift: "reapply" Liftoff's state or "adopt" Unleash's.
    drift_policy: Mapped[str] = mapped_column(String(20), default="reapply")
    playbook_key: Mapped[str | None] = mapped_column(String(120))
    auto_promote: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set while the feature is archived: off for everyone, out of the default lists, kept in history.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The variant decision rule (JSON: control, error-rate margin, objective), docs/variants.md.
    variant_rule: Mapped[str | None] = mapped_column(Text)

    stages: Mapped[list[RolloutStage]] = relationship(
        back_populates="feature",
        order_by="RolloutStage.position",
        cascade="all, delete-orphan",
    )
    transitions: Mapped[list[RolloutTransition]] = relationship(
        back_populates="feature", order_by="RolloutTransition.id"
    )


stage_cohorts = db.Table(
    "stage_cohorts",
    db.Column("stage_id", ForeignKey("rollout_stages.id"), primary_key=True),
    db.Column("cohort_id", ForeignKey("cohorts.id"), primary_key=True),
)


class RolloutStage(db.Model):
    __tablename__ = "rollout_stages"
    __table_args__ = (
        UniqueConstraint("feature_id", "position"),
        CheckConstraint("percentage >= 0 AND percentage <= 100", name="percentage_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"))
    position: Mapped[int] = mapped_column(Integer)  # 1-based
    name: Mapped[str] = mapped_column(String(200))
    percentage: Mapped[int] = mapped_column(Integer, default=0)

    feature: Mapped[Feature] = relationship(back_populates="stages")
    cohorts: Mapped[list[Cohort]] = relationship(
        secondary=stage_cohorts, order_by="Cohort.key"
    )


class RolloutTransition(db.Model):
    """One advance, rollback, kill or resume; the rollout's history is the list of these."""

    __tablename__ = "rollout_transitions"
    __table_args__ = (Index("ix_rollout_transitions_feature_effective", "feature_id", "effective_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"))
    action: Mapped[str] = mapped_column(String(20))
    from_stage: Mapped[int] = mapped_column(Integer)
    to_stage: Mapped[int] = mapped_column(Integer)
    killed_after: Mapped[bool] = mapped_column(Boolean, default=False)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str | None] = mapped_column(Text)
    # Gate result attached to a promotion (JSON text), when one was evaluated.
    gate_result: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    feature: Mapped[Feature] = relationship(back_populates="transitions")


class ExposureSpell(db.Model):
    """A person had the feature from ``start_at`` until ``end_at`` (open while ``end_at`` is null)."""

    __tablename__ = "exposure_spells"
    __table_args__ = (
        Index("ix_exposure_spells_feature_person", "feature_id", "person_id"),
        Index("ix_exposure_spells_feature_open", "feature_id", "end_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FlagRevision(db.Model):
    """One row whose counter moves whenever any flag payload may have changed.

    Each web process caches the compiled payloads and compares this counter at most once a second,
    so a change made in one gunicorn worker reaches every worker without a query per poll."""

    __tablename__ = "flag_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
