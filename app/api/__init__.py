"""The REST API under /api/v1: JSON in, JSON out, the contract's error shape everywhere."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from app.api.known_fields import refuse_unknown_fields
from app.db import db
from app.errors import Detail, LiftoffError, ValidationFailed
from app.plausible import refuse_unstorable_json
from app.security import current_identity

bp = Blueprint("api", __name__, url_prefix="/api/v1")
log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = "5"


def _parsed_json():
    """The body parsed as JSON (None when it is not JSON). Nesting deep enough to exhaust Python's
    recursion limit is refused with a 400, not left to raise a RecursionError (a 500)."""
    try:
        return request.get_json(silent=True, force=True)
    except RecursionError:
        raise LiftoffError("the JSON body is nested too deeply", status=400) from None


def json_body(expect: type | tuple[type, ...] = (dict, list), max_items: int | None = None):
    """The request's JSON, or a 400 naming the problem (malformed JSON, wrong top-level type);
    an array longer than ``max_items`` is refused (422) before any row is looked at. A field the
    endpoint's declared body schema does not know is a 422 naming it (known_fields)."""
    data = _parsed_json()
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
    if max_items is not None and isinstance(data, list) and len(data) > max_items:
        raise ValidationFailed("too many rows in one request", [
            Detail("(body)", f"{len(data):,} rows; a request holds at most {max_items:,}, split it")])
    from app.api import openapi  # here: the document's module imports the whole model

    refuse_unknown_fields(data, openapi.body_schema(request.endpoint), openapi.resolve)
    return data


@bp.before_request
def _refuse_unstorable_input():
    # Before any view, so no body can break a request: PostgreSQL text holds no NUL (400, as
    # SQLite would store it, both databases alike), UTF-8 no lone surrogate (422 naming the
    # field), and a body nested deeper than any request of the contract is refused (400) before
    # any code walks it recursively. A caller without valid credentials gets its 401 from the
    # view without the body ever being parsed: strangers cost no JSON parsing.
    if "\x00" in request.path or any(
        "\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)
    ):
        raise LiftoffError("NUL characters are not allowed in the path or query", status=400)
    if request.method in ("POST", "PUT", "PATCH") and current_identity() is not None:
        refuse_unstorable_json(_parsed_json())


@bp.errorhandler(LiftoffError)
def _liftoff_error(error: LiftoffError):
    # Nothing half-written: objects a failed flush left pending must not reach a later commit.
    db.session.rollback()
    response = jsonify(error.as_dict())
    response.status_code = error.status
    return response


def _http_error(error: HTTPException):
    response = jsonify({"error": error.description or error.name, "details": []})
    response.status_code = error.code or 500
    return response


class RowId(IntegerConverter):
    """``<int:...>`` ids that fit the databases' INTEGER columns: a larger number is a 404, not an
    overflow deep in the driver (found by schemathesis)."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def register(app: Flask) -> None:
    app.url_map.converters["int"] = RowId
    # Route modules attach their views to ``bp`` when imported.
    from app.api import (  # noqa: F401
        activity,
        corrections,
        enablement,
        features,
        jobs,
        kpis,
        people,
        privacy,
        reviews,
        variants,
    )

    app.register_blueprint(bp)

    from app.api import openapi

    openapi.register(app)  # GET /api/openapi.json, generated from the routes above
    from app.api import reference

    reference.register(app)  # GET /api/docs, the same document as a page

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
