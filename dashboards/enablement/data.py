"""What the enablement and operations pages show, as DataFrames and dicts: no Dash, no request.

Every figure comes from the services (enablement, feedback triage, gates, drift, job runs); this
module only shapes them for rendering, so tests call it directly.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select

from app.db import db, utcnow
from app.models import Attendance, Department, Feature, JobRun, Person, TrainingSession
from app.playbooks import load_each, playbook_for
from app.services.enablement import activities as enablement
from app.services.enablement import feedback_triage
from app.services.enablement.feedback_triage import NEXT_STATUSES
from app.services.ingest import feedback
from app.services.operations import job_runs
from app.services.operations.jobs import listed_jobs
from app.services.rollout import drift, gates
from dashboards.people.data import person_label
from dashboards.shell.refusals import error_lines  # noqa: F401  (pages read it here)

FEEDBACK_CATEGORIES = feedback.CATEGORIES  # the form's menu; the rule set is the service's
SEVERITIES = feedback.SEVERITIES
TRAINING_COLUMNS = [
    "id",
    "stage",
    "title",
    "format",
    "trainer",
    "held_on",
    "starts_at",
    "attendees",
    "completed",
    "audience",
    "completion_pct",
]
FEEDBACK_COLUMNS = [
    "id",
    "occurred_at",
    "person_id",
    "person",
    "rating",
    "category",
    "severity",
    "status",
    "owner",
    "comment",
    "next_statuses",
]
ACTION_COLUMNS = ["id", "title", "owner", "due_on", "status", "overdue"]
CRITERION_COLUMNS = ["metric", "parameter", "threshold", "value", "passed", "numbers"]
DRIFT_COLUMNS = [
    "metric",
    "test",
    "checked_at",
    "reference_n",
    "live_n",
    "reference_value",
    "live_value",
    "p_value",
    "diverged",
]
JOB_COLUMNS = [
    "name",
    "schedule",
    "description",
    "status",
    "started_at",
    "finished_at",
    "duration_seconds",
    "rows_read",
    "rows_written",
    "error",
]
RUN_COLUMNS = [
    "id",
    "job",
    "trigger",
    "status",
    "attempt",
    "started_at",
    "finished_at",
    "duration_seconds",
    "rows_read",
    "rows_written",
    "error",
]
SYNC_COLUMNS = ["feature", "status", "attempts", "created_at", "next_attempt_at", "last_error"]


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def enablement_overview(key: str) -> dict:
    """The feature, its attached playbook and the playbook stage that applies to its current stage.

    :param key: the feature key.
    :raises NotFound: no such feature.
    """
    feature = enablement.feature_by_key(key)
    out = {
        "key": feature.key,
        "name": feature.name,
        "current_stage": feature.current_stage,
        "stage_count": len(feature.stages),
        "killed": feature.killed,
        "auto_promote": feature.auto_promote,
        "playbook": None,
        "stage": None,
    }
    if not feature.playbook_key:
        return out
    playbook = playbook_for(feature.playbook_key)
    out["playbook"] = {
        "key": playbook.key,
        "name": playbook.name,
        "description": playbook.description,
        "stage_count": len(playbook.stages),
    }
    if feature.current_stage >= 1:
        stage = playbook.stage(feature.current_stage)
        out["stage"] = {
            "name": stage.name,
            "adkar": list(stage.adkar),
            "trainings": [
                {
                    "title": t.title,
                    "audience": t.audience,
                    "format": t.format,
                    "duration_minutes": t.duration_minutes,
                    "adkar": t.adkar,
                }
                for t in stage.trainings
            ],
            "communications": [
                {"channel": c.channel, "audience": c.audience, "timing": c.timing, "message": c.message}
                for c in stage.communications
            ],
            "checklist": list(stage.checklist),
            "feedback_cadence": stage.feedback_cadence,
            "questions": list(stage.pulse_questions),
            "gate": [
                {"metric": _metric_name(c.metric, c.variant), "parameter": c.parameter,
                 "threshold": c.threshold}
                for c in stage.gate
            ],
        }
    return out


def stage_completion(key: str) -> dict:
    """Training completion of the current stage's audience (the gate's own figure)."""
    feature = enablement.feature_by_key(key)
    if feature.current_stage < 1:
        return {"completed": 0, "audience": 0, "pct": None}
    done, audience = enablement.training_completion(feature, feature.current_stage)
    return {"completed": done, "audience": audience, "pct": 100.0 * done / audience if audience else None}


def training_sessions(key: str) -> pd.DataFrame:
    """Each session with its attendees, completions, and completions as % of its stage's audience."""
    feature = enablement.feature_by_key(key)
    sessions = enablement.list_trainings(key)
    counts = dict(
        db.session.execute(
            select(Attendance.session_id, func.count())
            .join(TrainingSession)
            .where(TrainingSession.feature_id == feature.id, Attendance.completed.is_(True))
            .group_by(Attendance.session_id)
        ).all()
    )
    audiences: dict[int, int] = {}
    rows = []
    for s in sessions:
        if s.stage_position not in audiences:
            audiences[s.stage_position] = len(enablement.stage_audience(feature, s.stage_position))
        audience, completed = audiences[s.stage_position], counts.get(s.id, 0)
        rows.append(
            {
                "id": s.id,
                "stage": s.stage_position,
                "title": s.title,
                "format": s.format,
                "trainer": s.trainer,
                "held_on": s.held_on.isoformat(),
                "starts_at": s.starts_at.strftime("%H:%M UTC") if s.starts_at else None,
                "attendees": len(s.attendance),
                "completed": completed,
                "audience": audience,
                "completion_pct": round(100.0 * completed / audience, 1) if audience else None,
            }
        )
    return _frame(rows, TRAINING_COLUMNS)


