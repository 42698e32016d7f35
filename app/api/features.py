"""Features and their staged rollouts; the SDKs connected to the client API."""

from __future__ import annotations

from flask import jsonify, request

from app.api import bp, json_body, parsed_body
from app.api.declare import accepts, answers
from app.db import db
from app.errors import Detail, ValidationFailed
from app.flags import clients
from app.schemas.features import Advance, FeatureIn, Transition
from app.schemas.responses import array, obj, ref
from app.security import acting_identity, requires
from app.services.rollout import gates
from app.services.rollout import transitions as rollout


@bp.post("/features")
@requires("features:write")
@accepts(FeatureIn)
@answers(ref("Feature"), 201)
def create_feature():
    """Create a feature with its stage plan."""
    feature = rollout.create_feature(json_body(), acting_identity().name)
    db.session.commit()
    return jsonify(rollout.feature_state(feature.key)), 201


@bp.get("/features")
@requires("read")
@answers(array({"type": "object"}), query={"include_archived": {"enum": ["true", "false"]}})
def list_features():
    """Every feature with its current stage and kill switch (archived ones with
    ``?include_archived=true``)."""
    flag = request.args.get("include_archived", "false")
    if flag not in ("true", "false"):
        raise ValidationFailed("invalid query", [Detail("include_archived", "must be true or false")])
    return jsonify(rollout.list_features(include_archived=flag == "true"))


@bp.get("/features/<key>")
@requires("read")
@answers(ref("Feature"))
def get_feature(key: str):
    """One feature: stages, audiences, current stage, kill switch, history."""
    return jsonify(rollout.feature_state(key))


def _transition(action, key: str):
    body = parsed_body("invalid transition")
    action(key, acting_identity().name, body.reason, body.effective_at)
    db.session.commit()
    return jsonify(rollout.feature_state(key))


@bp.post("/features/<key>/advance")
@requires("rollout:write")
@accepts(Advance, required=False)
@answers(ref("Feature"))
def advance_feature(key: str):
    """Move to the next stage once its gate passes (or with override and a reason)."""
    body = parsed_body("invalid transition")
    gates.advance_stage(key, acting_identity().name, body.reason, body.override, body.effective_at)
    db.session.commit()
    return jsonify(rollout.feature_state(key))


@bp.post("/features/<key>/rollback")
@requires("rollout:write")
@accepts(Transition, required=False)
@answers(ref("Feature"))
def rollback_feature(key: str):
    """Move back one stage."""
    return _transition(rollout.rollback, key)


@bp.post("/features/<key>/kill")
@requires("rollout:write")
@accepts(Transition, required=False)
@answers(ref("Feature"))
def kill_feature(key: str):
    """Turn the feature off for everyone."""
    return _transition(rollout.kill, key)


@bp.post("/features/<key>/resume")
@requires("rollout:write")
@accepts(Transition, required=False)
@answers(ref("Feature"))
def resume_feature(key: str):
    """Lift the kill switch."""
    return _transition(rollout.resume, key)


@bp.get("/sdks")
@requires("read")
@answers(obj(("instances",), instances=array({"type": "object"}),
            rejected_fetches=array({"type": "object"})))
def list_sdks():
    """SDK instances that registered or sent metrics, and client-API requests refused for a bad token."""
    return jsonify(clients.sdk_overview())
