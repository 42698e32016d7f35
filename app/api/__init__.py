"""The REST API under /api/v1: JSON in, JSON out, the contract's error shape everywhere."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from app.db import db
from app.errors import LiftoffError, ValidationFailed

bp = Blueprint("api", __name__, url_prefix="/api/v1")
log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = "5"


def json_body(expect: type | tuple[type, ...] = (dict, list)):
    """The request's JSON, or a 400 naming the problem (malformed JSON, wrong top-level type)."""
    data = request.get_json(silent=True, force=True)
    if data is None:
        raw = request.get_data(cache=True)
        if raw.strip() in (b"", b"null"):
            raise LiftoffError("the request body must be JSON", status=400)
        raise LiftoffError("malformed JSON in the request body", status=400)
    if not isinstance(data, expect):
        names = expect.__name__ if isinstance(expect, type) else " or ".join(
            "object" if t is dict else "array" for t in expect
        )
        raise ValidationFailed(f"the body must be a JSON {names.replace('dict', 'object')}")
    return data


@bp.errorhandler(LiftoffError)
def _liftoff_error(error: LiftoffError):
    response = jsonify(error.as_dict())
    response.status_code = error.status
    return response


def _http_error(error: HTTPException):
    response = jsonify({"error": error.description or error.name, "details": []})
    response.status_code = error.code or 500
    return response


def register(app: Flask) -> None:
    # Route modules attach their views to ``bp`` when imported.
    from app.api import activity, enablement, features, jobs, kpis, people  # noqa: F401

    app.register_blueprint(bp)

    @app.errorhandler(HTTPException)
    def _api_http_errors(error: HTTPException):
        # JSON errors for the API paths; HTML pages keep Flask's default pages.
        if request.path.startswith("/api/"):
            return _http_error(error)
        return error

    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(InterfaceError, _database_unavailable)
    app.register_error_handler(DBAPIError, _database_unavailable)


def _database_unavailable(error: DBAPIError):
    """The database does not answer: 503 with Retry-After, so clients retry instead of giving up.
    Other driver errors (constraint violations, bad SQL) stay 500s: they are bugs, not outages."""
    if not isinstance(error, OperationalError | InterfaceError) and not error.connection_invalidated:
        raise error
    log.error("database unavailable on %s %s: %s", request.method, request.path,
              str(error.orig or error).splitlines()[0])
    try:
        db.session.rollback()
    except Exception:  # the connection is gone; the pool replaces it on the next checkout
        log.debug("rollback after a lost connection failed", exc_info=True)
    if request.path.startswith("/api/"):
        response = jsonify({"error": "the database is unavailable; retry later", "details": []})
    else:
        response = Response("The service is temporarily unavailable; retry later.\n",
                            content_type="text/plain; charset=utf-8")
    response.status_code = 503
    response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response
