"""Features and their staged rollouts; the SDKs connected to the client API."""

from __future__ import annotations

from datetime import datetime

from flask import jsonify, request

from app.api import bp, json_body
from app.db import db
from app.errors import Detail, ValidationFailed
from app.flags import clients
from app.security import current_identity, requires
from app.services.rollout import gates
from app.services.rollout import transitions as rollout


def _effective_at(body: dict) -> datetime | None:
    raw = body.get("effective_at")
    if raw is None:
        return None
    try:
        if not isinstance(raw, str):
            raise ValueError
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            "invalid transition", [Detail("effective_at", f"not an ISO 8601 timestamp: {raw!r}")]
        ) from None
    if parsed.tzinfo is None:
        raise ValidationFailed(
            "invalid transition", [Detail("effective_at", "needs a UTC offset (e.g. Z)")]
        )
    return parsed


def _reason(body: dict) -> str | None:
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ValidationFailed("invalid transition", [Detail("reason", "must be a string")])
    return reason


@bp.post("/features")
@requires("features:write")
def create_feature():
    """Create a feature with its stage plan."""
    feature = rollout.create_feature(json_body(dict), current_identity().name)
    db.session.commit()
    return jsonify(rollout.feature_state(feature.key)), 201


@bp.get("/features")
@requires("read")
def list_features():
    """Every feature with its current stage and kill switch (archived ones with
    ``?include_archived=true``)."""
    flag = request.args.get("include_archived", "false")
    if flag not in ("true", "false"):
        raise ValidationFailed("invalid query", [Detail("include_archived", "must be true or false")])
    return jsonify(rollout.list_features(include_archived=flag == "true"))


@bp.get("/features/<key>")
@requires("read")
def get_feature(key: str):
    """One feature: stages, audiences, current stage, kill switch, history."""
    return jsonify(rollout.feature_state(key))


def _transition(action, key: str):
    body = json_body(dict) if _has_body() else {}
    action(key, current_identity().name, _reason(body), _effective_at(body))
    db.session.commit()
    return jsonify(rollout.feature_state(key))


def _has_body() -> bool:
    return bool(request.get_data(cache=True).strip())


def _override(body: dict) -> bool:
    override = body.get("override", False)
    if not isinstance(override, bool):
        raise ValidationFailed("invalid transition", [Detail("override", "must be true or false")])
    return override


@bp.post("/features/<key>/advance")
@requires("rollout:write")
def advance_feature(key: str):
    """Move to the next stage once its gate passes (or with override and a reason)."""
    body = json_body(dict) if _has_body() else {}
    gates.advance_stage(key, current_identity().name, _reason(body), _override(body), _effective_at(body))
    db.session.commit()
    return jsonify(rollout.feature_state(key))


@bp.post("/features/<key>/rollback")
@requires("rollout:write")
def rollback_feature(key: str):
    """Move back one stage."""
    return _transition(rollout.rollback, key)


@bp.post("/features/<key>/kill")
@requires("rollout:write")
def kill_feature(key: str):
    """Turn the feature off for everyone."""
    return _transition(rollout.kill, key)


@bp.post("/features/<key>/resume")
@requires("rollout:write")
def resume_feature(key: str):
    """Lift the kill switch."""
    return _transition(rollout.resume, key)


@bp.get("/sdks")
@requires("read")
def list_sdks():
    """SDK instances that registered or sent metrics, and client-API requests refused for a bad token."""
    return jsonify(clients.sdk_overview())