SETTLED_FEEDBACK = ("verified",)  # nothing left to do: left out of "needs action"


def feedback_items(key: str, needs_action: bool = False) -> pd.DataFrame:
    """Every feedback item (only those not settled yet with ``needs_action``), newest first, with
    the statuses it may move to next."""
    items = [f for f in reversed(feedback_triage.list_feedback(key))
             if not (needs_action and f.status in SETTLED_FEEDBACK)]
    ids = {f.person_id for f in items}
    found = db.session.execute(
        select(Person.id, Person.person_id, Person.name, Department.name)
        .join(Department, Department.id == Person.department_id, isouter=True)
        .where(Person.id.in_(ids))).all() if ids else []
    people = {row_id: pid for row_id, pid, _name, _dept in found}
    labels = {row_id: person_label(name, dept, pid) for row_id, pid, name, dept in found}
    rows = [
        {
            "id": f.id,
            "occurred_at": pd.Timestamp(f.occurred_at),
            "person_id": people.get(f.person_id),
            "person": labels.get(f.person_id),
            "rating": f.rating,
            "category": f.category,
            "severity": f.severity,
            "status": f.status,
            "owner": f.owner,
            "comment": f.comment,
            "next_statuses": list(NEXT_STATUSES.get(f.status, ())),
        }
        for f in items
    ]
    return _frame(rows, FEEDBACK_COLUMNS)


def action_items(key: str, today=None) -> pd.DataFrame:
    """Action items by due date; ``overdue`` when still open after their due date."""
    today = today or utcnow().date()
    rows = [
        {
            "id": a.id,
            "title": a.title,
            "owner": a.owner,
            "due_on": a.due_on.isoformat() if a.due_on else None,
            "status": a.status,
            "overdue": a.status == "open" and a.due_on is not None and a.due_on < today,
        }
        for a in enablement.list_action_items(key)
    ]
    return _frame(rows, ACTION_COLUMNS)


def _numbers(c: dict) -> str:
    """The supporting numbers of one criterion, as the gate stored them."""
    parts = []
    if c.get("ci_low") is not None and c.get("ci_high") is not None:
        parts.append(f"95 % CI {c['ci_low']:.3f}–{c['ci_high']:.3f}")
    if c.get("baseline") is not None:
        parts.append(f"baseline {c['baseline']:.3f}")
    if c.get("limit") is not None:
        parts.append(f"limit {c['limit']:.3f}")
    if "audience" in c:
        parts.append(f"{c.get('completed', 0)} of {c['audience']} trained")
    if "responses" in c:
        parts.append(f"{c['responses']} response" + ("" if c["responses"] == 1 else "s"))
    if c.get("exposed_users") is not None:
        parts.append(f"{c['exposed_users']} exposed")
    if c.get("note"):
        parts.append(c["note"])
    return "; ".join(parts)


def _metric_name(metric: str, variant: str | None) -> str:
    # A criterion judged on one variant says so: the same metric may appear once per variant.
    return metric if variant is None else f"{metric} (variant {variant})"


def latest_gate(key: str) -> dict | None:
    """The latest stored gate evaluation (``gates.evaluation_dict``) with its criteria as a frame."""
    history = gates.gate_history(key, limit=1)
    if not history:
        return None
    result = gates.evaluation_dict(history[0])
    rows = [
        {
            "metric": _metric_name(c["metric"], c.get("variant")),
            "parameter": c["parameter"],
            "threshold": c["threshold"],
            "value": c.get("value"),
            "passed": bool(c["passed"]),
            "numbers": _numbers(c),
        }
        for c in result["criteria"]
    ]
    result["criteria_frame"] = _frame(rows, CRITERION_COLUMNS)
    return result


