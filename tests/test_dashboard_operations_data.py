"""The operations page's data (job registry, runs, pending Unleash syncs) and its one write path,
running a job now, which only admins may do."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest
from sqlalchemy import func, select

from app.db import db, utcnow
from app.jobs import JOBS
from app.models import FlagSync, JobRun
from app.security import Identity
from dashboards.enablement import data
from dashboards.enablement.actions import NotAllowed, may_run_jobs, may_view_operations, run_job_now
from tests.helpers import gen_feature

ADMIN = Identity("admin@liftoff.test", role="admin")
PRODUCT = Identity("pm@liftoff.test", role="product")
CHANGE = Identity("cm@liftoff.test", role="change_manager")
EXEC = Identity("ceo@liftoff.test", role="executive")


@pytest.fixture
def ops(app, tmp_path):
    app.config["CONNECTORS_DIR"] = str(tmp_path / "connectors")  # no connector pulls
    return app


def test_admins_and_product_read_operations_and_only_admins_run_jobs():
    assert [may_view_operations(i) for i in (ADMIN, PRODUCT, CHANGE, EXEC, None)] == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert [may_run_jobs(i) for i in (ADMIN, PRODUCT, CHANGE, EXEC, None)] == [
        True,
        False,
        False,
        False,
        False,
    ]
    assert not may_run_jobs(Identity("token:ops", token_kind="admin"))


def test_the_registry_lists_every_job_never_run(ops):
    jobs, problem = data.job_registry()
    assert problem is None
    assert jobs["name"].tolist() == [spec.name for spec in JOBS]
    assert set(jobs["status"]) == {"never run"}
    assert data.recent_runs().empty


def test_an_admin_runs_a_job_and_the_run_is_recorded(ops):
    run = run_job_now("refresh-kpis", ADMIN)
    assert run.status == "success" and run.trigger == "manual"
    jobs = data.job_registry()[0].set_index("name")
    assert jobs.loc["refresh-kpis", "status"] == "success"
    assert jobs.loc["refresh-kpis", "duration_seconds"] >= 0
    assert jobs.loc["monthly-close", "status"] == "never run"
    runs = data.recent_runs()
    assert runs["id"].tolist() == [run.id] and runs.iloc[0]["job"] == "refresh-kpis"
    assert data.recent_runs("monthly-close").empty


def test_a_failed_run_shows_its_error(ops):
    db.session.add(
        JobRun(
            job="drift-watch",
            trigger="schedule",
            status="failed",
            started_at=utcnow(),
            finished_at=utcnow(),
            error="RuntimeError: source down\n  at line 3",
        )
    )
    db.session.flush()
    row = data.job_registry()[0].set_index("name").loc["drift-watch"]
    assert row["status"] == "failed" and row["error"].startswith("RuntimeError: source down")


def test_a_run_whose_process_is_gone_shows_interrupted_not_running(ops):
    finished = subprocess.Popen(["true"])
    finished.wait()  # its pid now names no process
    db.session.add(JobRun(job="refresh-kpis", trigger="api", status="running", started_at=utcnow(),
                          holder=f"{finished.pid}@{socket.gethostname()}"))
    db.session.add(JobRun(job="monthly-close", trigger="manual", status="running", started_at=utcnow(),
                          holder=f"{os.getpid()}@{socket.gethostname()}"))
    db.session.flush()
    jobs = data.job_registry()[0].set_index("name")
    assert jobs.loc["refresh-kpis", "status"] == "failed"
    assert jobs.loc["refresh-kpis", "error"].startswith(f"interrupted: the process {finished.pid}@")
    assert jobs.loc["monthly-close", "status"] == "running"  # its holder, this process, is alive
    runs = data.recent_runs().set_index("job")
    assert runs.loc["refresh-kpis", "status"] == "failed"
    assert runs.loc["refresh-kpis", "finished_at"] is not None


@pytest.mark.parametrize("who", [PRODUCT, CHANGE, EXEC, None])
def test_a_forged_run_by_anyone_but_an_admin_is_refused(ops, who):
    with pytest.raises(NotAllowed) as refused:
        run_job_now("refresh-kpis", who)
    assert refused.value.status == 403
    assert db.session.scalar(select(func.count()).select_from(JobRun)) == 0


def test_pending_unleash_syncs_are_listed_oldest_first(ops):
    assert data.pending_unleash_syncs().empty
    feature = gen_feature("sync-me")
    db.session.add(FlagSync(feature_id=feature.id, status="pending", attempts=2, last_error="HTTP 503"))
    db.session.add(FlagSync(feature_id=feature.id, status="applied", attempts=1))
    db.session.flush()
    syncs = data.pending_unleash_syncs()
    assert syncs[["feature", "attempts", "last_error"]].values.tolist() == [["sync-me", 2, "HTTP 503"]]
