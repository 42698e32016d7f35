"""What the system itself did: job runs, the audit trail and the SDKs that connected."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, db, utcnow


class JobRun(db.Model):
    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(120))
    trigger: Mapped[str] = mapped_column(String(20), default="manual")  # manual | schedule | api
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|success|warning|failed
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # "pid@host" of the process running it: a run whose process is gone was interrupted.
    holder: Mapped[str | None] = mapped_column(String(200))


class AuditEntry(db.Model):
    """Append-only: the app has no path that updates or deletes these rows."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(80))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_key: Mapped[str] = mapped_column(String(200))
    before: Mapped[str | None] = mapped_column(Text)  # JSON
    after: Mapped[str | None] = mapped_column(Text)  # JSON
    reason: Mapped[str | None] = mapped_column(Text)


class SdkInstance(db.Model):
    """An SDK instance that registered or sent metrics to the Unleash client API."""

    __tablename__ = "sdk_instances"
    __table_args__ = (UniqueConstraint("app_name", "instance_id", "environment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_name: Mapped[str] = mapped_column(String(200))
    instance_id: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(40))
    sdk_version: Mapped[str | None] = mapped_column(String(80))
    strategies: Mapped[str | None] = mapped_column(Text)  # JSON list
    interval_ms: Mapped[int | None] = mapped_column(Integer)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The client token it reported with: each token may name a bounded number of apps.
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"), index=True)


class FlagMetric(db.Model):
    """Yes/no evaluation counts per feature, app, environment and hour (from SDKs or Unleash)."""

    __tablename__ = "flag_metrics"
    __table_args__ = (UniqueConstraint("feature_key", "app_name", "environment", "hour"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_key: Mapped[str] = mapped_column(String(120))
    app_name: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(40))
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    # BIGINT: an hour's sums of many reports outgrow a 32-bit INTEGER (PostgreSQL then refuses
    # every later report of that app and hour).
    yes: Mapped[int] = mapped_column(BigInteger, default=0)
    no: Mapped[int] = mapped_column(BigInteger, default=0)


class MetricBucket(db.Model):
    """A metrics bucket already counted: an SDK or proxy that re-sends it is not counted twice."""

    __tablename__ = "metric_buckets"
    __table_args__ = (
        UniqueConstraint("app_name", "instance_id", "environment", "start_at", "stop_at",
                         name="uq_metric_buckets_once"),
        Index("ix_metric_buckets_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_name: Mapped[str] = mapped_column(String(200))
    instance_id: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(40))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stop_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RejectedFetch(db.Model):
    """Client-API requests refused for a missing or wrong token, counted per day and reason."""

    __tablename__ = "rejected_fetches"
    __table_args__ = (UniqueConstraint("day", "reason", "app_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD
    reason: Mapped[str] = mapped_column(String(40))  # missing | unknown | wrong_kind | expired
    app_name: Mapped[str] = mapped_column(String(200), default="")
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FlagSync(db.Model):
    """A rollout state waiting to be applied to an external Unleash server (retried with backoff)."""

    __tablename__ = "flag_syncs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|applied|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
