"""The scheduler: registry synced into APScheduler's job store, one leader at a time, takeover."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from app.db import db
from app.jobs import JOBS, JobSpec
from app.jobs.leader import FileLock, leader_lock
from app.jobs.scheduler import (
    SchedulerService,
    build_scheduler,
    sync_jobs,
    trigger_for,
)
from app.models import JobRun
from tests.conftest import USING_POSTGRES
from tests.scheduler_support import write_connector

LIFTOFF = str(Path(sys.executable).with_name("liftoff"))


def test_schedules_become_triggers():
    assert trigger_for("every 30s").interval.total_seconds() == 30
    assert trigger_for("every 2h").interval.total_seconds() == 7200
    cron = trigger_for("30 2 1 * *")
    assert {f.name: str(f) for f in cron.fields}["day"] == "1"


def test_job_defaults_coalesce_and_never_overlap(app):
    scheduler = build_scheduler(app)
    assert scheduler._job_defaults == {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


def test_sync_keeps_unchanged_jobs_and_replaces_changed_ones(app):
    scheduler = build_scheduler(app)
    scheduler.start(paused=True)
    try:
        specs = [JobSpec("a", "x:y", "every 1m", ""), JobSpec("b", "x:y", "every 1h", "")]
        sync_jobs(scheduler, specs)
        before = {job.id: job.next_run_time for job in scheduler.get_jobs()}
        scheduler.add_job(print, "interval", minutes=5, id="stale")
        changed = [specs[0], JobSpec("b", "x:y", "every 2h", ""), JobSpec("c", "x:y", "0 3 * * *", "")]
        sync_jobs(scheduler, changed)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"a", "b", "c"}  # the stale job is gone
        assert jobs["a"].next_run_time == before["a"]  # unchanged: keeps its next tick
        assert jobs["b"].trigger.interval.total_seconds() == 7200
        # The job store is the migrated table in the app database.
        stored = db.session.execute(text("SELECT id FROM apscheduler_jobs ORDER BY id")).scalars().all()
        assert stored == ["a", "b", "c"]
    finally:
        scheduler.shutdown(wait=False)


def test_only_one_process_holds_the_sqlite_file_lock(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    first, second = leader_lock(url), leader_lock(url)
    assert isinstance(first, FileLock)
    assert first.acquire() and not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


@pytest.mark.slow
def test_the_leader_runs_jobs_on_schedule_in_a_thread(app, monkeypatch, tmp_path):
    app.config["CONNECTORS_DIR"] = str(tmp_path / "connectors")
    monkeypatch.setattr("app.jobs.JOBS", [
        *JOBS, JobSpec("tick", "tests.scheduler_support:no_full_mode", "every 1s", "ticks"),
    ])
    db.session.add(JobRun(job="tick", trigger="schedule", status="running"))  # a dead leader's run
    gone = subprocess.Popen(["true"])
    gone.wait()
    # A manual run on this host whose process is gone; the new leader closes it too.
    db.session.add(JobRun(job="monthly-close", trigger="manual", status="running",
                          holder=f"{gone.pid}@{socket.gethostname()}"))
    db.session.commit()
    db.session.remove()
    service = SchedulerService(app, poll=0.2)
    stop = service.start_in_thread()
    time.sleep(3.5)
    stop.set()
    time.sleep(0.5)
    runs = db.session.scalars(select(JobRun).where(JobRun.job == "tick").order_by(JobRun.id)).all()
    assert runs[0].status == "failed" and "interrupted" in runs[0].error
    manual = db.session.scalars(select(JobRun).where(JobRun.job == "monthly-close")).one()
    assert manual.status == "failed" and manual.error.startswith(f"interrupted: the process {gone.pid}@")
    ticks = runs[1:]
    assert 2 <= len(ticks) <= 5
    assert {r.trigger for r in ticks} == {"schedule"}
    assert {r.status for r in ticks} == {"success"}


def _scheduler_process(env: dict) -> subprocess.Popen:
    return subprocess.Popen([LIFTOFF, "scheduler", "--poll", "0.5"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.skipif(not USING_POSTGRES, reason="needs LIFTOFF_TEST_DATABASE=postgresql+psycopg://...")
def test_two_schedulers_on_postgresql_run_each_tick_once_and_fail_over(database_url, tmp_path):
    connectors = tmp_path / "connectors"
    source = tmp_path / "empty.db"
    create_engine(f"sqlite:///{source}").connect().execute(text("SELECT 1")).close()
    write_connector(connectors, "tick", f"""
