"""The Unleash client API (/api/client) every Unleash SDK speaks: features, register, metrics.

A feature poll is answered from the in-process payload cache and the token cache, so a steady
stream of polls costs no database query; an unchanged payload answers ``304``.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, request

from app.db import db
from app.errors import Detail, LiftoffError, ValidationFailed
from app.flags import clients, payload_cache
from app.observability import count_flag_fetch
from app.plausible import refuse_unstorable_json

bp = Blueprint("client_api", __name__, url_prefix="/api/client")
VARY = f"Authorization, {payload_cache.COHORTS_HEADER}"  # the body depends on both


def _error(status: int, message: str, details: list | None = None) -> Response:
    response = jsonify({"error": message, "details": details or []})
    response.status_code = status
    return response


def _app_name() -> str | None:
    return request.headers.get("UNLEASH-APPNAME") or request.headers.get("X-Unleash-AppName")


def _authorise() -> tuple[clients.TokenCheck, Response | None]:
    """The token check (its environment and id), or the refusal to send (counted for
    ``GET /api/v1/sdks``)."""
    check = clients.check_client_token(request.headers.get("Authorization"))
    if check.environment is not None:
        return check, None
    clients.record_rejection(check.reason or "unknown", _app_name())
    db.session.commit()
    if check.status == 403:
        return check, _error(403, "this token may not read flags: use a client token")
    return check, _error(401, "a valid client token is required in the Authorization header")


def etag_matches(header: str | None, etag: str) -> bool:
    """``If-None-Match`` uses the weak comparison: W/ prefixes are ignored, ``*`` matches."""
    if not header:
        return False
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def _cohorts_by_context() -> bool:
    """Whether the SDK asked for the compact payload (``Liftoff-Cohorts: context``)."""
    value = request.headers.get(payload_cache.COHORTS_HEADER)
    if value is None:
        return False
    if value.strip() == payload_cache.COHORTS_BY_CONTEXT:
        return True
    raise ValidationFailed(f"the {payload_cache.COHORTS_HEADER} header takes only "
                           f"{payload_cache.COHORTS_BY_CONTEXT!r}",
                           [Detail(payload_cache.COHORTS_HEADER, "unknown value")])


@bp.get("/features")
def features():
    """The compiled flags of the token's environment, with a strong ETag."""
    check, refusal = _authorise()
    if refusal is not None:
        count_flag_fetch(refusal.status_code)
        return refusal
    current = payload_cache.payload(check.environment, _cohorts_by_context())
    headers = {"ETag": current.etag, "Cache-Control": "no-cache", "Vary": VARY}
    if etag_matches(request.headers.get("If-None-Match"), current.etag):
        count_flag_fetch(304)
        return Response(status=304, headers=headers)
    count_flag_fetch(200)
    return Response(current.body, status=200, headers=headers, content_type="application/json")


def _json_object() -> dict:
    try:
        data = request.get_json(silent=True, force=True)
    except RecursionError:
        raise LiftoffError("the JSON body is nested too deeply", status=400) from None
    if data is None:
        raise LiftoffError("malformed JSON in the request body", status=400)
    refuse_unstorable_json(data)
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object")
    return data


@bp.post("/register")
def register_sdk():
    """An SDK announces itself: app, instance, SDK version, strategies."""
    check, refusal = _authorise()
    if refusal is not None:
        return refusal
    clients.register(_json_object(), check.environment, check.token_id)
    db.session.commit()
    return Response(status=202)


@bp.post("/metrics")
def metrics():
    """An SDK reports how often each flag answered yes and no."""
    check, refusal = _authorise()
    if refusal is not None:
        return refusal
    clients.record_metrics(_json_object(), check.environment, check.token_id)
    db.session.commit()
    return Response(status=202)


@bp.errorhandler(LiftoffError)
def _liftoff_error(error: LiftoffError):
    db.session.rollback()
    response = jsonify(error.as_dict())
    response.status_code = error.status
    return response


def register(app: Flask) -> None:
    """The blueprint; create_app then puts app.flags.fast_path in front of it (it needs app.web's
    headers, and imports this module's ETag check)."""
    app.register_blueprint(bp)
