"""Refusing fields an endpoint does not know (the contract: 422 naming the field, never dropped).

One mechanism for every JSON body: the body schemas declared for the OpenAPI document
(``app/api/openapi.py``) say which fields each object takes, with ``additionalProperties: false``.
``json_body`` checks every body against its endpoint's schema before a view sees it, so the
document and the refusal cannot drift apart, and a new endpoint is covered by declaring its body.
"""

from __future__ import annotations

from collections.abc import Callable

from app.errors import Detail, ValidationFailed

Resolve = Callable[[str], dict]
_MAX_DEPTH = 32  # bodies nest a few levels; a deeper value is walked no further


def _branches(schema: dict, resolve: Resolve) -> list[dict]:
    """The schema with its $ref followed, or the alternatives of an anyOf / oneOf."""
    if "$ref" in schema:
        return _branches(resolve(schema["$ref"]), resolve)
    if "anyOf" in schema or "oneOf" in schema:
        return [b for alt in schema.get("anyOf", schema.get("oneOf", [])) for b in _branches(alt, resolve)]
    return [schema]


def _pick(value, schema: dict, resolve: Resolve) -> dict | None:
    """The branch describing ``value``'s shape (object or array), if the schema has one."""
    wanted = "object" if isinstance(value, dict) else "array"
    for branch in _branches(schema, resolve):
        kind = branch.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if wanted in kinds or (wanted == "object" and "properties" in branch) or \
                (wanted == "array" and "items" in branch):
            return branch
    return None


def unknown_fields(value, schema: dict, resolve: Resolve, path: str = "",
                   depth: int = 0) -> list[tuple[str, str]]:
    """``(path, field)`` of every key of ``value`` that its closed object schema does not declare.

    Objects whose schema has ``additionalProperties: false`` are closed; others (free-form payloads)
    are not looked into. Paths are ``stages[1]``-style, empty at the top.
    """
    if depth > _MAX_DEPTH or not isinstance(value, dict | list):
        return []
    branch = _pick(value, schema, resolve)
    if branch is None:
        return []
    found: list[tuple[str, str]] = []
    if isinstance(value, list):
        items = branch.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                found += unknown_fields(item, items, resolve, f"{path}[{i}]", depth + 1)
        return found
    properties = branch.get("properties", {})
    for key, item in value.items():
        if key in properties:
            inner = f"{path}.{key}" if path else str(key)
            found += unknown_fields(item, properties[key], resolve, inner, depth + 1)
        elif branch.get("additionalProperties") is False:
            found.append((path, str(key)))
    return found


def refuse_unknown_fields(body, schema: dict | None, resolve: Resolve) -> None:
    """Raise a 422 naming each unknown field; a top-level array's rows are named by ``index``.

    :param body: the parsed JSON body.
    :param schema: the endpoint's declared body schema (None: nothing declared, nothing checked).
    """
    if schema is None:
        return
    details = []
    for path, name in unknown_fields(body, schema, resolve):
        index = None
        if isinstance(body, list) and path.startswith("["):
            # A row of an array body: its index, and the field's path inside the row.
            row, _, rest = path[1:].partition("]")
            index, path = int(row), rest.removeprefix(".")
        details.append(Detail(f"{path}.{name}" if path else name, "unknown field", index))
    if details:
        raise ValidationFailed("unknown fields; nothing was written", details)