def latest_drift(key: str) -> dict:
    """The latest drift check of each metric and its verdict: ``diverged``, ``stable`` or ``none``."""
    feature = enablement.feature_by_key(key)
    checks = drift.latest_drift(feature)
    rows = [
        {
            "metric": c.metric,
            "test": c.test,
            "checked_at": pd.Timestamp(c.checked_at),
            "reference_n": c.reference_n,
            "live_n": c.live_n,
            "reference_value": c.reference_value,
            "live_value": c.live_value,
            "p_value": c.p_value,
            "diverged": bool(c.diverged),
        }
        for c in checks
    ]
    verdict = "none" if not checks else "diverged" if any(c.diverged for c in checks) else "stable"
    return {"verdict": verdict, "checks": _frame(rows, DRIFT_COLUMNS)}


def enablement_feature_options() -> list[dict]:
    """Every feature for the picker, the playbook's name beside those that have one."""
    features = db.session.scalars(select(Feature).order_by(Feature.name)).all()
    return [
        {"label": f"{f.name} ({f.key})" + (f" · {f.playbook_key}" if f.playbook_key else ""), "value": f.key}
        for f in features
    ]


def default_enablement_feature() -> str | None:
    """Where the page opens when the URL names no feature: the first feature with a playbook
    attached (the rollout a change manager is running), else the first feature; never nothing."""
    with_playbook = db.session.scalar(select(Feature.key).where(Feature.playbook_key.is_not(None))
                                      .order_by(Feature.name).limit(1))
    return with_playbook or db.session.scalar(select(Feature.key).order_by(Feature.name).limit(1))


def playbook_options() -> list[dict]:
    """Every valid playbook of the playbooks folder, for attaching one to a feature."""
    valid, _invalid = load_each()
    return [{"label": f"{pb.name} ({key}, {len(pb.stages)} stages)", "value": key}
            for key, pb in sorted(valid.items(), key=lambda item: item[1].name)]


def stage_options(key: str) -> list[dict]:
    """The feature's rollout stages by position and name, the current one marked."""
    feature = enablement.feature_by_key(key)
    return [{"label": f"{s.position}. {s.name}" + (" (now)" if s.position == feature.current_stage else ""),
             "value": s.position} for s in sorted(feature.stages, key=lambda s: s.position)]


def session_options(key: str) -> list[dict]:
    """The feature's training sessions, newest first, for recording attendance."""
    return [{"label": f"{s.held_on.isoformat()}"
             + (f" {s.starts_at.strftime('%H:%M')} UTC" if s.starts_at else "")
             + f" · {s.title} (stage {s.stage_position})", "value": s.id}
            for s in reversed(enablement.list_trainings(key))]


def job_registry(full_errors: bool = False) -> tuple[pd.DataFrame, str | None]:
    """Every registered job with its latest run, and why connector jobs are missing (if they are).
    Runs whose process was killed are closed as interrupted first (flushed; the caller commits).

    :param full_errors: errors as recorded (admins); else redacted (``job_runs.redact``).
    """
    job_runs.close_dead_runs()
    specs, problem = listed_jobs()
    last = job_runs.last_runs()
    rows = []
    for spec in specs:
        run = last.get(spec.name)
        record = job_runs.run_record(run, full_errors) if run is not None else {}
        rows.append(
            {
                "name": spec.name,
                "schedule": spec.schedule,
                "description": spec.description,
                "status": record.get("status", "never run"),
                "started_at": pd.Timestamp(run.started_at) if run else None,
                "finished_at": pd.Timestamp(run.finished_at) if run and run.finished_at else None,
                "duration_seconds": record.get("duration_seconds"),
                "rows_read": record.get("rows_read"),
                "rows_written": record.get("rows_written"),
                "error": record.get("error"),
            }
        )
    return _frame(rows, JOB_COLUMNS), problem


def recent_runs(job: str | None = None, limit: int = 20, full_errors: bool = False) -> pd.DataFrame:
    """The latest runs, of one job or of all, newest first.

    :param job: a registry name, or None for every job.
    :param limit: how many runs.
    :param full_errors: errors as recorded (admins); else redacted.
    """
    if job:
        runs = job_runs.runs_of(job, limit)
    else:
        runs = list(db.session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)))
    rows = []
    for run in runs:
        record = job_runs.run_record(run, full_errors)
        record["started_at"] = pd.Timestamp(run.started_at)
        record["finished_at"] = pd.Timestamp(run.finished_at) if run.finished_at else None
        rows.append(record)
    return _frame(rows, RUN_COLUMNS)


def pending_unleash_syncs(full_errors: bool = False) -> pd.DataFrame:
    """Rollout changes not yet applied to an external Unleash server, oldest first.

    :param full_errors: the last error as recorded (admins); else redacted.
    """
    rows = job_runs.pending_flag_syncs()
    if not full_errors:
        rows = [{**row, "last_error": job_runs.redact(row["last_error"])} for row in rows]
    return _frame(rows, SYNC_COLUMNS)
