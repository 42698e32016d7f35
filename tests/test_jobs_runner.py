"""The job runner: one transaction per attempt, a run record each, retries with backoff, alerts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import db
from app.jobs import JOBS, JobSpec, all_jobs, get_job
from app.jobs.runner import backoff_seconds, run_job
from app.models import Department, JobRun
from tests.scheduler_support import Recorder


@pytest.fixture
def registry(app, monkeypatch, tmp_path):
    """The real registry plus test jobs; connectors read from an empty folder."""
    app.config["CONNECTORS_DIR"] = str(tmp_path / "connectors")
    app.config["JOB_RETRY_BASE_SECONDS"] = 0.05
    extra = [
        JobSpec("test-add", "tests.scheduler_support:add_department", "every 1m", "adds a row"),
        JobSpec("test-half", "tests.scheduler_support:write_then_fail", "every 1m", "fails late"),
        JobSpec("test-flaky", "tests.scheduler_support:fail_times", "every 1m", "flaky",
                kwargs={"key": tmp_path.name, "failures": 2}),
        JobSpec("test-broken", "tests.scheduler_support:fail_times", "every 1m", "always fails",
                kwargs={"key": tmp_path.name + "-x", "failures": 99}),
        JobSpec("test-nofull", "tests.scheduler_support:no_full_mode", "every 1m", "no full"),
        JobSpec("test-missing", "app.jobs.nowhere:job", "every 1m", "module missing"),
    ]
    monkeypatch.setattr("app.jobs.JOBS", [*JOBS, *extra])
    return app


def _departments() -> set[str]:
    return set(db.session.scalars(select(Department.name)))


def test_the_registry_declares_the_agreed_jobs(app, tmp_path):
    app.config["CONNECTORS_DIR"] = str(tmp_path)
    targets = {spec.name: spec.target for spec in all_jobs()}
    assert targets["refresh-kpis"] == "app.jobs.kpi:refresh_kpis"
    assert targets["monthly-close"] == "app.jobs.kpi:monthly_close"
    assert targets["flag-reconcile"] == "app.jobs.flags:reconcile_flags"
    assert targets["unleash-metrics"] == "app.jobs.flags:pull_unleash_metrics"
    assert get_job("monthly-close").schedule.split()[2] == "1"  # the 1st of the month


def test_a_successful_run_commits_the_work_and_records_it(registry):
    run = run_job("test-add")
    assert (run.status, run.rows_read, run.rows_written, run.attempt) == ("success", 3, 1, 1)
    assert run.finished_at >= run.started_at and run.error is None
    db.session.rollback()
    assert "Jobs" in _departments()


def test_a_failing_run_writes_nothing_and_records_the_error(registry):
    run = run_job("test-half")
    assert run.status == "failed"
    assert "RuntimeError: source exploded after writing" in run.error
    assert "Half" not in _departments()
    assert db.session.scalar(select(JobRun.status).where(JobRun.job == "test-half")) == "failed"


def test_retries_back_off_then_succeed_without_an_alert(registry):
    with Recorder() as hook:
        registry.config["ALERT_WEBHOOK_URL"] = f"{hook.url}/hook"
        run = run_job("test-flaky", "schedule", max_attempts=3)
        runs = db.session.scalars(select(JobRun).where(JobRun.job == "test-flaky").order_by(JobRun.id)).all()
        assert [(r.attempt, r.status) for r in runs] == [(1, "failed"), (2, "failed"), (3, "success")]
        assert run.id == runs[-1].id
        gaps = [(b.started_at - a.finished_at).total_seconds() for a, b in zip(runs, runs[1:], strict=False)]
        assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # exponential: base, then twice the base
        assert hook.requests == []


def test_the_last_failed_attempt_is_alerted_once(registry):
    with Recorder() as hook:
        registry.config["ALERT_WEBHOOK_URL"] = f"{hook.url}/hook"
        run = run_job("test-broken", "schedule", max_attempts=2)
        assert (run.status, run.attempt) == ("failed", 2)
        assert len(hook.requests) == 1
        payload = hook.requests[0]["json"]
        assert "test-broken" in payload["text"]
        assert "attempt 2 refused" in payload["attachments"][0]["text"]


def test_backoff_doubles_up_to_the_cap(app):
    app.config.update(JOB_RETRY_BASE_SECONDS=30, JOB_RETRY_MAX_SECONDS=100)
    assert [backoff_seconds(app, n) for n in (1, 2, 3, 4)] == [30, 60, 100, 100]


def test_a_missing_module_fails_only_that_job_with_a_clear_error(registry):
    run = run_job("test-missing")
    assert run.status == "failed"
    assert "cannot import app.jobs.nowhere" in run.error
    assert run_job("test-add").status == "success"


def test_full_is_passed_to_jobs_that_take_it_and_refused_by_others(registry):
    assert run_job("test-add", full=True).status == "success"
    db.session.rollback()
    assert "Jobs full" in _departments()
    run = run_job("test-nofull", full=True)
    assert run.status == "failed" and "no --full mode" in run.error


def test_cli_jobs_run_exits_non_zero_on_failure(registry, runner):
    ok = runner.invoke(args=["liftoff", "jobs", "run", "test-add"])
    assert ok.exit_code == 0, ok.output
    assert "success" in ok.output and "1 written" in ok.output
    bad = runner.invoke(args=["liftoff", "jobs", "run", "test-half"])
    assert bad.exit_code == 1
    assert "source exploded" in bad.output
    unknown = runner.invoke(args=["liftoff", "jobs", "run", "nope"])
    assert unknown.exit_code == 1 and "no job named 'nope'" in unknown.output


def test_cli_jobs_list_shows_the_last_run_of_each_job(registry, runner):
    run_job("test-add")
    run_job("test-half")
    result = runner.invoke(args=["liftoff", "jobs", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "success" in lines["test-add"] and "never" in lines["monthly-close"]
    assert "failed" in lines["test-half"] and "RuntimeError" in lines["test-half"]


def test_a_broken_connector_file_fails_only_its_own_pull(registry, tmp_path):
    from tests.scheduler_support import write_connector

    write_connector(tmp_path / "connectors", "broken", "name: broken\nkind: sql\n")
    assert run_job("test-add").status == "success"
    run = run_job("pull:broken")
    assert run.status == "failed"
    assert "broken.yaml: invalid connector" in run.error and "source: required" in run.error
