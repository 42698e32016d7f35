"""What the jobs did: their last runs and history, for the API, the CLI and the dashboard; and the
closing of runs whose process died mid-run."""

from __future__ import annotations

import os
import re
import socket

from sqlalchemy import func, select

from app.db import db, utcnow
from app.flags import sync
from app.models import JobRun

HOLDER_LENGTH = 200  # job_runs.holder


def this_process() -> str:
    """The holder a run records: ``"<pid>@<hostname>"`` of the process running it."""
    return f"{os.getpid()}@{socket.gethostname()}"[:HOLDER_LENGTH]


def close_dead_runs() -> list[JobRun]:
    """Mark ``failed`` ("interrupted") every ``running`` run held by a process of this host that no
    longer exists, and return those runs. Flushes, never commits: the caller owns the transaction.

    Such a run was killed mid-run, so nothing of it was committed (the runner commits a job's
    writes together with its success) and running the job again is safe. A run held on another
    host cannot be checked here (a pid means nothing across hosts): it stays ``running`` until a
    process on its own host lists or runs jobs, or, for a scheduled run, a new scheduler leader
    closes it. Runs recorded before holders existed (``holder`` NULL) are left as they are.
    """
    host = socket.gethostname()
    closed = []
    for run in db.session.scalars(select(JobRun).where(JobRun.status == "running",
                                                       JobRun.holder.is_not(None))):
        assert run.holder is not None, "the query selects held runs"
        pid, _, run_host = run.holder.partition("@")
        if run_host != host or not pid.isdigit() or _process_exists(int(pid)):
            continue
        run.status, run.finished_at = "failed", utcnow()
        run.error = f"interrupted: the process {run.holder} was gone; nothing of the run was committed"
        closed.append(run)
    db.session.flush()
    return closed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


# What a failure text can carry that only admins may read: credentials in URLs, query strings,
# "password=..." pairs, bearer values and long random-looking strings (keys, tokens).
_SECRET_PATTERNS = (
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@]+@"), r"\1[redacted]@"),
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s?#'\"]*)\?[^\s'\"]*"), r"\1?[redacted]"),
    (re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|authorization|cookie|session)"
                r"(\s*[=:]\s*)(?:bearer\s+|basic\s+)?[^\s'\",;&]+"), r"\1\2[redacted]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s'\",;]+"), r"\1 [redacted]"),
)
_LONG_RUN = re.compile(r"[A-Za-z0-9+/=_-]{20,}")


def redact(error: str | None) -> str | None:
    """``error`` as non-admins see it: the same words with anything secret-looking replaced."""
    if not error:
        return error
    text = error
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)

    def _mask(match: re.Match) -> str:
        run = match.group(0)
        looks_random = any(c.isdigit() for c in run) and any(c.isalpha() for c in run)
        return "[redacted]" if looks_random else run

    return _LONG_RUN.sub(_mask, text)


def run_record(run: JobRun, full_error: bool = False) -> dict:
    """A run as the API, the CLI and the dashboard show it.

    :param full_error: the error exactly as recorded (for those who may run jobs, ``jobs:run``);
        else :func:`redact`-ed.
    """
    duration = None
    if run.finished_at is not None:
        duration = round((run.finished_at - run.started_at).total_seconds(), 3)
    return {
        "id": run.id, "job": run.job, "trigger": run.trigger, "status": run.status,
        "attempt": run.attempt, "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": duration, "rows_read": run.rows_read, "rows_written": run.rows_written,
        "error": run.error if full_error else redact(run.error),
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


def pending_flag_syncs() -> list[dict]:
    """Rollout changes the ``flag-reconcile`` job has not yet applied to Unleash, oldest first."""
    return sync.pending_syncs()
