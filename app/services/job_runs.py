"""What the jobs did: their last runs and history, for the API, the CLI and the dashboard."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import db
from app.models import JobRun


def run_record(run: JobRun) -> dict:
    """A run as the API and the CLI show it."""
    duration = None
    if run.finished_at is not None:
        duration = round((run.finished_at - run.started_at).total_seconds(), 3)
    return {
        "id": run.id, "job": run.job, "trigger": run.trigger, "status": run.status,
        "attempt": run.attempt, "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": duration, "rows_read": run.rows_read, "rows_written": run.rows_written,
        "error": run.error,
    }


def last_runs() -> dict[str, JobRun]:
    """The latest run of every job that ever ran, by job name."""
    latest = select(JobRun.job, func.max(JobRun.id).label("id")).group_by(JobRun.job).subquery()
    runs = db.session.scalars(select(JobRun).join(latest, latest.c.id == JobRun.id))
    return {run.job: run for run in runs}


def runs_of(job: str, limit: int = 50) -> list[JobRun]:
    """The latest ``limit`` runs of ``job``, newest first.

    :param job: the registry name.
    :param limit: how many.
    """
    return list(db.session.scalars(
        select(JobRun).where(JobRun.job == job).order_by(JobRun.id.desc()).limit(limit)
    ))
