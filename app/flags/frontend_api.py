"""The Unleash frontend API (``/api/frontend``) for browser and mobile apps, as ``unleash-proxy-client``
and Unleash Edge speak it: a ``frontend`` token, the user's context in the query string (``GET``) or
in ``{"context": {...}}`` (``POST``), and back only the toggles enabled for that context.

A client token (the whole payload, segments and their person ids included) is for backend services;
what ships inside an app is a frontend token, which can learn nothing but its own user's answers.
"""

from __future__ import annotations

import hashlib
import json
import re

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from app.db import db
from app.errors import Collector, Detail, LiftoffError, ValidationFailed
from app.flags import clients
from app.flags.client_api import etag_matches
from app.flags.frontend_eval import evaluator_for_app

bp = Blueprint("frontend_api", __name__, url_prefix="/api/frontend")

MAX_BODY_BYTES = 64 * 1024  # a context or a browser's metrics bucket is a few hundred bytes
MAX_FIELDS = 50
MAX_FIELD_NAME = 100
MAX_FIELD_VALUE = 1000
MAX_TOGGLES = 1000  # per metrics report
# Context fields Unleash keeps at the top level; any other field is a custom one (``properties``).
STANDARD_FIELDS = frozenset({"userId", "sessionId", "remoteAddress", "appName", "environment"})
PROPERTY = re.compile(r"^properties\[(.+)\]$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
PREFLIGHT_HEADERS = "Authorization, Content-Type, If-None-Match, Unleash-AppName, Unleash-SDK, " \
                    "Unleash-Connection-Id"


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message, "details": []})
    response.status_code = status
    return response


def _authorise() -> tuple[str | None, Response | None]:
    """The frontend token's environment, or the refusal to send (counted under ``GET /api/v1/sdks``)."""
    check = clients.check_client_token(request.headers.get("Authorization"), kind="frontend")
    if check.environment is not None:
        return check.environment, None
    # No app name: a browser can send any, and each would be a row of its own.
    clients.record_rejection(check.reason or "unknown", None)
    db.session.commit()
    if check.status == 403:
        return None, _error(403, "this token may not read the frontend API: use a frontend token")
    return None, _error(401, "a valid frontend token is required in the Authorization header")


