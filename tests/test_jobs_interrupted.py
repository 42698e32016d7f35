"""Runs whose process died mid-run: every run names its holder ("pid@host"); a ``running`` run whose
process on this host is gone is closed as ``failed`` ("interrupted") by the next listing or run,
and the rerun writes its data exactly once. A run whose holder is alive, or on another host, stays
``running``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import db, utcnow
from app.jobs import JOBS, JobSpec
from app.jobs.runner import run_job
from app.models import Department, JobRun
from app.services.operations.job_runs import close_dead_runs, this_process

ROOT = Path(__file__).resolve().parents[1]
HOST = socket.gethostname()

# The child registers the blocking job as the test process does, then runs it like `liftoff jobs run`.
CHILD = textwrap.dedent("""
    import sys
    import app.jobs as jobs
    from app import create_app
    from app.jobs.runner import run_job

    blocking = jobs.JobSpec("test-block", "tests.scheduler_support:add_department_blocking_once",
                            "every 1h", "blocks once", {"marker": sys.argv[2]})
    jobs.JOBS = [*jobs.JOBS, blocking]
    app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SKIP_DASH": True, "SECRET_KEY": "x"})
    run_job("test-block", "manual", app=app)
""")


@pytest.fixture
def registry(app, monkeypatch, tmp_path):
    app.config["CONNECTORS_DIR"] = str(tmp_path / "connectors")
    marker = tmp_path / "blocked"
    monkeypatch.setattr("app.jobs.JOBS", [
        *JOBS,
        JobSpec("test-block", "tests.scheduler_support:add_department_blocking_once", "every 1h",
                "blocks once", {"marker": str(marker)}),
        JobSpec("test-add", "tests.scheduler_support:add_department", "every 1m", "adds a row"),
    ])
    return marker


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def running_run(holder: str | None, job: str = "test-add") -> int:
    run = JobRun(job=job, trigger="manual", status="running", started_at=utcnow(), holder=holder)
    db.session.add(run)
    db.session.commit()
    return run.id


def stored(run_id: int) -> JobRun:
    db.session.expire_all()  # what the database holds, not this session's copy
    return db.session.get(JobRun, run_id)


def test_a_run_killed_midway_shows_interrupted_and_the_rerun_writes_once(registry, database_url, client,
                                                                         admin_headers, tmp_path):
    child = subprocess.Popen([sys.executable, "-c", CHILD, database_url, str(registry)], cwd=ROOT,
                             env={**os.environ, "LIFTOFF_INSTANCE_DIR": str(tmp_path)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not registry.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert registry.exists(), f"the job never started: {child.stderr.read()[-2000:]}"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        child.stderr.close()
    holder = f"{child.pid}@{HOST}"
    left = db.session.scalars(select(JobRun)).all()
    assert [(r.job, r.status, r.holder, r.finished_at) for r in left] == [
        ("test-block", "running", holder, None)
    ]
    db.session.rollback()

    runs = client.get("/api/v1/jobs/test-block/runs", headers=admin_headers).get_json()
    assert [(r["status"], r["trigger"], r["rows_written"]) for r in runs] == [("failed", "manual", 0)]
    assert runs[0]["error"].startswith("interrupted:") and holder in runs[0]["error"]
    assert runs[0]["finished_at"] is not None and runs[0]["duration_seconds"] >= 0
    assert stored(runs[0]["id"]).status == "failed"  # committed, not only shown
    assert db.session.scalar(select(func.count()).select_from(Department)) == 0  # nothing of it stayed

    rerun = client.post("/api/v1/jobs/test-block/run", headers=admin_headers).get_json()
    assert (rerun["status"], rerun["rows_written"]) == ("success", 1)
    listing = {job["name"]: job for job in client.get("/api/v1/jobs", headers=admin_headers).get_json()}
    assert listing["test-block"]["last_run"]["id"] == rerun["id"]
    history = client.get("/api/v1/jobs/test-block/runs", headers=admin_headers).get_json()
    assert [r["status"] for r in history] == ["success", "failed"]
    db.session.rollback()
    assert db.session.scalars(select(Department.name)).all() == ["Blocked once"]  # written exactly once


def test_a_run_held_by_a_live_process_stays_running(registry):
    mine = running_run(this_process())
    init = running_run(f"1@{HOST}")  # alive; owned by root, so signal 0 may be refused: still alive
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        child = running_run(f"{sleeper.pid}@{HOST}")
        assert close_dead_runs() == []
        db.session.commit()
        assert [stored(i).status for i in (mine, init, child)] == ["running"] * 3
        assert stored(child).finished_at is None and stored(child).error is None
    finally:
        sleeper.kill()
        sleeper.wait()
    assert [r.id for r in close_dead_runs()] == [child]  # the same run once its process is gone


def test_runs_on_another_host_or_without_a_holder_are_left_alone(registry):
    elsewhere = running_run(f"{dead_pid()}@not-{HOST}")
    unknown = running_run(None)  # recorded before runs named their holder
    garbled = running_run("someone")
    assert close_dead_runs() == []
    assert [stored(i).status for i in (elsewhere, unknown, garbled)] == ["running"] * 3


def test_finished_runs_are_never_touched(registry):
    run = JobRun(job="test-add", trigger="manual", status="success", started_at=utcnow(),
                 finished_at=utcnow(), holder=f"{dead_pid()}@{HOST}")
    db.session.add(run)
    db.session.commit()
    assert close_dead_runs() == []
    assert stored(run.id).status == "success" and stored(run.id).error is None


def test_every_run_records_its_holder_and_a_new_run_closes_the_dead_one(registry):
    dead = running_run(f"{dead_pid()}@{HOST}")
    run = run_job("test-add")
    assert (run.status, run.holder) == ("success", f"{os.getpid()}@{HOST}")
    old = stored(dead)
    assert old.status == "failed" and old.error.startswith("interrupted: the process")
    assert old.finished_at is not None


def test_the_cli_listing_shows_a_dead_run_interrupted(registry, runner):
    dead = running_run(f"{dead_pid()}@{HOST}", job="test-add")
    result = runner.invoke(args=["liftoff", "jobs", "list", "--json"])
    assert result.exit_code == 0, result.output
    jobs = {job["name"]: job for job in json.loads(result.stdout)}
    assert jobs["test-add"]["last_run"]["status"] == "failed"
    assert "interrupted" in jobs["test-add"]["last_run"]["error"]
    assert stored(dead).status == "failed"  # the command committed it
