"""Junk sent to Dash's own routes: 404 for component-suite files Dash does not serve, 400 for
callback bodies that fit no registered callback and for values their components never hold, never a
500 or a stack trace; still behind the login and CSRF checks, and real callbacks still answer (a
bug in one still answers 500).

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

from tests.callback_values import (
    FEATURE,
    NAMED,
    SEMANTIC,
    dependency_keys,
    good_request,
    renderer_request,
    server_callbacks,
    value_substitutions,
)

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
    # The callbacks that run in the browser are never posted by the renderer; posted, they are refused.
    # (the nav's active link and its menu, and the stage form's "Add a stage" on both its pages)
    assert len(probe["clientside"]) == 4
    for output, (status, answer) in probe["clientside"].items():
        assert status == 400 and answer["details"] == [
            {"field": "output", "message": "this callback runs in the browser, not on the server"}], output


def test_every_input_and_state_of_every_server_callback_declares_what_it_holds(probe):
    assert probe["undeclared"] == []


def test_every_callback_called_with_the_pages_values_answers(probe):
    good = probe["values"]["good"]
    assert len(good) >= 25
    # 204: Dash's answer when every output is no_update (a dialog's "cancel" that was not clicked).
    assert {output: status for output, (status, _) in good.items() if status not in (200, 204)} == {}
    assert sum(status == 200 for status, _ in good.values()) >= len(good) - 2


def test_junk_values_of_every_callback_get_a_400_naming_the_component_never_a_500(probe):
    answers = probe["values"]["junk"]
    assert len(answers) > 500  # every value of every callback, and every wildcard of a pattern id
    assert [a for a in answers if a["status"] >= 500] == []
    assert [a for a in answers if a["traceback"]] == []
    refused = [a for a in answers if a["status"] == 400]
    # A null in a pattern id is no scalar: that request is malformed, as for any component's id.
    malformed_ids = [a for a in refused if a["what"] != "value" and a["junk"] == "None"]
    assert {a["error"] for a in malformed_ids} == {"malformed dashboard callback request"}
    refused = [a for a in refused if a not in malformed_ids]
    assert {a["error"] for a in refused} == {"unexpected value in a dashboard callback request"}
    # The 400 names the component (and a key inside a store's data after it).
    assert [a for a in refused if not a["field"].startswith(a["component"])] == []
    # What a component may hold passes: None for a button not clicked yet, a text for a text field.
    assert {a["status"] for a in answers if a["junk"] == "None" and a["component"].endswith(".n_clicks")} \
        <= {200, 204}
    # Numbers that are no click count, lists and objects where the page keeps none: refused, but
    # for a rating or a training's minutes (the form names one out of range), a checklist (empty
    # when nothing is ticked) and a people picker (empty when nobody is chosen).
    passed = {(a["component"], a["junk"]) for a in answers
              if a["junk"] in ("1.5", "-1", "[]", "{}") and a["status"] != 400}
    # The rollout authoring forms: number inputs hold any number (the service names one out of
    # range under its field) and multi-pickers an empty list when nothing is picked (10 rows:
    # dashboards/rollout/stage_form.SLOTS).
    forms = [(form, slot) for form in ("new", "correct") for slot in range(10)]
    numbers = [f"{form}-stage-percentage-{slot}.value" for form, slot in forms] + [
        f"new-{field}.value" for field in ("baseline_days", "estimated_minutes_saved", "per_event_cost_eur")]
    pickers = [f"{form}-stage-cohorts-{slot}.value" for form, slot in forms] + [
        f"portfolio-{name}.value" for name in ("stage", "status", "gate")]
    authoring = {(n, junk) for n in numbers for junk in ("1.5", "-1")} | {(p, "[]") for p in pickers}
    people_pickers = {(f'{{"picker":"{p}","type":"pp-choice"}}.value', "[]")
               for p in ("attendance", "cohort", "feedback", "match", "training")}
    assert passed == {("feedback-rating.value", "-1"), ("exec-subscribe.value", "[]"),
                      ("promote-override.value", "[]"), ("rollout-override.value", "[]"),
                      ("variants-override.value", "[]"),
                      ("training-duration.value", "-1"), ("attendance-completed.value", "[]"),
                      # the variants form's recorded weights: {} for a feature without variants
                      ("variants-define-current.data", "{}"),
                      *people_pickers} | authoring


def test_a_store_missing_a_key_or_with_a_bad_month_is_named_in_the_400(probe):
    for label, field in {"store without month": "adoption-query.data",
                         "month 2026-13": "adoption-query.data.month",
                         "month 0000-01": "exec-month.data",
                         "feature a list": "quality-query.data.feature",
                         "triage id a text": '{"id":"x","to":"triaged","type":"fb-triage"}.n_clicks',
                         "version a float": "rollout-version.data",
                         "pathname outside the dashboard": "_pages_location.pathname"}.items():
        status, answer = probe["values"]["named"][label]
        assert status == 400, (label, answer)
        assert answer["error"] == "unexpected value in a dashboard callback request", label
        assert [d["field"] for d in answer["details"]] == [field], (label, answer)


def test_well_typed_values_that_mean_nothing_get_the_pages_alert_or_empty_state(probe):
    semantic = probe["values"]["semantic"]
    expected = {
        "unknown feature": "no feature 'no-such-feature'",
        "a month without data": "Nobody was exposed to quote-assistant in 1999-01",
        "unknown grouping": "invalid query",
        "the first month allowed": "1900-01",
        "the last month allowed": "No AI tasks of quote-assistant in 2999-12",
        "a deleted action item": "no action item 99999",
        "a deleted feedback item": "no feedback 99999",
        "an unknown job": "no-such-job",
        "a feature deleted since": "gone-feature",
        "an unknown page": "404",
        "a query parameter given twice": "There is no feature “a”",
        "a month outside the years in the URL": FEATURE,
    }
    assert set(semantic) == set(expected)
    for label, text in expected.items():
        status, body = semantic[label]
        assert status == 200 and text in body, (label, status, body[:500])
    assert "0000-01" not in semantic["a month outside the years in the URL"][1]


def test_a_bug_in_a_callback_still_answers_500_and_only_junk_values_answer_400(probe):
    boom = probe["boom"]
    status, text = boom["bug"]
    assert status == 500 and "Traceback" not in text and "a bug in a callback" not in text
    status, answer = boom["junk"]
    assert status == 400 and answer["details"][0]["field"] == "junk-boom.n_clicks"
    status, text = boom["undeclared"]  # a component no page declared: a bug too, not the user's fault
    assert status == 500 and "Traceback" not in text


# --- the probe, run in a subprocess: python -m tests.test_dashboard_junk DATABASE_URL ----------------

PASSWORD = "junk password 1"


def _probe(database_url: str) -> dict:
    from app import create_app
    from app.db import db
    from app.services.accounts.access import create_user
    from tests.dashboard_support import seed_company

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "junk", "SKIP_DASH": False})
    with app.app_context():
        create_user("admin@junk.test", "admin", PASSWORD)
        seed_company(with_users=False)  # features, people and rollouts for the callbacks to read
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
    renderer, clientside = {}, {}
    dependencies = user.get("/dashboard/_dash-dependencies").get_json()
    for spec in dependencies:
        response = user.post(CALLBACK, headers=headers, json=renderer_request(spec))
        if spec.get("clientside_function"):
            clientside[spec["output"]] = [response.status_code, answer(response)]
            continue
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
        "renderer": renderer, "clientside": clientside,
        "undeclared": _undeclared(dependencies),
        "values": _value_probe(dependencies, lambda body: post(user, headers, json=body)),
        "boom": _boom_probe(user, headers),
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


def _undeclared(dependencies: list[dict]) -> list[str]:
    from dashboards.shell.callback_inputs import declared

    return sorted({key for spec in server_callbacks(dependencies) for key in dependency_keys(spec)
                   if not declared(key)})


def _value_probe(dependencies: list[dict], post) -> dict:
    """Every server callback with the pages' values, then with junk in one place at a time."""
    servers = server_callbacks(dependencies)
    good, junk = {}, []
    for spec in servers:
        body = good_request(spec)
        response = post(body)
        good[spec["output"]] = [response.status_code, response.get_data(as_text=True)[:300]]
        for component, what, value, broken in value_substitutions(body):
            response = post(broken)
            text = response.get_data(as_text=True)
            error = response.get_json(silent=True) if response.status_code == 400 else None
            junk.append({"output": spec["output"], "component": component, "what": what,
                         "junk": repr(value)[:20], "status": response.status_code,
                         "traceback": "Traceback" in text, "error": (error or {}).get("error"),
                         "field": ((error or {}).get("details") or [{}])[0].get("field")})

    def called(values: dict):
        first = next(key for key in values)
        return post(good_request(next(s for s in servers if dependency_keys(s)[0] == first), values))

    semantic = {}
    for label, values in SEMANTIC.items():
        response = called(values)
        answer = response.get_json(silent=True)  # the text unescaped: “ is \u201c in the JSON
        text = json.dumps(answer, ensure_ascii=False) if answer else response.get_data(as_text=True)
        semantic[label] = [response.status_code, text]
    named = {}
    for label, (key, value) in NAMED.items():
        response = called({key: value})
        named[label] = [response.status_code, response.get_json(silent=True)]
    return {"good": good, "junk": junk, "semantic": semantic, "named": named}