name: tick
kind: sql
schedule: every 1s
target: flag_metrics
source: {{url: "sqlite:///{source}", query: "SELECT 1 AS x WHERE 1 = 0"}}
mapping: {{feature: x, app_name: x, hour: x, "yes": x, "no": x}}
""")
    env = {**os.environ, "DATABASE_URL": database_url, "LIFTOFF_CONNECTORS_DIR": str(connectors),
           "LIFTOFF_INSTANCE_DIR": str(tmp_path), "LIFTOFF_SECRET_KEY": "x"}
    engine = create_engine(database_url)

    def runs() -> list[tuple]:
        with engine.connect() as conn:
            return conn.execute(text("SELECT started_at FROM job_runs WHERE job = 'pull:tick' "
                                     "ORDER BY started_at")).all()

    def leader_pid() -> int | None:
        with engine.connect() as conn:
            return conn.execute(text("SELECT pid FROM scheduler_leaders")).scalar()

    processes = [_scheduler_process(env), _scheduler_process(env)]
    try:
        deadline = time.monotonic() + 20
        while len(runs()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        start = len(runs())
        time.sleep(5)
        window = runs()[start:]
        # Two independent schedulers would give ~10 runs in 5 s; one leader gives ~5.
        assert 4 <= len(window) <= 6, window
        gaps = [(b[0] - a[0]).total_seconds() for a, b in zip(window, window[1:], strict=False)]
        assert min(gaps) > 0.5, gaps

        first = leader_pid()
        assert first in {p.pid for p in processes}
        os.kill(first, signal.SIGKILL)
        killed_at = time.monotonic()
        while leader_pid() in (first, None) and time.monotonic() - killed_at < 15:
            time.sleep(0.2)
        takeover = time.monotonic() - killed_at
        assert leader_pid() in {p.pid for p in processes} - {first}
        assert takeover < 5, takeover
        count = len(runs())
        time.sleep(2.5)
        assert len(runs()) >= count + 1  # the new leader keeps the ticks going
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        engine.dispose()


def test_a_broken_connector_file_is_alerted_and_the_other_jobs_still_run(app, tmp_path):
    from tests.scheduler_support import Recorder

    app.config["CONNECTORS_DIR"] = str(tmp_path / "connectors")
    write_connector(tmp_path / "connectors", "broken", "name: broken\nkind: carrier-pigeon\n")
    service = SchedulerService(app, poll=0.2)
    with Recorder() as hook:
        app.config["ALERT_WEBHOOK_URL"] = f"{hook.url}/hook"
        assert service.lock.acquire()
        try:
            service._lead()
            scheduled = {job.id for job in service.scheduler.get_jobs()}
        finally:
            service._step_down()
        assert scheduled == {spec.name for spec in JOBS}
        assert "broken.yaml" in hook.requests[0]["json"]["attachments"][0]["text"]


@pytest.mark.slow
def test_missed_ticks_coalesce_into_one_run_within_the_grace_time(app, monkeypatch, tmp_path):
    from datetime import timedelta

    from app import jobs as registry
    from app.db import utcnow

    app.config["CONNECTORS_DIR"] = str(tmp_path / "connectors")
    monkeypatch.setattr("app.jobs.JOBS", [
        JobSpec("minutely", "tests.scheduler_support:no_full_mode", "every 1m", "missed 4 ticks"),
        JobSpec("hourly", "tests.scheduler_support:no_full_mode", "every 1h", "missed by too much"),
    ])
    monkeypatch.setattr("app.jobs.scheduler._app", app)
    scheduler = build_scheduler(app)
    scheduler.start(paused=True)
    try:
        sync_jobs(scheduler, registry.JOBS)
        # As if the scheduler had been down: minutely is 4.5 min late (4-5 ticks, within the
        # 300 s grace), hourly 20 min late (beyond it).
        scheduler.modify_job("minutely", next_run_time=utcnow() - timedelta(seconds=270))
        scheduler.modify_job("hourly", next_run_time=utcnow() - timedelta(minutes=20))
        scheduler.resume()
        time.sleep(2)
    finally:
        scheduler.shutdown(wait=True)
    db.session.remove()
    runs = db.session.scalars(select(JobRun.job)).all()
    assert runs == ["minutely"]


@pytest.mark.parametrize("in_process", [True, False])
def test_serve_starts_the_scheduler_only_when_asked(app, runner, monkeypatch, in_process):
    started, served = [], []
    monkeypatch.setattr(SchedulerService, "start_in_thread", lambda self: started.append(self.app))
    monkeypatch.setattr("waitress.serve", lambda *args, **kwargs: served.append(args))
    app.config["RUN_SCHEDULER_IN_PROCESS"] = in_process
    result = runner.invoke(args=["liftoff", "serve", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert served and started == ([app] if in_process else [])


@pytest.mark.postgres
@pytest.mark.skipif(not USING_POSTGRES, reason="needs LIFTOFF_TEST_DATABASE=postgresql+psycopg://...")
def test_a_leader_whose_lock_connection_dies_knows_it_and_another_takes_over(database_url):
    from app.jobs.leader import PostgresLock

    first, second = leader_lock(database_url), leader_lock(database_url)
    assert isinstance(first, PostgresLock)
    try:
        assert first.acquire() and first.still_held()
        assert not second.acquire()
        backend = first.conn.execute(text("SELECT pg_backend_pid()")).scalar()
        engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        engine.dispose()
        assert not first.still_held()  # it stops its scheduler at its next check
        assert second.acquire()
        assert not first.acquire()
    finally:
        first.release()
        second.release()
        first.engine.dispose()
        second.engine.dispose()
