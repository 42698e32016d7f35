"""Junk sent to Dash's own routes: 404 for component-suite files Dash does not serve, 400 for
callback bodies that fit no registered callback, never a 500 or a stack trace; still behind the
login and CSRF checks, and real callbacks still answer.

The requests run in a subprocess with the dashboard mounted (Dash allows one app per process):
``python -m tests.test_dashboard_junk DATABASE_URL`` prints what each request got.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

SUITES = "/dashboard/_dash-component-suites/"
CALLBACK = "/dashboard/_dash-update-component"
REAL_FILE = SUITES + "dash/deps/polyfill@7.12.1.min.js"
MISSING_FILES = {
    "unknown library": SUITES + "nope/x.js",
    "known library, unknown file": SUITES + "dash/nope.js",
    "known library, unknown fingerprinted file": SUITES + "dash/dcc/nope.v3_0_0m123.js",
    "known library, folder": SUITES + "dash/deps",
    "path escape": SUITES + "dash/../../../etc/passwd",
}

# Two callbacks as the renderer calls them: the portfolio's refresh (plain ids, one output) and the
# operations page's "Run now" (a pattern-matching ALL input, a state and two outputs).
PORTFOLIO = {
    "output": "portfolio-body.children",
    "outputs": {"id": "portfolio-body", "property": "children"},
    "inputs": [{"id": "portfolio-refresh", "property": "n_clicks", "value": None}],
    "changedPropIds": [],
    "state": [],
}
RUN_NOW = {
    "output": "..ops-message.children...ops-version.data..",
    "outputs": [{"id": "ops-message", "property": "children"}, {"id": "ops-version", "property": "data"}],
    "inputs": [[{"id": {"job": "refresh-kpis", "type": "ops-run"}, "property": "n_clicks", "value": 1}]],
    "changedPropIds": ['{"job":"refresh-kpis","type":"ops-run"}.n_clicks'],
    "state": [{"id": "ops-version", "property": "data", "value": 0}],
}
# Raw bodies: (data, content type) -> the field the 400 names.
RAW = {
    "not JSON": ("output=portfolio-body.children", "application/json", "body"),
    "plain text": (json.dumps(PORTFOLIO), "text/plain", "body"),
    "empty": ("", "application/json", "body"),
    "JSON array": ("[1, 2]", "application/json", "body"),
    "JSON string": ('"portfolio-body.children"', "application/json", "body"),
    "nested beyond the parser": ("[" * 100_000 + "]" * 100_000, "application/json", "body"),
}
# Parsed bodies -> the field the 400 names.
MALFORMED = {
    "no output": ({k: v for k, v in PORTFOLIO.items() if k != "output"}, "output"),
    "output a number": ({**PORTFOLIO, "output": 5}, "output"),
    "output a list": ({**PORTFOLIO, "output": ["portfolio-body.children"]}, "output"),
    "unknown output": ({**PORTFOLIO, "output": "nope.children"}, "output"),
    "inputs a string": ({**PORTFOLIO, "inputs": "portfolio-refresh"}, "inputs"),
    "inputs missing": ({k: v for k, v in PORTFOLIO.items() if k != "inputs"}, "inputs"),
    "too many inputs": ({**PORTFOLIO, "inputs": PORTFOLIO["inputs"] * 2}, "inputs"),
    "an input of another callback": (
        {**PORTFOLIO, "inputs": [{"id": "ops-refresh", "property": "n_clicks", "value": 1}]}, "inputs[0]"),
    "an input's property wrong": (
        {**PORTFOLIO, "inputs": [{"id": "portfolio-refresh", "property": "value", "value": 1}]}, "inputs[0]"),
    "an input a number": ({**PORTFOLIO, "inputs": [7]}, "inputs[0]"),
    "an input's id a list": (
        {**PORTFOLIO, "inputs": [{"id": ["portfolio-refresh"], "property": "n_clicks"}]}, "inputs[0]"),
    "outputs missing": ({k: v for k, v in PORTFOLIO.items() if k != "outputs"}, "outputs"),
    "outputs of another callback": (
        {**PORTFOLIO, "outputs": {"id": "ops-body", "property": "children"}}, "outputs"),
    "state where none is declared": (
        {**PORTFOLIO, "state": [{"id": "x", "property": "y", "value": 1}]}, "state"),
    "changedPropIds a string": (
        {**PORTFOLIO, "changedPropIds": "portfolio-refresh.n_clicks"}, "changedPropIds"),
    "pattern input not a list": ({**RUN_NOW, "inputs": [RUN_NOW["inputs"][0][0]]}, "inputs[0]"),
    "pattern id of another type": (
        {**RUN_NOW, "inputs": [[{"id": {"job": "x", "type": "fb-triage"}, "property": "n_clicks"}]]},
        "inputs[0]"),
    "pattern id with an object value": (
        {**RUN_NOW, "inputs": [[{"id": {"job": {"$ne": 1}, "type": "ops-run"}, "property": "n_clicks"}]]},
        "inputs[0]"),
    "pattern id missing a key": (
        {**RUN_NOW, "inputs": [[{"id": {"type": "ops-run"}, "property": "n_clicks"}]]}, "inputs[0]"),
    "one output instead of two": ({**RUN_NOW, "outputs": RUN_NOW["outputs"][0]}, "outputs"),
    "the second output wrong": (
        {**RUN_NOW, "outputs": [RUN_NOW["outputs"][0], {"id": "ops-body", "property": "data"}]},
        "outputs[1]"),
}
JUNK_VALUES = [None, 0, 1, "x", "", [], {}, [[]], {"id": {}}, True]


def mutations(body, path=()):
    """Every way of breaking ``body``'s structure one place at a time: each key dropped and each
    value replaced by junk. The components' ``value`` fields are left alone (they are the callback's
    input, not the request's structure), and so are the scalars of pattern ids."""
    if isinstance(body, dict):
        items = list(body.items())
    elif isinstance(body, list):
        items = list(enumerate(body))
    else:
        return
    for key, value in items:
        if key == "value":
            continue
        if isinstance(body, dict):
            dropped = copy.deepcopy(body)
            del dropped[key]
            yield (*path, key, "dropped"), dropped
        for junk in JUNK_VALUES:
            # A pattern id's values (which job's button) come from the layout, like the components'
            # values: another scalar there is a request for another button, not a broken request.
            if path and path[-1] == "id" and not isinstance(junk, list | dict):
                continue
            if junk != value:
                changed = copy.deepcopy(body)
                changed[key] = junk
                yield (*path, key, repr(junk)), changed
        for where, inner in mutations(value, (*path, key)):
            whole = copy.deepcopy(body)
            whole[key] = inner
            yield where, whole


