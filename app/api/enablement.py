"""Playbooks, training, feedback triage, corrections, action items, stage gates and drift."""

from __future__ import annotations

from pathlib import Path

from flask import Response, jsonify, request
from sqlalchemy import select

from app import plausible
from app.api import bp, json_body, parsed_body
from app.api.declare import accepts, answers
from app.db import db
from app.models import ActionItem, DriftCheck, Feedback, Person, TrainingSession
from app.playbooks import load_each, playbook_for
from app.schemas.enablement import (
    ActionItemIn,
    ActionItemPatch,
    AttendeeIn,
    PlaybookAttach,
    TrainingIn,
    TriageIn,
)
from app.schemas.features import Promote
from app.schemas.responses import INT, STR, array, obj, ref
from app.security import acting_identity, requires
from app.services.enablement import activities as enablement
from app.services.enablement import feedback_triage
from app.services.rollout import drift, gates


def _actor() -> str:
    return acting_identity().name


def _training(session: TrainingSession) -> dict:
    # Attendees by the person_id callers sent, never the internal row numbers.
    internal = [a.person_id for a in session.attendance]
    external = dict(db.session.execute(
        select(Person.id, Person.person_id).where(Person.id.in_(internal))).all()) if internal else {}
    return {"id": session.id, "stage": session.stage_position, "title": session.title,
            "format": session.format, "trainer": session.trainer,
            "held_on": session.held_on.isoformat(),
            "starts_at": session.starts_at.isoformat() if session.starts_at else None,
            "duration_minutes": session.duration_minutes,
            "attendees": sorted(({"person_id": external[a.person_id], "completed": a.completed}
                                 for a in session.attendance), key=lambda a: a["person_id"])}


def _feedback(item: Feedback) -> dict:
    return {"id": item.id, "rating": item.rating, "comment": item.comment, "category": item.category,
            "severity": item.severity, "status": item.status, "owner": item.owner,
            "occurred_at": item.occurred_at.isoformat()}


def _action(item: ActionItem) -> dict:
    return {"id": item.id, "title": item.title, "owner": item.owner,
            "due_on": item.due_on.isoformat() if item.due_on else None, "status": item.status}


def _drift(check: DriftCheck) -> dict:
    return {"metric": check.metric, "test": check.test, "checked_at": check.checked_at.isoformat(),
            "reference_start": check.reference_start.isoformat(),
            "reference_end": check.reference_end.isoformat(),
            "live_start": check.live_start.isoformat(), "live_end": check.live_end.isoformat(),
            "reference_n": check.reference_n, "live_n": check.live_n,
            "reference_value": check.reference_value, "live_value": check.live_value,
            "p_value": check.p_value, "diverged": check.diverged}


@bp.get("/playbooks")
@requires("read")
@answers(array(ref("PlaybookListed")))
def list_playbooks():
    """Every valid playbook with its stages, then each invalid file with its errors."""
    valid, invalid = load_each()
    return jsonify([{**pb.as_dict(), "valid": True} for pb in valid.values()] + [
        {"key": Path(name).stem, "file": name, "valid": False, **error.as_dict()}
        for name, error in invalid.items()])


@bp.get("/playbooks/<key>")
@requires("read")
@answers(ref("Playbook"))
def get_playbook(key: str):
    """One playbook."""
    return jsonify(playbook_for(key).as_dict())


@bp.put("/features/<key>/playbook")
@requires("enablement:write")
@accepts(PlaybookAttach)
@answers(obj(("feature", "playbook"), feature=STR, playbook=STR, started_at=STR))
def attach_playbook(key: str):
    """Attach a playbook to a feature."""
    body = parsed_body()
    run = enablement.attach_playbook(key, body.playbook, _actor())
    db.session.commit()
    return jsonify({"feature": key, "playbook": run.playbook_key, "started_at": run.started_at.isoformat()})


@bp.post("/features/<key>/trainings")
@requires("enablement:write")
@accepts(TrainingIn)
@answers(ref("Training"), 201)
def record_training(key: str):
    """Record a training session with its attendees."""
    session = enablement.record_training(key, json_body(), _actor())
    db.session.commit()
    return jsonify(_training(session)), 201


