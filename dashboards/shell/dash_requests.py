"""Junk sent to Dash's own routes gets a 4xx, never a 500 with Dash's exception.

Dash assumes its requests come from its renderer: an unknown component-suite file raises
``DependencyException`` and a callback body it cannot read raises ``KeyError`` or ``TypeError``,
each a 500. The guard (dashboards/shell/guard.py) wraps those two views with the checks below, after its
login check and after Flask-WTF's CSRF check, so only a logged-in user with a valid token gets this
far. A callback request is let through only when it matches a registered callback exactly, as the
renderer's requests do, and when each value it carries is of the kind its component holds
(dashboards/shell/callback_inputs.py): a 400 otherwise, naming the field, and the callback does not run.
"""

from __future__ import annotations

import functools
import json
import logging

from dash import Dash
from dash.dependencies import ALL, ALLSMALLER, DashDependency, Output, Wildcard
from dash.exceptions import DependencyException
from flask import Response, jsonify, request

from app.errors import Detail, LiftoffError
from dashboards.shell.callback_inputs import request_problem

log = logging.getLogger(__name__)
SUITES_RULE = "_dash-component-suites/<string:package_name>/<path:fingerprinted_path>"
CALLBACK_RULE = "_dash-update-component"


def not_found_for_unknown_files(view):
    """404 for a library Dash does not serve, a file it never registered, or one missing on disk."""

    @functools.wraps(view)
    def serve(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except (DependencyException, FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return Response("Not found.\n", status=404, content_type="text/plain; charset=utf-8")

    return serve


def bad_request_for_junk(view, dash_app: Dash):
    """400 for a callback body that is not a request for one of ``dash_app``'s callbacks."""

    @functools.wraps(view)
    def dispatch(*args, **kwargs):
        try:
            body = request.get_json(silent=True)  # None for a body that is not JSON
        except RecursionError:  # nested deeper than the parser goes: not from Dash's renderer
            body = None
        problem = callback_problem(body, dash_app.callback_map)
        if problem is not None:
            return _refused("malformed dashboard callback request", problem)
        problem = request_problem(body, dash_app.callback_map[body["output"]])
        if problem is not None:
            return _refused("unexpected value in a dashboard callback request", problem, body["output"])
        return view(*args, **kwargs)

    return dispatch


def _refused(message: str, problem: Detail, output: str | None = None):
    # The field and what is wrong, never the value: it may be long, or someone's text.
    log.warning("refused a dashboard callback request%s: %s: %s",
                f" for {output}" if output else "", problem.field, problem.message)
    return jsonify(LiftoffError(message, [problem], 400).as_dict()), 400


def callback_problem(body, callbacks: dict) -> Detail | None:
    """What is wrong with a callback request ``body``, or None when it fits a registered callback
    (its output, its inputs and states in order, its outputs) that runs on the server."""
    if not isinstance(body, dict):
        return Detail("body", "must be a JSON object (send Content-Type: application/json)")
    output = body.get("output")
    if not isinstance(output, str):
        return Detail("output", "must be the callback's output id, a string")
    callback = callbacks.get(output)
    if callback is None:
        return Detail("output", "no dashboard callback has this output")
    if "callback" not in callback:
        return Detail("output", "this callback runs in the browser, not on the server")
    for key in ("inputs", "state"):
        registered = [_registered(spec) for spec in callback[key]]
        problem = _listed(body.get(key, []), registered, key)
        if problem is not None:
            return problem
    problem = _same_components(body, callback)
    if problem is not None:
        return problem
    if not callback.get("no_output"):
        # The map keeps a single Output, or the flat list of a multi-output callback's Outputs.
        declared, sent = callback["output"], body.get("outputs")
        if isinstance(declared, Output):
            wrong = _one(sent, declared)
            if wrong is not None:
                return Detail("outputs", wrong)
        else:
            problem = _listed(sent, list(declared), "outputs")
            if problem is not None:
                return problem
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(prop, str) for prop in changed):
        return Detail("changedPropIds", "must be a list of strings")
    # Dash reads the triggering component from these (ctx.triggered_id): the renderer names only
    # inputs it sends, and so must a request.
    sent = [_component(entry) for item in body.get("inputs", [])
            for entry in (item if isinstance(item, list) else [item])]
    for position, prop_id in enumerate(changed):
        if _parsed_prop_id(prop_id) not in sent:
            return Detail(f"changedPropIds[{position}]", "must name one of the inputs sent, as id.property")
    return None


def _same_components(body: dict, callback: dict) -> Detail | None:
    # Two dependencies on one pattern (a value and the ids, say) see the same components in the
    # renderer, in the same order; the callback pairs them up.
    first: dict[str, tuple[str, list]] = {}
    for key in ("inputs", "state"):
        for position, (spec, item) in enumerate(zip(callback[key], body.get(key, []), strict=True)):
            if not isinstance(item, list):
                continue
            ids = [entry["id"] for entry in item]
            where, seen = first.setdefault(spec["id"], (f"{key}[{position}]", ids))
            if ids != seen:
                return Detail(f"{key}[{position}]", f"must list the same components as {where}")
    return None


def _component(entry: dict) -> tuple:
    ident = entry["id"]
    return (json.dumps(ident, sort_keys=True) if isinstance(ident, dict) else ident), entry["property"]


def _parsed_prop_id(prop_id: str) -> tuple | None:
    ident, _, prop = prop_id.rpartition(".")
    if ident.startswith("{"):
        try:
            parsed = json.loads(ident)
        except (ValueError, RecursionError):
            return None
        return (json.dumps(parsed, sort_keys=True), prop) if isinstance(parsed, dict) else None
    return ident, prop


def _registered(spec: dict) -> DashDependency:
    # The callback map keeps each input and state as {"id", "property"}, a pattern id as the JSON
    # Dash sends its renderer, with each wildcard written ["ALL"].
    ident = spec["id"]
    if ident.startswith("{"):
        ident = {key: Wildcard(value[0]) if isinstance(value, list) else value
                 for key, value in json.loads(ident).items()}
    return DashDependency(ident, spec["property"])


def _listed(sent, registered: list[DashDependency], field: str) -> Detail | None:
    if not isinstance(sent, list) or len(sent) != len(registered):
        return Detail(field, f"must be a list of {len(registered)} entries, as the callback declares")
    for position, (item, dependency) in enumerate(zip(sent, registered, strict=True)):
        problem = _one(item, dependency)
        if problem is not None:
            return Detail(f"{field}[{position}]", problem)
    return None


def _one(item, dependency: DashDependency) -> str | None:
    ident = dependency.component_id
    many = isinstance(ident, dict) and any(value in (ALL, ALLSMALLER) for value in ident.values())
    if many and not isinstance(item, list):
        return f"must be a list of the components matching {dependency}"
    for entry in item if many else [item]:
        if not isinstance(entry, dict) or not isinstance(entry.get("property"), str):
            return "must be an object with an id and a property"
        sent_id = entry.get("id")
        if isinstance(sent_id, dict) and not all(
            isinstance(value, str | int | float | bool) for value in sent_id.values()
        ):
            sent_id = None  # a pattern id holds plain values only
        # An output that other callbacks may also set (allow_duplicate) comes as "property@hash".
        prop = entry["property"].split("@")[0]
        if not isinstance(sent_id, str | dict) or DashDependency(sent_id, prop) != dependency:
            return f"is not {dependency}"
    return None
