"""The enablement and operations pages' only writes, each re-checking the caller's role on the server.

Executives read only; change managers (and admins) record feedback, triage it and keep action
items; product (and admins) promote with a gate result; admins run jobs. Whatever a page showed or
a request forged, these functions decide. They never commit -- the callback does, after success --
except ``run_job_now``, whose runner owns its own transaction.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pandas as pd

from app.errors import Collector, Detail, ValidationFailed
from app.models import ActionItem, Feature, Feedback, GateEvaluation, JobRun, PlaybookRun, TrainingSession
from app.security import Identity, NotAllowed, dashboard_action, user_may
from app.services.enablement import activities as enablement
from app.services.enablement import feedback_triage
from app.services.operations.jobs import run_job
from app.services.rollout import gates
from dashboards.enablement.data import job_registry

__all__ = [
    "NotAllowed",
    "add_action_item",
    "attach_playbook",
    "complete_action_item",
    "evaluate_gate_now",
    "job_overview",
    "may_edit_enablement",
    "may_evaluate_gates",
    "may_promote",
    "may_run_jobs",
    "may_view_operations",
    "promote_with_gate",
    "record_attendance",
    "run_job_now",
    "schedule_training",
    "submit_feedback",
    "triage_feedback",
]


def _actor(identity: Identity | None) -> str:
    """Who acts, for the audit trail; called inside a @dashboard_action, which refuses nobody."""
    assert identity is not None, "@dashboard_action refuses a missing identity"
    return identity.name


def may_edit_enablement(identity: Identity | None) -> bool:
    """Change managers and admins record feedback, triage it and keep action items."""
    return user_may(identity, "enablement:write")


def may_promote(identity: Identity | None) -> bool:
    """Product and admin promote a stage with its gate result."""
    return user_may(identity, "rollout:write")


def may_evaluate_gates(identity: Identity | None) -> bool:
    """Everyone but executives (who only read) may store a fresh gate evaluation."""
    return user_may(identity, "gates:evaluate")


def may_run_jobs(identity: Identity | None) -> bool:
    return user_may(identity, "jobs:run")


def may_view_operations(identity: Identity | None) -> bool:
    """The operations page is for admins and product teams."""
    return user_may(identity, "operations:read")


@dashboard_action("operations:read", "see the operations page (admins and product teams)")
def job_overview(identity: Identity | None) -> tuple[pd.DataFrame, str | None]:
    """The job registry with each job's latest run; closes runs whose process died (flushed,
    the callback commits). Only those who may run jobs read their errors whole (job_runs.redact)."""
    return job_registry(full_errors=may_run_jobs(identity))


@dashboard_action("enablement:write", "record feedback (change manager or admin only)")
def submit_feedback(key: str, identity: Identity | None, form: dict) -> Feedback:
    """Record one feedback item from the dashboard form, by the one feedback rule set (the service
    checks the fields and audits it).

    :param key: the feature key.
    :param identity: who submits; change manager or admin.
    :param form: ``person_id``, ``rating`` (1-5), ``category``, ``severity``, ``comment``.
    :raises NotAllowed: the role may not record feedback.
    :raises ValidationFailed: naming every bad field (nothing is stored).
    """
    return feedback_triage.submit_feedback(key, form, _actor(identity))


@dashboard_action("enablement:write", "attach playbooks (change manager or admin only)")
def attach_playbook(key: str, identity: Identity | None, playbook_key: str | None) -> PlaybookRun:
    """Attach a playbook (a file of the playbooks folder) to the feature, as the API's attach does.

    :raises ValidationFailed: no playbook chosen, or the file or its cohorts are invalid.
    """
    if not isinstance(playbook_key, str) or not playbook_key.strip():
        raise ValidationFailed("no playbook chosen", [Detail("playbook", "choose a playbook to attach")])
    return enablement.attach_playbook(key, playbook_key.strip(), _actor(identity))


@dashboard_action("enablement:write", "schedule trainings (change manager or admin only)")
def schedule_training(key: str, identity: Identity | None, form: dict) -> TrainingSession:
    """Schedule (or record) a training session through the training service.

    :param form: ``stage``, ``title``, ``trainer``, ``day`` (YYYY-MM-DD from the date picker),
        ``time`` (HH:MM, UTC; blank for a date only), ``duration_minutes``, ``format``, and
        ``attendees`` (person ids; each must be in the stage's audience, as in the API).
    :raises ValidationFailed: naming every bad field (nothing is stored).
    """
    problems = Collector()
    day, clock = form.get("day"), (form.get("time") or "").strip()
    spec = {key_: form.get(key_) for key_ in ("stage", "title", "trainer", "format")}
    spec["format"] = (spec["format"] or "").strip() or None
    spec["held_on"] = str(day)[:10] if day else None
    if not day:
        problems.add("held_on", "pick the date of the training")
    elif clock:
        try:
            start = time.fromisoformat(clock)
            spec["starts_at"] = datetime.combine(date.fromisoformat(str(day)[:10]), start, tzinfo=UTC)
        except ValueError:
            problems.add("starts_at", f"not a time HH:MM: {clock[:20]!r}")
    duration = form.get("duration_minutes")
    if duration not in (None, ""):
        spec["duration_minutes"] = duration
    spec["attendees"] = list(form.get("attendees") or [])
    problems.raise_if_any("invalid training session; nothing was stored")
    return enablement.record_training(key, spec, _actor(identity))


@dashboard_action("enablement:write", "record attendance (change manager or admin only)")
def record_attendance(session_id: int | None, identity: Identity | None, person_ids: list[str],
                      completed: bool) -> TrainingSession:
    """Record that these people attended the session (and whether they completed it).

    :raises ValidationFailed: no session or nobody chosen, or someone outside the stage's audience.
    """
    problems = Collector()
    if not isinstance(session_id, int) or isinstance(session_id, bool):
        problems.add("session", "choose the training session")
    if not person_ids:
        problems.add("attendees", "choose who attended")
    problems.raise_if_any("invalid attendance; nothing was stored")
    assert isinstance(session_id, int), "a missing session is a problem raised above"
    rows = [{"person_id": pid, "completed": completed} for pid in person_ids]
    return enablement.record_attendance(session_id, rows, _actor(identity))


@dashboard_action("enablement:write", "triage feedback (change manager or admin only)")
def triage_feedback(feedback_id: int, status: str, owner: str | None, identity: Identity | None) -> Feedback:
    """Move a feedback item on (open -> triaged -> fixed -> verified) with an owner.

    :raises NotAllowed: the role may not triage.
    :raises ValidationFailed: no owner or unknown status; :raises Conflict: not a next status.
    """
    owner = (owner or "").strip() or None
    return feedback_triage.triage(feedback_id, status, _actor(identity), owner)


@dashboard_action("enablement:write", "add action items (change manager or admin only)")
def add_action_item(
    key: str, identity: Identity | None, title: str | None, owner: str | None, due_on: str | None
) -> ActionItem:
    """Add an action item with its owner and due date (YYYY-MM-DD)."""
    return enablement.create_action_item(
        key, {"title": title, "owner": owner, "due_on": due_on}, _actor(identity)
    )


@dashboard_action("enablement:write", "change action items (change manager or admin only)")
def complete_action_item(item_id: int, identity: Identity | None) -> ActionItem:
    """Mark an action item done."""
    return enablement.update_action_item(item_id, {"status": "done"}, _actor(identity))


@dashboard_action("gates:evaluate", "evaluate gates (executives read only)")
def evaluate_gate_now(key: str, identity: Identity | None) -> GateEvaluation:
    """Evaluate and store the gate of the feature's current stage (not for executives)."""
    return gates.evaluate_gate(key, trigger="manual")


@dashboard_action("rollout:write", "promote rollouts (product or admin only)")
def promote_with_gate(
    key: str, identity: Identity | None, reason: str | None, override: bool = False
) -> tuple[Feature, GateEvaluation | None]:
    """Promote to the next stage with a fresh gate result attached (None: no gate to judge); a
    failed gate needs ``override`` and a reason (audited by the gate service).

    :raises NotAllowed: not product or admin.
    :raises Conflict: the gate failed without override; :raises ValidationFailed: override without reason.
    """
    reason = (reason or "").strip() or None
    return gates.advance_stage(key, _actor(identity), reason=reason, override=override)


@dashboard_action("jobs:run", "run jobs (admin only)")
def run_job_now(name: str, identity: Identity | None) -> JobRun:
    """Run a registered job now (admins only). The runner commits its own run record and the
    job's writes, so the caller must not have uncommitted work."""
    return run_job(name, trigger="manual")
