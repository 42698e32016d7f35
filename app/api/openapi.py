"""The OpenAPI 3.1 document at GET /api/openapi.json, generated from the routes themselves.

Paths, methods and path parameters come from ``app.url_map``; the permission from each view's
``@requires``; the summary from its docstring; the request body from the pydantic model the view
declares with ``@accepts`` (``Model.model_json_schema()``, so the document says exactly what the
service parses) and the answer from its ``@answers`` (app/api/declare.py). A /api/v1 route
without a declaration makes ``build_document`` raise (and tests/test_openapi_document.py fail), so
the document cannot fall behind the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Flask, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.api import load_routes
from app.api.declare import DECLARED, Declared
from app.schemas.enablement import AttendeeIn
from app.schemas.responses import RESPONSES, array, ref
from app.schemas.variants import REFERRED as VARIANTS_REFERRED
from app.security import PERMISSIONS

load_routes()  # the route modules' declarations are what the document is made of

TEMPLATE = "#/components/schemas/{model}"
# Models a schema refers to by hand (WithJsonSchema) rather than by type.
REFERRED: tuple[type[BaseModel], ...] = (AttendeeIn, *VARIANTS_REFERRED)


@dataclass(frozen=True)
class Operation:
    """What one API view takes and answers, as JSON schemas."""

    response: dict
    status: int = 200
    body: dict | None = None
    body_required: bool = True
    query: dict[str, dict] = field(default_factory=dict)
    media_type: str = "application/json"


def _bodies() -> tuple[dict[type[BaseModel], dict], dict[str, dict]]:
    models = list(dict.fromkeys([*(d.model for d in DECLARED.values() if d.model), *REFERRED]))
    refs, defs = models_json_schema([(m, "validation") for m in models], ref_template=TEMPLATE)
    return {m: refs[(m, "validation")] for m in models}, defs.get("$defs", {})


def _operation(spec: Declared, refs: dict[type[BaseModel], dict]) -> Operation:
    body = None
    if spec.model is not None:
        body = refs[spec.model]
        if spec.many:
            body = array(body, **({"maxItems": spec.max_items} if spec.max_items else {}))
    assert spec.response is not None  # OPERATIONS takes only the views that declare @answers
    return Operation(spec.response, spec.status, body, spec.required, spec.query, spec.media_type)


_REFS, _DEFS = _bodies()
SCHEMAS: dict[str, dict] = {**_DEFS, **RESPONSES}
OPERATIONS: dict[str, Operation] = {
    endpoint: _operation(spec, _REFS) for endpoint, spec in DECLARED.items() if spec.response is not None
}

ROW_ID = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}  # app.api.RowId
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
MEDIA_TYPES = {"text/plain": ("text/csv", "application/x-ndjson")}


def _path(rule: str) -> tuple[str, list[dict]]:
    params = [
        {"name": name, "in": "path", "required": True,
         "schema": ROW_ID if converter == "int" else {"type": "string", "minLength": 1}}
        for converter, name in _PARAM.findall(rule)
    ]
    return _PARAM.sub(r"{\2}", rule), params


def resolve(reference: str) -> dict:
    """The shared schema a ``#/components/schemas/NAME`` reference points at."""
    return SCHEMAS[reference.rsplit("/", 1)[-1]]


def _operation_document(app: Flask, rule, method: str) -> dict:
    spec = OPERATIONS.get(rule.endpoint)
    if spec is None:
        raise LookupError(f"{method} {rule.rule} ({rule.endpoint}) declares no @answers "
                          "(app/api/declare.py)")
    view = app.view_functions[rule.endpoint]
    permission = getattr(view, "liftoff_permission", None)
    if permission is None:  # tests/test_security_declared.py fails first: every view has @requires
        raise LookupError(f"{method} {rule.rule} ({rule.endpoint}) declares no @requires")
    kinds, roles = PERMISSIONS[permission]
    path, params = _path(rule.rule)
    doc = (view.__doc__ or "").strip().splitlines()
    media = {m: {"schema": spec.response} for m in MEDIA_TYPES.get(spec.media_type, (spec.media_type,))}
    error = {"description": "the error and every problem found",
             "content": {"application/json": {"schema": ref("Error")}}}
    operation = {
        "operationId": rule.endpoint.split(".", 1)[1],
        "summary": doc[0] if doc else rule.endpoint,
        "description": f"Needs `{permission}`: tokens {sorted(kinds)}, roles {sorted(roles)}.",
        "parameters": params + [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in spec.query.items()
        ],
        "responses": {str(spec.status): {"description": "done", "content": media}, "4XX": error},
        "security": [{"bearer": []}, {"session": []}],
        "x-permission": permission,
    }
    if spec.body is not None:
        operation["requestBody"] = {"required": spec.body_required,
                                    "content": {"application/json": {"schema": spec.body}}}
    return operation


def build_document(app: Flask) -> dict:
    """The OpenAPI 3.1 document of every /api/v1 route of ``app``."""
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1/"):
            continue
        path, _ = _path(rule.rule.removeprefix("/api/v1"))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation_document(app, rule, method)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Liftoff API", "version": "1",
                 "description": "Staged AI-feature rollouts, KPIs and ROI. See docs/api.md."},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "an admin or ingest token (`liftoff tokens create`)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "a dashboard login; writes also need the X-CSRFToken header"},
            },
        },
    }


def register(app: Flask) -> None:
    @app.get("/api/openapi.json")
    def openapi_document():
        """The OpenAPI 3.1 document of the REST API (public: it holds no data)."""
        document = current_app.extensions.get("liftoff_openapi")
        if document is None:
            document = current_app.extensions["liftoff_openapi"] = build_document(current_app)
        return jsonify(document)
