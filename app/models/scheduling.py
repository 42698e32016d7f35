"""Scheduler tables: APScheduler's job store, the scheduler leader, connectors and their progress,
and where alerts go."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, db, utcnow

ALERT_KINDS = ("webhook", "email")


class SchedulerJobState(db.Model):
    """APScheduler 3's SQLAlchemyJobStore table, declared here so the migrations own it.

    The columns mirror what the job store would create itself (it only creates a missing table).
    """

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)


class SchedulerLeader(db.Model):
    """Who runs the scheduled jobs now. The lock itself is elsewhere (a PostgreSQL advisory lock or
    a file lock); this row is what operators see, refreshed by the leader's heartbeat."""

    __tablename__ = "scheduler_leaders"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))  # host:pid
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConnectorDefinition(db.Model):
    """A connector configured in the app (the same document as a YAML file in connectors/)."""

    __tablename__ = "connectors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    document: Mapped[str] = mapped_column(Text)  # JSON of the connector's YAML document
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConnectorWatermark(db.Model):
    """How far an incremental connector has read; committed with the rows it covers."""

    __tablename__ = "connector_watermarks"

    connector: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # JSON: {"type": "int|float|str|datetime", "value": ...}
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConnectorFile(db.Model):
    """A dropped file already written, by content hash, so a crash before the move to done/ never
    writes it twice."""

    __tablename__ = "connector_files"
    __table_args__ = (UniqueConstraint("connector", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector: Mapped[str] = mapped_column(String(120))
    file_name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertChannel(db.Model):
    """Where failures (and later gate results) are sent: for one feature, or for all (no feature)."""

    __tablename__ = "alert_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int | None] = mapped_column(ForeignKey("features.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # webhook | email
    target: Mapped[str] = mapped_column(String(500))  # URL or e-mail address
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
