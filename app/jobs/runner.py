"""Run one registered job: inside an app context, in one transaction the runner owns, recorded as a
JobRun per attempt, retried with exponential backoff, and alerted when the last attempt fails."""

from __future__ import annotations

import contextvars
import importlib
import inspect
import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flask import Flask, current_app, has_app_context

from app.db import db, utcnow
from app.errors import LiftoffError
from app.jobs import JobSpec, get_job
from app.jobs.base import JobStats
from app.models import JobRun
from app.observability import observe_job
from app.services.operations.job_runs import close_dead_runs, this_process

log = logging.getLogger(__name__)


class JobError(LiftoffError):
    """A job that cannot be started (missing module, unknown option)."""


@dataclass
class RunHooks:
    """Work outside the database that must follow the transaction's fate (moving a dropped file)."""

    # An after-commit callback may return a warning (text): the run then ends as "warning".
    on_commit: list[Callable[[], str | None]] = field(default_factory=list)
    on_rollback: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, callback: Callable[[], str | None]) -> None:
        self.on_commit.append(callback)

    def after_rollback(self, callback: Callable[[], None]) -> None:
        self.on_rollback.append(callback)


_hooks: contextvars.ContextVar[RunHooks | None] = contextvars.ContextVar("job_run_hooks", default=None)


def current_hooks() -> RunHooks:
    """The hooks of the run in progress (a throwaway set when a job function is called directly)."""
    return _hooks.get() or RunHooks()


def resolve(target: str) -> Callable[..., JobStats | None]:
    """Import ``module:function`` now, so a missing module fails only the job that needs it."""
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise JobError(f"cannot import {module_name} for {target}: {error}") from error
    function = getattr(module, attr, None)
    if not callable(function):
        raise JobError(f"{module_name} has no function {attr!r} ({target})")
    return function


def _call(spec: JobSpec, full: bool) -> JobStats:
    function = resolve(spec.target)
    kwargs = dict(spec.kwargs)
    if full:
        if "full" not in inspect.signature(function).parameters:
            raise JobError(f"job {spec.name} has no --full mode")
        kwargs["full"] = True
    result = function(**kwargs)
    return result if isinstance(result, JobStats) else JobStats()


def _attempt(spec: JobSpec, trigger: str, attempt: int, full: bool) -> JobRun:
    close_dead_runs()  # an earlier run killed mid-run must not look as if it were still going
    run = JobRun(job=spec.name, trigger=trigger, attempt=attempt, status="running", started_at=utcnow(),
                 holder=this_process())
    db.session.add(run)
    db.session.commit()  # visible as "running" while the job works
    run_id = run.id
    hooks = RunHooks()
    token = _hooks.set(hooks)
    started = time.monotonic()
    try:
        stats = _call(spec, full)
        run.status, run.finished_at = "success", utcnow()
        run.rows_read, run.rows_written = stats.rows_read, stats.rows_written
        db.session.commit()  # the job's writes and its success record, together
        warnings = _fire(hooks.on_commit, spec.name)
        if warnings:  # committed, but a step after it failed (a report e-mail): say so on the run
            run.status, run.error = "warning", "\n".join(warnings)
            db.session.commit()
    except Exception as error:  # a job may fail in any way; all of it is rolled back and recorded
        db.session.rollback()
        _fire(hooks.on_rollback, spec.name)
        found = db.session.get(JobRun, run_id)
        assert found is not None, "the run was committed as running before the job started"
        run = found
        run.status, run.finished_at, run.error = "failed", utcnow(), describe(error)
        run.rows_read = run.rows_written = 0  # nothing of it was kept
        db.session.commit()
        log.warning("job %s attempt %d failed: %s", spec.name, attempt, run.error.splitlines()[0])
    finally:
        _hooks.reset(token)
    observe_job(spec.name, run.status, time.monotonic() - started)
    return run


def _fire(callbacks: Sequence[Callable[[], str | None]], job: str) -> list[str]:
    """Run the callbacks; what went wrong in them, as text (a callback may return a warning)."""
    warnings = []
    for callback in callbacks:
        try:
            warning = callback()
        except Exception as error:  # the transaction is settled; a failed file move must not hide it
            log.exception("job %s: post-transaction step failed", job)
            warning = f"after the commit: {describe(error)}"
        if isinstance(warning, str) and warning:
            warnings.append(warning)
    return warnings


def describe(error: BaseException) -> str:
    """The error text a run records: the domain message with every detail, or the exception."""
    if isinstance(error, LiftoffError):
        return str(error)
    last = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(error).__name__}: {error}{where}"


def backoff_seconds(app: Flask, attempt: int) -> float:
    """Delay before attempt ``attempt + 1``: base * 2^(attempt-1), capped."""
    base = float(app.config.get("JOB_RETRY_BASE_SECONDS", 30))
    cap = float(app.config.get("JOB_RETRY_MAX_SECONDS", 900))
    return min(cap, base * 2 ** (attempt - 1))


def run_job(
    name: str,
    trigger: str = "manual",
    *,
    full: bool = False,
    max_attempts: int | None = None,
    app: Flask | None = None,
    stop: threading.Event | None = None,
) -> JobRun:
    """Run the registered job ``name`` now and return its last run record.

    :param name: a registry name (``refresh-kpis``, ``pull:<connector>``, ...).
    :param trigger: ``manual``, ``api`` or ``schedule``; recorded on the run.
    :param full: ask the job for a full recomputation (only jobs taking ``full``).
    :param max_attempts: attempts before giving up; default JOB_MAX_ATTEMPTS for scheduled runs, 1
        otherwise (a person waiting on the answer sees the failure at once).
    :param app: the app to run in when no app context is active.
    :param stop: set it to abandon the remaining retries (scheduler shutdown).
    """
    if app is None and not has_app_context():
        from app import create_app

        app = create_app({"SKIP_DASH": True})
    if app is None:
        # current_app is a LocalProxy, typed by Flask as the app itself
        real_app = current_app._get_current_object()  # type: ignore[attr-defined]
        return _run_in_context(real_app, name, trigger, full, max_attempts, stop)
    with app.app_context():
        run = _run_in_context(app, name, trigger, full, max_attempts, stop)
        db.session.expunge(run)  # keeps its loaded fields readable after this context ends
        return run


def _run_in_context(app, name, trigger, full, max_attempts, stop) -> JobRun:
    spec = get_job(name)
    if max_attempts is None:
        max_attempts = int(app.config.get("JOB_MAX_ATTEMPTS", 3)) if trigger == "schedule" else 1
    stop = stop or threading.Event()
    attempt = 1
    while True:
        run = _attempt(spec, trigger, attempt, full)
        # A warning is no failure: the job's work is committed, running it again would not redo it.
        if run.status != "failed" or attempt >= max_attempts:
            break
        if stop.wait(backoff_seconds(app, attempt)):
            break
        attempt += 1
    if run.status == "failed":
        from app.alerts import job_failed

        job_failed(run, spec.feature)
    db.session.refresh(run)
    return run