@bp.get("/features/<key>/trainings")
@requires("read")
@answers(array(ref("Training")))
def list_trainings(key: str):
    """The feature's training sessions."""
    return jsonify([_training(s) for s in enablement.list_trainings(key)])


@bp.post("/trainings/<int:session_id>/attendance")
@requires("enablement:write")
@accepts(AttendeeIn, many=True, max_items=plausible.MAX_BATCH)
@answers(ref("Training"))
def record_attendance(session_id: int):
    """Add or update attendance and completion of a session."""
    session = enablement.record_attendance(session_id, json_body(), _actor())
    db.session.commit()
    return jsonify(_training(session))


@bp.get("/features/<key>/feedback")
@requires("read")
@answers(array(ref("Feedback")), query={"status": STR, "category": STR})
def list_feedback(key: str):
    """Feedback of a feature, optionally filtered by status and category."""
    items = feedback_triage.list_feedback(key, request.args.get("status"), request.args.get("category"))
    return jsonify([_feedback(f) for f in items])


@bp.post("/feedback/<int:feedback_id>/triage")
@requires("enablement:write")
@accepts(TriageIn)
@answers(ref("Feedback"))
def triage_feedback(feedback_id: int):
    """Move a feedback item to its next status, with an owner."""
    body = parsed_body("invalid triage")
    item = feedback_triage.triage(feedback_id, body.status, _actor(), body.owner)
    db.session.commit()
    return jsonify(_feedback(item))


@bp.get("/features/<key>/corrections")
@requires("read")
@answers(STR, query={"format": {"enum": ["jsonl", "csv"]}}, media_type="text/plain")
def export_corrections(key: str):
    """The corrections dataset (?format=csv or jsonl)."""
    fmt = request.args.get("format", "jsonl")
    text = feedback_triage.export_corrections(key, fmt)
    mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return Response(text, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{key}-corrections.{fmt}"'})


@bp.post("/features/<key>/action-items")
@requires("enablement:write")
@accepts(ActionItemIn)
@answers(ref("ActionItem"), 201)
def create_action_item(key: str):
    """Add an action item with an owner and a due date."""
    item = enablement.create_action_item(key, json_body(), _actor())
    db.session.commit()
    return jsonify(_action(item)), 201


@bp.get("/features/<key>/action-items")
@requires("read")
@answers(array(ref("ActionItem")))
def list_action_items(key: str):
    """The feature's action items."""
    return jsonify([_action(i) for i in enablement.list_action_items(key)])


@bp.patch("/action-items/<int:item_id>")
@requires("enablement:write")
@accepts(ActionItemPatch)
@answers(ref("ActionItem"))
def update_action_item(item_id: int):
    """Change an action item's owner, due date, title or status."""
    item = enablement.update_action_item(item_id, json_body(), _actor())
    db.session.commit()
    return jsonify(_action(item))


@bp.post("/features/<key>/gate/evaluate")
@requires("gates:evaluate")
@answers(ref("GateEvaluation"))
def evaluate_gate(key: str):
    """Evaluate the current stage's gate now and store the result."""
    evaluation = gates.evaluate_gate(key, trigger="api")
    db.session.commit()
    return jsonify(gates.evaluation_dict(evaluation))


@bp.get("/features/<key>/gates")
@requires("read")
@answers(array(ref("GateEvaluation")))
def gate_history(key: str):
    """Stored gate evaluations, newest first."""
    return jsonify([gates.evaluation_dict(e) for e in gates.gate_history(key)])


@bp.post("/features/<key>/promote")
@requires("rollout:write")
@accepts(Promote)
@answers(obj(("feature", "current_stage"), feature=STR, current_stage=INT,
            gate=ref("GateEvaluation")))
def promote(key: str):
    """Advance the feature when its gate passes (or with override and a reason)."""
    body = parsed_body()
    feature, evaluation = gates.advance_stage(key, _actor(), body.reason, body.override)
    db.session.commit()
    return jsonify({"feature": feature.key, "current_stage": feature.current_stage,
                    "gate": gates.evaluation_dict(evaluation) if evaluation is not None else None})


@bp.get("/features/<key>/drift")
@requires("read")
@answers(array(ref("Drift")))
def latest_drift(key: str):
    """The latest drift checks of the feature."""
    return jsonify([_drift(c) for c in drift.latest_drift(enablement.feature_by_key(key))])