def _text(value, field: str, problems: Collector) -> str | None:
    """A context value as Unleash SDKs send it: a string, or a number (the SDK's own sessionId)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > MAX_FIELD_VALUE:
        problems.add(field, f"must be a string of at most {MAX_FIELD_VALUE} characters")
        return None
    return value


def _add(context: dict, name, value, field: str, problems: Collector) -> None:
    if not isinstance(name, str) or not 0 < len(name) <= MAX_FIELD_NAME:
        problems.add(field, f"a context field name has 1 to {MAX_FIELD_NAME} characters")
        return
    text = _text(value, field, problems)
    if text is None:
        return
    match = PROPERTY.match(name)
    if match:
        context["properties"][match.group(1)] = text
    elif name in STANDARD_FIELDS:
        context[name] = text
    else:
        context["properties"][name] = text


def _context(environment: str) -> dict:
    """The Unleash context of this request; raises ValidationFailed naming each bad field."""
    problems = Collector()
    context: dict = {"properties": {}}
    if request.method == "POST":
        body = _json_object()
        if "context" in body and not isinstance(body["context"], dict):
            raise ValidationFailed("invalid context", [Detail("context", "must be an object")])
        sent = body.get("context", body)  # unleash-proxy-client wraps it; a bare context is fine too
        fields = [(k, v) for k, v in sent.items() if k not in ("context", "properties")]
        properties = sent.get("properties") or {}
        if not isinstance(properties, dict):
            problems.add("context.properties", "must be an object of field name -> string")
            properties = {}
        fields += [(f"properties[{k}]", v) for k, v in properties.items()]
        prefix = "context."
    else:
        fields = [(k, request.args.get(k)) for k in request.args]
        prefix = ""
    if len(fields) > MAX_FIELDS:
        raise ValidationFailed("invalid context", [Detail("context", f"has at most {MAX_FIELDS} fields")])
    for name, value in fields:
        _add(context, name, value, f"{prefix}{name}", problems)
    problems.raise_if_any("invalid context")
    # As Unleash does: the token decides the environment, and the caller's address is known.
    context["environment"] = environment
    context.setdefault("remoteAddress", request.remote_addr or "")
    return context


def _has_bad_text(value) -> bool:
    """NUL and lone surrogates: PostgreSQL cannot store them; refused before anything is written.
    A loop, not recursion: the parser accepts nesting deeper than a recursive walk would survive."""
    pending = [value]
    while pending:  # bounded: each value of the (at most MAX_BODY_BYTES) body is visited once
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item or any("\ud800" <= c <= "\udfff" for c in item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _json_object() -> dict:
    try:
        data = request.get_json(silent=True, force=True)
    except RecursionError:
        raise LiftoffError("the JSON body is nested too deeply", status=400) from None
    if data is None:
        raise LiftoffError("malformed JSON in the request body", status=400)
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object")
    if _has_bad_text(data):
        raise LiftoffError("NUL characters and lone surrogates are not allowed in the body", status=400)
    return data


@bp.before_request
def _bound_body() -> None:
    request.max_content_length = MAX_BODY_BYTES  # a larger body answers 413 before it is read


@bp.route("", methods=["GET", "POST"])
def toggles():
    """The toggles enabled for the context sent, with their variants; ETag and 304 when unchanged."""
    environment, refusal = _authorise()
    if refusal is not None:
        return refusal
    context = _context(environment)
    found = evaluator_for_app().toggles(environment, context)
    body = json.dumps({"toggles": found}, separators=(",", ":")).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:40]}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag_matches(request.headers.get("If-None-Match"), etag):
        return Response(status=304, headers=headers)
    return Response(body, status=200, headers=headers, content_type="application/json")


@bp.post("/client/metrics")
def metrics():
    """A frontend SDK's yes/no counts; toggles this environment does not serve are not stored."""
    environment, refusal = _authorise()
    if refusal is not None:
        return refusal
    body = _json_object()
    bucket = body.get("bucket")
    toggles = bucket.get("toggles") if isinstance(bucket, dict) else None
    if isinstance(toggles, dict):
        if len(toggles) > MAX_TOGGLES:
            raise ValidationFailed(f"a metrics report counts at most {MAX_TOGGLES} toggles")
        known = evaluator_for_app().feature_names(environment)
        bucket["toggles"] = {name: tally for name, tally in toggles.items() if name in known}
    body.setdefault("instanceId", "browser")  # what unleash-proxy-client sends
    clients.record_metrics(body, environment)
    db.session.commit()
    return Response(status=202)


@bp.post("/client/register")
def register_sdk():
    """A frontend SDK announces itself."""
    environment, refusal = _authorise()
    if refusal is not None:
        return refusal
    body = _json_object()
    body.setdefault("instanceId", "browser")
    clients.register(body, environment)
    db.session.commit()
    return Response(status=202)


@bp.errorhandler(LiftoffError)
def _liftoff_error(error: LiftoffError):
    db.session.rollback()
    response = jsonify(error.as_dict())
    response.status_code = error.status
    return response


def allowed_origins(setting: str) -> frozenset[str]:
    """``LIFTOFF_FRONTEND_ORIGINS``: comma-separated origins (``https://app.example.com``) or ``*``."""
    return frozenset(o.strip().rstrip("/").lower() for o in (setting or "").split(",") if o.strip())


@bp.after_request
def _cors(response: Response) -> Response:
    """Cross-origin reads for the allowed origins only; tokens, not cookies, so no credentials."""
    response.vary.update(("Authorization", "Origin"))
    origin = request.headers.get("Origin")
    allowed = allowed_origins(current_app.config.get("FRONTEND_ORIGINS", ""))
    if not origin or not ("*" in allowed or origin.rstrip("/").lower() in allowed):
        return response
    response.headers["Access-Control-Allow-Origin"] = "*" if "*" in allowed else origin
    response.headers["Access-Control-Expose-Headers"] = "ETag"
    if request.method == "OPTIONS":  # the preflight (Flask answers OPTIONS for every route itself)
        asked = [h.strip() for h in request.headers.get("Access-Control-Request-Headers", "").split(",")]
        asked = [h for h in asked if h]
        # Echo what the SDK asks for (its customHeaders too) as long as they are plain header names.
        ok = asked and len(asked) <= 20 and all(HEADER_NAME.match(h) for h in asked)
        response.headers["Access-Control-Allow-Headers"] = ", ".join(asked) if ok else PREFLIGHT_HEADERS
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def register(app: Flask) -> None:
    app.register_blueprint(bp)