def _probe_results(database_url: str) -> dict:
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-m", "tests.test_dashboard_junk", database_url], cwd=root,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def probe(tmp_path_factory, template_database):
    from tests.conftest import USING_POSTGRES, create_pg_database, drop_pg_database

    if USING_POSTGRES:
        name = f"liftoff_junk_{uuid.uuid4().hex[:12]}"  # xdist workers may run this side by side
        url = create_pg_database(name, template=template_database)
        try:
            yield _probe_results(url)
        finally:
            drop_pg_database(name)
    else:
        path = tmp_path_factory.mktemp("junk") / "junk.db"
        path.write_bytes(Path(template_database).read_bytes())
        yield _probe_results(f"sqlite:///{path}")


def test_unknown_component_suite_files_are_404_as_plain_text(probe):
    for label, (status, content_type, body) in probe["files"].items():
        assert status == 404, (label, status, body)
        assert content_type.startswith("text/plain") and body == "Not found.\n", label
    assert probe["real file"][0] == 200


def test_unreadable_and_malformed_callback_bodies_are_400_naming_the_field(probe):
    expected = {label: field for label, (_, _, field) in RAW.items()}
    expected |= {label: field for label, (_, field) in MALFORMED.items()}
    assert set(probe["callbacks"]) == set(expected)
    for label, (status, answer) in probe["callbacks"].items():
        assert status == 400, (label, status, answer)
        assert answer["error"] == "malformed dashboard callback request", label
        assert [d["field"] for d in answer["details"]] == [expected[label]], (label, answer)


def test_no_structural_mutation_of_a_real_callback_gets_a_server_error(probe):
    answers = probe["mutations"]
    assert len(answers) > 300  # every key of both bodies, dropped and replaced
    assert {status for _, status, _ in answers} <= {200, 204, 400}, [
        a for a in answers if a[1] not in (200, 204, 400)][:5]
    assert not [a for a in answers if re.search(r"Traceback|KeyError|TypeError", a[2])]
    # Most of them break the request; a few leave it valid (an empty changedPropIds, say).
    assert sum(status == 400 for _, status, _ in answers) > 0.8 * len(answers)


def test_real_callbacks_still_answer(probe):
    status, answer = probe["portfolio"]
    assert status == 200 and "portfolio-body" in answer["response"]
    status, answer = probe["run now"]
    assert status == 200 and "refresh-kpis: success" in json.dumps(answer["response"]["ops-message"])


def test_the_login_and_csrf_checks_still_come_first(probe):
    anonymous = probe["anonymous"]
    assert anonymous["file"] == [401, {"error": "authentication required", "details": []}]
    assert anonymous["callback"] == [401, {"error": "authentication required", "details": []}]
    assert anonymous["page"] == [302, "/login?next=/dashboard/operations"]
    status, text = probe["no csrf"]
    assert status == 400 and "CSRF" in text  # Flask-WTF's refusal, before the body is looked at
    assert probe["server errors"] == 0


def test_every_callback_called_as_the_renderer_calls_it_passes_the_check(probe):
    # Built from /_dash-dependencies, as the renderer builds its requests (outputs that several
    # callbacks set come as "property@hash"); components that a pattern matches: none yet.
    assert len(probe["renderer"]) >= 25
    assert [output for output, refused in probe["renderer"].items() if refused] == []


