"""KPI rollups and monthly closes: what the refresh-kpis job materialises from the events.

Distinct counts (exposed, active, stickiness, habit) do not add up across days or departments, so
the exact base is one row per feature x person x day x task; coarser tables hold only sums.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, db, utcnow
from app.models.rollout import ExposureSpell


class _TaskSums:
    """Additive sums of one slice of events (AI and manual), shared by both rollup tables."""

    ai_tasks: Mapped[int] = mapped_column(Integer, default=0)
    # AI events with outcome error or corrected, and those not abandoned (error rate's parts).
    ai_errors: Mapped[int] = mapped_column(Integer, default=0)
    ai_ok: Mapped[int] = mapped_column(Integer, default=0)
    # Non-abandoned AI events that carry a duration: n, sum and sum of squares of minutes.
    ai_dur_n: Mapped[int] = mapped_column(Integer, default=0)
    ai_dur_min: Mapped[float] = mapped_column(Float, default=0.0)
    ai_dur_min_sq: Mapped[float] = mapped_column(Float, default=0.0)
    # Abandoned AI events that carry a duration (time lost).
    ai_aband_dur_n: Mapped[int] = mapped_column(Integer, default=0)
    ai_aband_min: Mapped[float] = mapped_column(Float, default=0.0)
    ai_aband_min_sq: Mapped[float] = mapped_column(Float, default=0.0)
    manual_tasks: Mapped[int] = mapped_column(Integer, default=0)
    manual_errors: Mapped[int] = mapped_column(Integer, default=0)
    manual_ok: Mapped[int] = mapped_column(Integer, default=0)
    # Non-AI events with a duration, whatever their outcome (the event-derived baseline).
    manual_dur_n: Mapped[int] = mapped_column(Integer, default=0)
    manual_dur_min: Mapped[float] = mapped_column(Float, default=0.0)
    manual_dur_min_sq: Mapped[float] = mapped_column(Float, default=0.0)
    # AI events that carry their own cost_eur, and its sum (task_cost: the others cost the
    # feature's per_event_cost_eur, applied when the money is computed).
    ai_cost_n: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ai_cost_eur: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


SUM_COLUMNS = (
    "ai_tasks", "ai_errors", "ai_ok", "ai_dur_n", "ai_dur_min", "ai_dur_min_sq",
    "ai_aband_dur_n", "ai_aband_min", "ai_aband_min_sq", "manual_tasks", "manual_errors",
    "manual_ok", "manual_dur_n", "manual_dur_min", "manual_dur_min_sq", "ai_cost_n", "ai_cost_eur",
)


class ActivityDay(_TaskSums, db.Model):
    """One person's tasks of one feature on one day: the exact base of every KPI."""

    __tablename__ = "kpi_activity_days"

    # No foreign keys (migration 0007): about one row per event, and the per-row checks dominated a
    # full rebuild; the rows derive from events, whose own foreign keys hold the references.
    feature_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(120), primary_key=True)
    # The first AI event of that day (time to first use needs the instant, not the day).
    ai_first_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FeatureDay(_TaskSums, db.Model):
    """Sums per feature x day x department x task, for the monthly ROI and baseline windows."""

    __tablename__ = "kpi_feature_days"

    feature_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # derived: no FK (0007)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # 0 for people without a department (the organisation's default rate applies).
    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(120), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), index=True)


class FeatureMonth(_TaskSums, db.Model):
    """The same sums per feature x month x department x task: what the monthly ROI reads."""

    __tablename__ = "kpi_feature_months"

    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(120), primary_key=True)


class FirstUse(db.Model):
    """A person's first AI event of a feature (only ever moves earlier: events are never deleted)."""

    __tablename__ = "kpi_first_use"

    # Derived from events like the other rollups: no per-row foreign-key checks (migration 0009).
    feature_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_ai_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DirtyDay(db.Model):
    """A feature's day with events the rollups have not absorbed yet (written by ingestion in the
    events' own transaction, so a refresh cannot miss a batch that committed late)."""

    __tablename__ = "kpi_dirty_days"

    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # Bumped by every batch touching the day: a refresh clears only the version it has read.
    version: Mapped[int] = mapped_column(Integer, default=1)


class RefreshState(db.Model):
    """Where the last refresh-kpis run stopped (a single row)."""

    __tablename__ = "kpi_refresh_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Events ingested after this instant (minus a safety overlap) are picked up by the next run.
    watermark: Mapped[datetime] = mapped_column(UTCDateTime)
    # Hash of every person's department: a move re-sums the department rollup.
    people_fingerprint: Mapped[str] = mapped_column(String(64))


class KpiRevision(db.Model):
    """The one revision of every KPI input (a single row): each commit that writes one bumps it,
    and every KPI cache keys on it (app/services/kpi_reads/revision.py)."""

    __tablename__ = "kpi_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class KpiAnswer(db.Model):
    """A feature's KPI answer over a window, computed once for every process and host by the
    precompute-kpis job, under the key of the inputs it came from (app/services/kpi_reads/answers.py).
    Derived, like a memo entry: writing it changes no KPI input."""

    __tablename__ = "kpi_answers"

    question: Mapped[str] = mapped_column(String(200), primary_key=True)
    feature_id: Mapped[int] = mapped_column(Integer)
    answer: Mapped[str] = mapped_column(Text)  # JSON: the GET /features/{key}/kpis answer
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MonthlyClose(db.Model):
    """A month's ROI frozen for executives, with the fingerprint of the inputs it came from."""

    __tablename__ = "kpi_monthly_closes"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fingerprint: Mapped[str] = mapped_column(String(64))
    figures: Mapped[str] = mapped_column(Text)  # JSON: the /roi/monthly answer at close time
    # Set when a later change (a late event, a cost, a baseline) moved the month's figures.
    restated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    restated_fingerprint: Mapped[str | None] = mapped_column(String(64))


# Each feature's first exposure (its baseline window, read by every /roi/monthly) as one index
# probe per feature instead of a scan of every spell (migration 0007).
Index("ix_exposure_spells_feature_start", ExposureSpell.feature_id, ExposureSpell.start_at)