def _boom_probe(user, headers) -> dict:
    """Throwaway callbacks, registered in this probe's process only: one with a bug, one reading a
    component no page declared."""
    from dash import Input, Output

    from dashboards import _mounted
    from dashboards.shell.callback_inputs import N_CLICKS, accepts

    dash_app = _mounted["dash"]
    accepts("junk-boom", "n_clicks", N_CLICKS)

    @dash_app.callback(Output("junk-boom-out", "children"), Input("junk-boom", "n_clicks"))
    def boom(_clicks):
        raise RuntimeError("a bug in a callback")

    @dash_app.callback(Output("junk-undeclared-out", "children"), Input("junk-undeclared", "value"))
    def undeclared(value):
        return value

    def request(name: str, prop: str, value) -> dict:
        return {"output": f"{name}-out.children", "outputs": {"id": f"{name}-out", "property": "children"},
                "inputs": [{"id": name, "property": prop, "value": value}],
                "changedPropIds": [f"{name}.{prop}"], "state": []}

    bug = user.post(CALLBACK, headers=headers, json=request("junk-boom", "n_clicks", 1))
    junk = user.post(CALLBACK, headers=headers, json=request("junk-boom", "n_clicks", 1.5))
    unknown = user.post(CALLBACK, headers=headers, json=request("junk-undeclared", "value", "x"))
    return {"bug": [bug.status_code, bug.get_data(as_text=True)],
            "junk": [junk.status_code, junk.get_json(silent=True)],
            "undeclared": [unknown.status_code, unknown.get_data(as_text=True)]}


if __name__ == "__main__":
    print(json.dumps(_probe(sys.argv[1])))
