"""``GET /api/docs``: the API reference as one HTML page, rendered on the server from the OpenAPI
document (app.api.openapi) with no script and no CDN, so it works offline and behind a proxy.
Public, as the document is: it describes the routes and holds no data."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask, current_app
from jinja2 import Environment, FileSystemLoader

from app.api.openapi import build_document

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
METHODS = ("get", "post", "put", "patch", "delete")
_templates = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)


def type_text(schema: dict | None) -> str:
    """A schema in a few words: ``Feature``, ``array of Cohort``, ``string or null``."""
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "items" in schema:
        return f"array of {type_text(schema['items'])}"
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            return " or ".join(type_text(s) for s in schema[combined])
    kind = schema.get("type", "object")
    text = " or ".join(kind) if isinstance(kind, list) else kind
    if "enum" in schema:
        text += " (" + ", ".join(json.dumps(v) for v in schema["enum"]) + ")"
    if "pattern" in schema:
        text += f" matching {schema['pattern']}"
    return text


def _body(operation: dict) -> str:
    content = (operation.get("requestBody") or {}).get("content", {})
    media: dict = next(iter(content.values()), {})
    return type_text(media.get("schema"))


def _responses(operation: dict) -> list[tuple[str, str, str]]:
    out = []
    for code, answer in sorted(operation.get("responses", {}).items()):
        content = answer.get("content", {})
        media: dict = next(iter(content.values()), {})
        out.append((code, answer.get("description", ""), type_text(media.get("schema"))))
    return out


def operations(document: dict) -> list[dict]:
    """Every operation of the document, in path order, as the page lists it."""
    out = []
    for path, item in sorted(document["paths"].items()):
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            out.append({
                "id": op.get("operationId") or f"{method}-{path}", "method": method.upper(), "path": path,
                "summary": op.get("summary", ""), "description": op.get("description", ""),
                "permission": op.get("x-permission", "public"),
                "parameters": [(p["name"], p.get("in", ""), type_text(p.get("schema")),
                                p.get("required", False)) for p in op.get("parameters", [])],
                "body": _body(op), "responses": _responses(op)})
    return out


def schemas(document: dict) -> list[dict]:
    out = []
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        properties = sorted(schema.get("properties", {}).items())
        out.append({"name": name, "fields": [(field, type_text(spec), field in required)
                                             for field, spec in properties]})
    return out


def render(document: dict) -> str:
    return _templates.get_template("api_docs.html").render(
        info=document["info"], servers=document.get("servers", []), operations=operations(document),
        schemas=schemas(document))


def register(app: Flask) -> None:
    @app.get("/api/docs")
    def api_docs():
        """The API reference, from /api/openapi.json (public: it holds no data)."""
        page = current_app.extensions.get("liftoff_api_docs")
        if page is None:
            page = current_app.extensions["liftoff_api_docs"] = render(build_document(current_app))
        return page
