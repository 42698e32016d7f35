"""Hands the registry, the runner and the scheduler to app/services/operations/jobs.py, the one
door through which the API, the CLI and the dashboard reach the jobs (they sit above the services)."""

from __future__ import annotations

from flask import Flask


def _scheduler(app: Flask, poll: float = 2.0):
    from app.jobs.scheduler import SchedulerService  # APScheduler only where a scheduler runs

    return SchedulerService(app, poll=poll)


def _current_leader():
    from app.jobs.scheduler import current_leader

    return current_leader()


def connect_services() -> None:
    from app.jobs import get_job, listed_jobs
    from app.jobs.runner import run_job
    from app.services.operations import jobs

    jobs.connect(jobs.JobDesk(get_job=get_job, listed_jobs=listed_jobs, run_job=run_job,
                              scheduler=_scheduler, current_leader=_current_leader))
