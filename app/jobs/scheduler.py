"""The scheduler: APScheduler 3 with its job store in the app database, run only by the leader.

Several ``liftoff scheduler`` processes may run; one holds the leader lock and runs the jobs, the
others wait and take over within ``poll`` seconds of the leader dying. On PostgreSQL the lock is a
session advisory lock held on a dedicated connection: the server frees it the moment that
connection drops, however the process died. On SQLite it is an exclusive file lock beside the
database file (SQLite is a single-host, single-writer setup; run one scheduler). APScheduler's job
store is never shared: only the leader's scheduler opens it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import select, update

from app.connectors.config import EVERY
from app.db import db, utcnow
from app.errors import LiftoffError
from app.jobs import JOBS, JobSpec, all_jobs
from app.jobs.leader import LOCK_NAME, leader_lock
from app.models import JobRun
from app.models.scheduling import SchedulerLeader
from app.services.operations.job_runs import close_dead_runs

log = logging.getLogger(__name__)
_app: Flask | None = None  # the app scheduled jobs run in (one per scheduler process)
_stop = threading.Event()


def trigger_for(schedule: str):
    """A crontab (UTC) or "every N[smh]" as an APScheduler trigger."""
    every = EVERY.match(schedule.strip())
    if every:
        unit = {"s": "seconds", "m": "minutes", "h": "hours"}[every.group(2)]
        return IntervalTrigger(**{unit: int(every.group(1))}, timezone="UTC")
    return CronTrigger.from_crontab(schedule, timezone="UTC")


def run_scheduled(name: str) -> None:
    """What the job store calls: the registry job ``name`` with retries (module-level, picklable)."""
    from app.jobs.runner import run_job

    app = _app
    if app is None:
        from app import create_app

        app = create_app({"SKIP_DASH": True})
    try:
        run_job(name, "schedule", app=app, stop=_stop)
    except Exception:  # the scheduler thread must live on; the run record holds the details
        log.exception("scheduled job %s could not run", name)


def build_scheduler(app: Flask) -> BackgroundScheduler:
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=db.engine, tablename="apscheduler_jobs")},
        executors={"default": ThreadPoolExecutor(int(app.config.get("SCHEDULER_THREADS", 4)))},
        job_defaults={
            "coalesce": True,  # a backlog of missed ticks runs once, not once per tick
            "max_instances": 1,  # a job never overlaps itself
            "misfire_grace_time": int(app.config.get("JOB_MISFIRE_GRACE_SECONDS", 300)),
        },
        timezone="UTC",
    )


def sync_jobs(scheduler: BackgroundScheduler, specs: list[JobSpec],
              keep: frozenset[str] = frozenset()) -> None:
    """Make the job store match the registry; jobs whose schedule is unchanged keep their next run
    time, so a restart still sees the ticks it missed (then coalesced, within the grace time).
    Jobs named in ``keep`` are left as they are."""
    wanted = {spec.name: spec for spec in specs}
    for job in scheduler.get_jobs():
        spec = wanted.get(job.id)
        if spec is None:
            if job.id not in keep:
                job.remove()
        elif str(job.trigger) != str(trigger_for(spec.schedule)) or job.args != (spec.name,):
            job.remove()
        else:
            wanted.pop(job.id)
    for spec in wanted.values():
        scheduler.add_job(run_scheduled, trigger_for(spec.schedule), args=(spec.name,), id=spec.name,
                          name=spec.name, replace_existing=True)


class SchedulerService:
    """Waits for the leader lock, then runs the scheduler until stopped or the lock is lost."""

    def __init__(self, app: Flask, poll: float = 2.0):
        global _app
        _app = app
        self.app = app
        self.poll = poll
        self.lock = leader_lock(app.config["SQLALCHEMY_DATABASE_URI"])
        self.scheduler: BackgroundScheduler | None = None
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        # New or changed connector files are picked up this often, without a restart.
        self.resync = float(app.config.get("SCHEDULER_RESYNC_SECONDS", 60))
        self.synced_at = 0.0

    def run(self, stop: threading.Event) -> None:
        """Block until ``stop`` is set."""
        _stop.clear()
        try:
            while not stop.is_set():
                if self.scheduler is None:
                    if self.lock.acquire():
                        self._lead()
                elif not self.lock.still_held():
                    log.error("scheduler: leader lock lost; stopping the jobs here")
                    self._step_down()
                else:
                    self._heartbeat()
                    if time.monotonic() - self.synced_at >= self.resync:
                        self._resync()
                stop.wait(self.poll)
        finally:
            _stop.set()
            self._step_down()

    def start_in_thread(self) -> threading.Event:
        """For the single-process demo: run in a daemon thread; set the returned event to stop."""
        stop = threading.Event()
        threading.Thread(target=self.run, args=(stop,), name="liftoff-scheduler", daemon=True).start()
        return stop

    def _lead(self) -> None:
        with self.app.app_context():
            self._record_leader()
            self._close_interrupted_runs()
            close_dead_runs()  # manual and API runs killed on this host
            db.session.commit()
            self.scheduler = build_scheduler(self.app)
            self.scheduler.start(paused=True)
            count = self._sync()
            self.scheduler.resume()
            db.session.remove()
        self.synced_at = time.monotonic()
        log.info("scheduler: %s is the leader, running %d jobs", self.holder, count)

    def _sync(self) -> int:
        """Registry -> job store. A broken connector file must not stop the other jobs: it is
        alerted, and the jobs that are known keep running."""
        assert self.scheduler is not None, "only the leader syncs, after building its scheduler"
        keep: frozenset[str] = frozenset()
        try:
            specs = all_jobs()
        except LiftoffError as error:
            log.error("scheduler: the connector configuration is invalid: %s", error)
            from app.alerts import send_alert

            send_alert("Connector configuration invalid", str(error))
            specs = list(JOBS)
            # The pulls already scheduled keep running while their configuration cannot be read.
            keep = frozenset(job.id for job in self.scheduler.get_jobs() if job.id.startswith("pull:"))
        sync_jobs(self.scheduler, specs, keep)
        return len(specs) + len(keep)

    def _step_down(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        self.lock.release()

    def _record_leader(self) -> None:
        now = utcnow()
        row = db.session.get(SchedulerLeader, LOCK_NAME)
        if row is None:
            row = SchedulerLeader(name=LOCK_NAME, holder=self.holder, pid=os.getpid())
            db.session.add(row)
        row.holder, row.pid, row.acquired_at, row.heartbeat_at = self.holder, os.getpid(), now, now

    def _close_interrupted_runs(self) -> None:
        # Scheduled runs still "running" belonged to a leader that died mid-run: nothing of them
        # was committed, so they are failures, and their next tick runs them again.
        db.session.execute(
            update(JobRun)
            .where(JobRun.status == "running", JobRun.trigger == "schedule")
            .values(status="failed", finished_at=utcnow(),
                    error="interrupted: the scheduler process stopped during the run")
        )

    def _resync(self) -> None:
        self.synced_at = time.monotonic()
        try:
            with self.app.app_context():
                self._sync()
                db.session.remove()
        except Exception:  # the jobs already scheduled keep running
            log.exception("scheduler: resync failed")

    def _heartbeat(self) -> None:
        try:
            with self.app.app_context():
                db.session.execute(update(SchedulerLeader).where(SchedulerLeader.name == LOCK_NAME)
                                   .values(heartbeat_at=utcnow(), holder=self.holder, pid=os.getpid()))
                db.session.commit()
                db.session.remove()
        except Exception:  # visibility only; the lock decides who leads
            log.warning("scheduler: heartbeat failed", exc_info=True)


def current_leader() -> SchedulerLeader | None:
    return db.session.scalar(select(SchedulerLeader).where(SchedulerLeader.name == LOCK_NAME))
