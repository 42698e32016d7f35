"""Jobs: the registry with each job's last run, a job's history, and running one now."""

from __future__ import annotations

from flask import jsonify, request

from app.api import bp, parsed_body
from app.api.declare import accepts, answers
from app.db import db
from app.errors import ValidationFailed
from app.schemas.operations import RunJob
from app.schemas.responses import array, ref
from app.security import acting_identity, requires
from app.services.operations.job_runs import close_dead_runs, last_runs, run_record, runs_of
from app.services.operations.jobs import get_job, listed_jobs, run_job


@bp.get("/jobs")
@requires("read")
@answers(array(ref("Job")))
def list_jobs():
    """Every registered job with its schedule and last run."""
    if close_dead_runs():  # runs whose process was killed show as interrupted, not running
        db.session.commit()
    latest = last_runs()
    specs, problem = listed_jobs()
    full = _full_errors()
    response = jsonify([
        {"name": spec.name, "schedule": spec.schedule, "description": spec.description,
         "last_run": run_record(latest[spec.name], full) if spec.name in latest else None}
        for spec in specs
    ])
    if problem:  # the fixed jobs are still listed; say why the connector pulls are missing
        response.headers["X-Liftoff-Warning"] = problem.splitlines()[0][:300]
    return response


@bp.get("/jobs/<path:name>/runs")
@requires("read")
@answers(array(ref("JobRun")), query={"limit": {"type": "integer", "minimum": 1, "maximum": 500}})
def job_runs(name: str):
    """The job's latest runs, newest first (``?limit=``, at most 500)."""
    get_job(name)
    limit = request.args.get("limit", "50")
    if not limit.isdigit() or not 1 <= int(limit) <= 500:
        raise ValidationFailed("limit must be a whole number from 1 to 500")
    if close_dead_runs():
        db.session.commit()
    full = _full_errors()
    return jsonify([run_record(run, full) for run in runs_of(name, int(limit))])


@bp.post("/jobs/<path:name>/run")
@requires("jobs:run")
@accepts(RunJob, required=False)
@answers(ref("JobRun"))
def run_now(name: str):
    """Run the job now and answer, once it is done, with its run record."""
    get_job(name)  # 404 before anything runs
    full = parsed_body().full
    run = run_job(name, "api", full=full)
    return jsonify(run_record(run, full_error=True))  # only jobs:run gets here


def _full_errors() -> bool:
    # A failure text may hold what a source or a library put in it: whoever may run jobs (the
    # admins) reads it whole, every other reader a redacted copy.
    return acting_identity().may("jobs:run")
