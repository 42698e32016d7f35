"""The scheduler: APScheduler 3 with its job store in the app database, run only by the leader.

Several ``liftoff scheduler`` processes may run; one holds the leader lock and runs the jobs, the
others wait and take over within ``poll`` seconds of the leader dying. On PostgreSQL the lock is a
session advisory lock held on a dedicated connection: the server frees it the moment that
connection drops, however the process died. On SQLite it is an exclusive file lock beside the
database file (SQLite is a single-host, single-writer setup; run one scheduler). APScheduler's job
store is never shared: only the leader's scheduler opens it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import zlib
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.connectors.config import EVERY
from app.db import db, utcnow
from app.jobs import JobSpec, all_jobs
from app.models import JobRun
from app.models.scheduling import SchedulerLeader

log = logging.getLogger(__name__)
LOCK_NAME = "liftoff-scheduler"
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


class PostgresLock:
    """A session advisory lock on its own connection, outside the app's pool."""

    def __init__(self, url: str):
        self.engine = create_engine(url, poolclass=NullPool)
        self.key = zlib.crc32(f"{LOCK_NAME}:{make_url(url).database}".encode()) & 0x7FFFFFFF
        self.conn = None

    def acquire(self) -> bool:
        try:
            if self.conn is None:
                self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar():
                return True
        except Exception:  # the database is down: not the leader, try again later
            log.warning("scheduler: cannot reach the database for the leader lock", exc_info=True)
            self._close()
        return False

    def still_held(self) -> bool:
        try:
            return bool(self.conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k "
                "AND pid = pg_backend_pid() AND granted"), {"k": self.key}).scalar())
        except Exception:
            log.warning("scheduler: lost the leader lock's connection", exc_info=True)
            self._close()
            return False

    def release(self) -> None:
        try:
            if self.conn is not None:
                self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
        except Exception:  # closing the connection frees it anyway
            log.debug("advisory unlock failed", exc_info=True)
        self._close()

    def _close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: S110 - already broken
                pass
        self.conn = None


class FileLock:
    """An exclusive flock beside the SQLite file; the kernel frees it when the process dies."""

    def __init__(self, path: Path):
        self.path = path
        self.handle = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self.handle = handle
        return True

    def still_held(self) -> bool:
        return self.handle is not None

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
        self.handle = None


def leader_lock(url: str):
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return PostgresLock(url)
    database = parsed.database or ""
    if database and database != ":memory:":
        return FileLock(Path(database).with_name(Path(database).name + ".scheduler.lock"))
    return FileLock(Path(os.environ.get("LIFTOFF_INSTANCE_DIR", "instance")) / "scheduler.lock")


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


def sync_jobs(scheduler: BackgroundScheduler, specs: list[JobSpec]) -> None:
    """Make the job store match the registry; jobs whose schedule is unchanged keep their next run
    time, so a restart still sees the ticks it missed (then coalesced, within the grace time)."""
    wanted = {spec.name: spec for spec in specs}
    for job in scheduler.get_jobs():
        spec = wanted.get(job.id)
        if spec is None:
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
            db.session.commit()
            specs = all_jobs()
            self.scheduler = build_scheduler(self.app)
            self.scheduler.start(paused=True)
            sync_jobs(self.scheduler, specs)
            self.scheduler.resume()
            db.session.remove()
        log.info("scheduler: %s is the leader, running %d jobs", self.holder, len(specs))

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
