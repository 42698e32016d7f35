"""The one door to the scheduled jobs for the REST API, the ``liftoff`` command and the dashboard:
the registry, running a job now, the scheduler and its leader.

The jobs (``app/jobs``) sit above the services, since they call them, so this module cannot import
them: ``create_app`` connects it to them once (``app.jobs.connect``), and the faces reach the jobs
only through the functions below (the layer contracts in pyproject.toml forbid anything else).
A job run owns its own transaction (the runner commits it), unlike every other service.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from app.models import JobRun
from app.models.scheduling import SchedulerLeader


@dataclass(frozen=True)
class JobDesk:
    """What app/jobs hands over: registry lookups, the runner and the scheduler."""

    get_job: Callable[[str], Any]
    listed_jobs: Callable[[], tuple[list[Any], str | None]]
    run_job: Callable[..., JobRun]
    scheduler: Callable[..., Any]
    current_leader: Callable[[], SchedulerLeader | None]


_desk: JobDesk | None = None


def connect(desk: JobDesk) -> None:
    global _desk
    _desk = desk


def _connected() -> JobDesk:
    if _desk is None:
        raise RuntimeError("the jobs are not connected: build the app with app.create_app")
    return _desk


def get_job(name: str) -> Any:
    """The registry entry ``name`` (``NotFound`` when there is none)."""
    return _connected().get_job(name)


def listed_jobs() -> tuple[list[Any], str | None]:
    """The registry, or the fixed jobs and the reason the connector pulls cannot be read."""
    return _connected().listed_jobs()


def run_job(name: str, trigger: str = "manual", *, full: bool = False,
            max_attempts: int | None = None) -> JobRun:
    """Run the job now, recorded as a run with ``trigger`` (``manual``, ``api``); its own transaction."""
    return _connected().run_job(name, trigger, full=full, max_attempts=max_attempts)


def current_leader() -> SchedulerLeader | None:
    """The scheduler process holding the leader lock, as it last recorded itself."""
    return _connected().current_leader()


def start_scheduler(app: Flask, *, poll: float = 2.0, stop: threading.Event | None = None) -> threading.Event:
    """Run the scheduler: blocking until ``stop`` is set, or in a thread when ``stop`` is None
    (the single-process demo). Returns the event that stops it."""
    service = _connected().scheduler(app, poll=poll)
    if stop is None:
        return service.start_in_thread()
    service.run(stop)
    return stop
