"""The people side of a rollout: playbooks attached, trainings held, actions followed up."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, db, utcnow

OWNER_MAX = 320  # an owner is a person: an e-mail address at most


class PlaybookRun(db.Model):
    """A playbook (a YAML file in playbooks/) attached to a feature."""

    __tablename__ = "playbook_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), index=True)
    playbook_key: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TrainingSession(db.Model):
    __tablename__ = "training_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), index=True)
    stage_position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    format: Mapped[str | None] = mapped_column(String(40))
    trainer: Mapped[str | None] = mapped_column(String(200))
    held_on: Mapped[date] = mapped_column(Date)
    # When it starts (UTC), for a session scheduled with a time of day; held_on is then its date.
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int | None] = mapped_column(Integer)

    attendance: Mapped[list[Attendance]] = relationship(
        back_populates="session", cascade="all, delete-orphan"
    )


class Attendance(db.Model):
    __tablename__ = "attendance"

    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    completed: Mapped[bool] = mapped_column(Boolean, default=True)

    session: Mapped[TrainingSession] = relationship(back_populates="attendance")


class ActionItem(db.Model):
    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), index=True)
    title: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(OWNER_MAX))
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GateEvaluation(db.Model):
    """One evaluation of a feature's stage gate, criterion by criterion with its numbers."""

    __tablename__ = "gate_evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), index=True)
    stage_position: Mapped[int] = mapped_column(Integer)
    playbook_key: Mapped[str] = mapped_column(String(120))
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    trigger: Mapped[str] = mapped_column(String(20), default="manual")  # manual|schedule|api|advance
    passed: Mapped[bool] = mapped_column(Boolean)
    # JSON: {"window": {...}, "criteria": [{"metric", "threshold", "value", "passed", ...}]}
    result: Mapped[str] = mapped_column(Text)
    # Set when this evaluation led to (automatic) or was attached to (manual) a promotion.
    transition_id: Mapped[int | None] = mapped_column(ForeignKey("rollout_transitions.id"))


class DriftCheck(db.Model):
    """A weekly two-sample comparison of live behaviour with the feature's first month."""

    __tablename__ = "drift_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), index=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    metric: Mapped[str] = mapped_column(String(40))  # duration_seconds | error_rate
    test: Mapped[str] = mapped_column(String(40))  # mann-whitney | two-proportion-z
    reference_start: Mapped[datetime] = mapped_column(UTCDateTime)
    reference_end: Mapped[datetime] = mapped_column(UTCDateTime)
    live_start: Mapped[datetime] = mapped_column(UTCDateTime)
    live_end: Mapped[datetime] = mapped_column(UTCDateTime)
    reference_n: Mapped[int] = mapped_column(Integer)
    live_n: Mapped[int] = mapped_column(Integer)
    reference_value: Mapped[float | None] = mapped_column(Float)  # median duration or error rate
    live_value: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    diverged: Mapped[bool] = mapped_column(Boolean, default=False)