def renderer_request(spec: dict) -> dict:
    """The request Dash's renderer sends for the callback ``spec`` of /_dash-dependencies, every
    value still unset."""

    def dependency(item: dict, value=None):
        ident = item["id"]
        if ident.startswith("{"):  # a pattern: the renderer sends the matching components, a list
            return [] if '["ALL"]' in ident or '["ALLSMALLER"]' in ident else {
                "id": json.loads(ident), "property": item["property"], "value": value}
        return {"id": ident, "property": item["property"], "value": value}

    output = spec["output"]
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    outputs = []
    for part in parts:
        ident, _, prop = part.rpartition(".")
        outputs.append(dependency({"id": ident, "property": prop}))
        if isinstance(outputs[-1], dict):
            del outputs[-1]["value"]
    return {
        "output": output,
        "outputs": [] if spec.get("no_output") else outputs if output.startswith("..") else outputs[0],
        "inputs": [dependency(item) for item in spec["inputs"]],
        "state": [dependency(item) for item in spec["state"]],
        "changedPropIds": [],
    }


# --- the probe, run in a subprocess: python -m tests.test_dashboard_junk DATABASE_URL ----------------

PASSWORD = "junk password 1"


def _probe(database_url: str) -> dict:
    from app import create_app
    from app.db import db
    from app.services.access import create_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "junk", "SKIP_DASH": False})
    with app.app_context():
        create_user("admin@junk.test", "admin", PASSWORD)
        db.session.commit()
    statuses = []

    def csrf_of(client) -> str:
        page = client.get("/login").get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def post(client, headers, **kwargs):
        response = client.post(CALLBACK, headers=headers, **kwargs)
        statuses.append(response.status_code)
        return response

    def answer(response):
        return response.get_json(silent=True) or response.get_data(as_text=True)

    anonymous = app.test_client()
    anonymous_headers = {"X-CSRFToken": csrf_of(anonymous)}
    user = app.test_client()
    login = user.post("/login", data={"email": "admin@junk.test", "password": PASSWORD,
                                      "csrf_token": csrf_of(user)})
    assert login.status_code == 302, login.status_code
    headers = {"X-CSRFToken": csrf_of(user)}
    user.get("/dashboard/")  # Dash registers its callbacks and component files on the first request

    files = {}
    for label, path in MISSING_FILES.items():
        response = user.get(path)
        statuses.append(response.status_code)
        files[label] = [response.status_code, response.content_type, response.get_data(as_text=True)]
    real = user.get(REAL_FILE)
    callbacks = {}
    for label, (data, content_type, _) in RAW.items():
        response = post(user, headers, data=data, content_type=content_type)
        callbacks[label] = [response.status_code, answer(response)]
    for label, (body, _) in MALFORMED.items():
        response = post(user, headers, json=body)
        callbacks[label] = [response.status_code, answer(response)]
    mutated = []
    for body in (PORTFOLIO, RUN_NOW):
        for where, broken in mutations(body):
            if broken.get("output") == RUN_NOW["output"] and broken.get("inputs") == RUN_NOW["inputs"]:
                broken["inputs"][0][0]["value"] = 0  # a valid variant would run the job each time
            response = post(user, headers, json=broken)
            where = " / ".join(map(str, where))
            mutated.append([where, response.status_code, response.get_data(as_text=True)])
    renderer = {}
    for spec in user.get("/dashboard/_dash-dependencies").get_json():
        response = user.post(CALLBACK, headers=headers, json=renderer_request(spec))
        error = (response.get_json(silent=True) or {}).get("error")
        renderer[spec["output"]] = error == "malformed dashboard callback request"
    portfolio = post(user, headers, json=PORTFOLIO)
    run_now = post(user, headers, json=RUN_NOW)
    no_csrf = post(user, {}, json={"output": 5})
    anonymous_file = anonymous.get(MISSING_FILES["unknown library"])
    anonymous_callback = post(anonymous, anonymous_headers, json={"output": 5})
    anonymous_page = anonymous.get("/dashboard/operations")
    return {
        "files": files, "real file": [real.status_code], "callbacks": callbacks, "mutations": mutated,
        "renderer": renderer,
        "portfolio": [portfolio.status_code, answer(portfolio)],
        "run now": [run_now.status_code, answer(run_now)],
        "no csrf": [no_csrf.status_code, no_csrf.get_data(as_text=True)],
        "anonymous": {
            "file": [anonymous_file.status_code, answer(anonymous_file)],
            "callback": [anonymous_callback.status_code, answer(anonymous_callback)],
            "page": [anonymous_page.status_code, anonymous_page.headers.get("Location")],
        },
        "server errors": sum(status >= 500 for status in statuses),
    }


if __name__ == "__main__":
    print(json.dumps(_probe(sys.argv[1])))
