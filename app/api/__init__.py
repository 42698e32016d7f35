"""The REST API under /api/v1: JSON in, JSON out, the contract's error shape everywhere."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from app.api.declare import declared
from app.db import db
from app.errors import Collector, Detail, LiftoffError, ValidationFailed
from app.plausible import refuse_unstorable_json
from app.schemas.common import parse, refuse, unknown_keys, unknown_only, validate, validate_rows
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


def json_body():
    """The request's JSON as the endpoint declared it (``@accepts``, app/api/declare.py), or a 4xx
    naming the problem: malformed JSON or a wrong top-level type (400/422), an array longer than
    its ``max_items`` (422, before any row is looked at), a field the body's model does not know
    (422 naming it, on its own). The raw JSON is returned: the service parses it with the same
    model and adds the checks that need the database, so every problem is reported at once."""
    spec = declared(request.endpoint)
    if spec is None or spec.model is None:
        raise LookupError(f"{request.endpoint} declares no body (@accepts)")
    if not spec.required and not request.get_data(cache=True).strip():
        return [] if spec.many else {}
    data = _parsed_json()
    if data is None:
        raw = request.get_data(cache=True)
        if raw.strip() in (b"", b"null"):
            raise LiftoffError("the request body must be JSON", status=400)
        raise LiftoffError("malformed JSON in the request body", status=400)
    expect = list if spec.many else dict
    if not isinstance(data, expect):
        raise ValidationFailed(f"the body must be a JSON {'array' if spec.many else 'object'}")
    if spec.max_items is not None and len(data) > spec.max_items:
        split = f"{len(data):,} rows; a request holds at most {spec.max_items:,}, split it"
        raise ValidationFailed("too many rows in one request", [Detail(spec.rows_field, split)])
    if spec.many:  # rows are flat: their keys tell
        unknown = unknown_keys(spec.model, data)
    else:
        problems = Collector()
        validate(spec.model, data, problems)
        unknown = unknown_only(problems.details)
    if unknown:
        raise ValidationFailed("unknown fields; nothing was written", unknown)
    return data


def parsed_body(message: str = "invalid body"):
    """The body parsed whole with the endpoint's declared model (for views that need no database
    check beyond it): a model, a list of them (``many``), or a 422 ``message`` naming each field."""
    data = json_body()
    spec = declared(request.endpoint)
    assert spec is not None and spec.model is not None  # json_body refused an undeclared body
    if spec.many:
        problems = Collector()
        rows = validate_rows(spec.model, data, problems)
        refuse(problems, message)
        return [row for _, row in rows]
    return parse(spec.model, data, message)


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
        refuse_unstorable_json(_parsed_json(), request.get_data(cache=True))


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


def load_routes() -> None:
    """Import the route modules: their views attach to ``bp`` and declare what they take and answer
    (app/api/declare.py), which the OpenAPI document is generated from."""
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


def register(app: Flask) -> None:
    app.url_map.converters["int"] = RowId
    load_routes()

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
