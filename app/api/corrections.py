"""Corrections, each with a required reason and an audit entry: void a cost entry or events,
archive a feature, edit the stages it has not reached."""

from __future__ import annotations

from flask import jsonify

from app.api import bp, json_body
from app.api.declare import accepts, answers
from app.db import db
from app.schemas.events import EventVoid
from app.schemas.features import ReasonIn, StagePatch, StagesIn
from app.schemas.responses import INT, array, obj, ref
from app.security import acting_identity, requires
from app.services.ingest import voids
from app.services.rollout import feature_plan
from app.services.rollout import transitions as rollout


@bp.get("/features/<key>/costs")
@requires("read")
@answers(array(ref("CostEntry")))
def list_costs(key: str):
    """The feature's cost entries with their ids, voided ones included and marked."""
    return jsonify(voids.list_costs(key))


@bp.post("/features/<key>/costs/<int:cost_id>/void")
@requires("costs:void")
@accepts(ReasonIn)
@answers(ref("CostEntry"))
def void_cost(key: str, cost_id: int):
    """Void a cost entry: it stays listed (voided) but counts in no figure any more."""
    body = json_body()  # a field the declared body does not know is a 422
    entry = voids.void_cost(key, cost_id, acting_identity().name, body.get("reason"))
    db.session.commit()
    return jsonify(voids.cost_record(entry, key))


@bp.post("/events/void")
@requires("events:void")
@accepts(EventVoid)
@answers(obj(("voided", "already_voided"), voided=INT, already_voided=INT))
def void_events():
    """Void events by id (at most 1,000): all or none; KPIs drop them at the next refresh."""
    result = voids.void_events(json_body(), acting_identity().name)
    db.session.commit()
    return jsonify({"voided": len(result.voided), "already_voided": len(result.already_voided)})


@bp.post("/features/<key>/archive")
@requires("features:archive")
@accepts(ReasonIn)
@answers(ref("Feature"))
def archive_feature(key: str):
    """Archive: off for everyone, out of the default lists, kept in history and KPIs."""
    body = json_body()  # a field the declared body does not know is a 422
    feature_plan.archive(key, acting_identity().name, body.get("reason"))
    db.session.commit()
    return jsonify(rollout.feature_state(key))


@bp.post("/features/<key>/unarchive")
@requires("features:archive")
@accepts(ReasonIn)
@answers(ref("Feature"))
def unarchive_feature(key: str):
    """Unarchive: back at the stage it had."""
    body = json_body()  # a field the declared body does not know is a 422
    feature_plan.unarchive(key, acting_identity().name, body.get("reason"))
    db.session.commit()
    return jsonify(rollout.feature_state(key))


@bp.put("/features/<key>/stages")
@requires("features:write")
@accepts(StagesIn)
@answers(ref("Feature"))
def replace_stages(key: str):
    """Replace the stage plan; the stages reached so far must come back unchanged."""
    body = json_body()  # a field the declared body does not know is a 422
    feature_plan.replace_stages(key, body.get("stages"), acting_identity().name, body.get("reason"))
    db.session.commit()
    return jsonify(rollout.feature_state(key))


@bp.patch("/features/<key>/stages/<int:position>")
@requires("features:write")
@accepts(StagePatch)
@answers(ref("Feature"))
def patch_stage(key: str, position: int):
    """Change one stage not yet reached (name, cohorts, percentage)."""
    feature_plan.patch_stage(key, position, json_body(), acting_identity().name)
    db.session.commit()
    return jsonify(rollout.feature_state(key))
