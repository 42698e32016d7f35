"""The declarations of what dashboard components hold (dashboards/shell/callback_inputs.py), checked in
this process without a Dash app (one per process: the requests against the real one are in
tests/test_dashboard_junk.py). The ids here start with "unit-", apart from every page's."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from dash import ALL, Output
from flask import Flask

from dashboards.shell.callback_inputs import (
    N_CLICKS,
    RECORD_ID,
    Undeclared,
    accepts,
    calendar_month,
    first_query_values,
    is_month,
    path_under,
    record,
    request_problem,
    text,
    texts,
    whole,
)
from dashboards.shell.dash_requests import bad_request_for_junk

accepts("unit-button", "n_clicks", N_CLICKS)
accepts("unit-query", "data", record(feature=text(10, optional=False), month=calendar_month()))
accepts({"type": "unit-run", "job": ALL}, "n_clicks", N_CLICKS, ids={"job": text(20, optional=False)})
accepts({"type": "unit-owner", "id": ALL}, "value", text(5), ids={"id": RECORD_ID})

BAD_MONTH = "must be a month YYYY-MM from 1900 to 2999"
# Entries of Dash's callback map, as Dash writes them.
QUERY_CALLBACK = {"inputs": [{"id": "unit-query", "property": "data"}],
                  "state": [{"id": "unit-button", "property": "n_clicks"}], "callback": None}
PATTERN_CALLBACK = {"inputs": [{"id": '{"job":["ALL"],"type":"unit-run"}', "property": "n_clicks"}],
                    "state": [{"id": '{"id":["ALL"],"type":"unit-owner"}', "property": "value"},
                              {"id": '{"id":["ALL"],"type":"unit-owner"}', "property": "id"}],
                    "callback": None}


def _query_request(data, clicks=None) -> dict:
    return {"inputs": [{"id": "unit-query", "property": "data", "value": data}],
            "state": [{"id": "unit-button", "property": "n_clicks", "value": clicks}]}


def _pattern_request(job="refresh-kpis", owner="ann", owner_id=None) -> dict:
    ident = {"type": "unit-owner", "id": 7}
    return {"inputs": [[{"id": {"type": "unit-run", "job": job}, "property": "n_clicks", "value": 1}]],
            "state": [[{"id": ident, "property": "value", "value": owner}],
                      [{"id": ident, "property": "id", "value": owner_id or ident}]]}


def test_click_counts_are_whole_numbers_from_zero_or_null():
    assert [N_CLICKS(v) for v in (None, 0, 3)] == [None, None, None]
    for junk in (1.5, -1, "1", True, [], {}):
        assert N_CLICKS(junk) == ("", "must be a whole number >= 0, or null"), junk
    assert whole(1, 5, optional=False)(None) == ("", "must be a whole number from 1 to 5")
    assert whole(1, 5)(6) is not None and whole(1, 5)(5) is None


def test_texts_are_bounded_strings():
    assert text(3)("abc") is None and text(3)(None) is None
    assert text(3)("abcd") == ("", "must be a text of at most 3 characters, or null")
    assert text(3, optional=False)(None) == ("", "must be a text of at most 3 characters")
    assert text(3)(5) is not None and text(3)(["a"]) is not None
    assert texts(5, 2)(["a", "b"]) is None and texts(5, 2)(None) is None and texts(5, 2)([]) is None
    for junk in (["a", "b", "c"], ["toolong"], [1], "a", {}):
        assert texts(5, 2)(junk) is not None, junk


def test_months_are_calendar_months_of_sensible_years():
    for good in ("2026-01", "2026-12", "1900-01", "2999-12"):
        assert is_month(good) and calendar_month()(good) is None, good
    for junk in ("2026-13", "2026-00", "0000-01", "1899-12", "3000-01", "2026-1", "2026-01-01", 202601, None):
        assert not is_month(junk), junk
        assert calendar_month()(junk) == ("", BAD_MONTH), junk
    assert calendar_month(optional=True)(None) is None


def test_a_record_needs_exactly_its_keys_and_names_the_bad_one():
    check = record(feature=text(10, optional=False), month=calendar_month())
    assert check({"feature": "a", "month": "2026-01"}) is None
    assert check({"feature": "a"}) == ("", "must be an object with the keys feature, month")
    assert check({"feature": "a", "month": "2026-01", "more": 1}) is not None
    assert check("a") is not None and check(None) is not None and check([]) is not None
    assert check({"feature": "a", "month": "2026-13"}) == (".month", BAD_MONTH)
    assert check({"feature": {"$ne": 1}, "month": "2026-01"})[0] == ".feature"


def test_a_location_path_stays_under_the_dashboard():
    check = path_under("/dashboard", 30)
    assert check("/dashboard/adoption") is None and check(None) is None and check("/dashboard") is None
    for junk in ("/etc/passwd", "x", "", "/dashboard/" + "x" * 30, 5, ["/dashboard"]):
        assert check(junk) is not None, junk


def test_a_request_is_checked_value_by_value_and_the_field_names_the_component():
    assert request_problem(_query_request({"feature": "a", "month": "2026-01"}, 2), QUERY_CALLBACK) is None
    problem = request_problem(_query_request({"feature": "a", "month": "2026-13"}), QUERY_CALLBACK)
    assert (problem.field, problem.message) == ("unit-query.data.month", BAD_MONTH)
    problem = request_problem(_query_request({"feature": "a", "month": "2026-01"}, 1.5), QUERY_CALLBACK)
    assert problem.field == "unit-button.n_clicks"


def test_pattern_ids_have_their_wildcards_checked_and_an_id_property_holds_its_own_id():
    assert request_problem(_pattern_request(), PATTERN_CALLBACK) is None
    problem = request_problem(_pattern_request(job=5), PATTERN_CALLBACK)
    assert problem.field == '{"job":5,"type":"unit-run"}.n_clicks'
    assert problem.message == "the id's 'job' must be a text of at most 20 characters"
    problem = request_problem(_pattern_request(owner="too long"), PATTERN_CALLBACK)
    assert problem.field == '{"id":7,"type":"unit-owner"}.value'
    problem = request_problem(_pattern_request(owner_id={"type": "unit-owner", "id": 8}), PATTERN_CALLBACK)
    assert problem.field == '{"id":7,"type":"unit-owner"}.id'
    assert problem.message == "must be the component's own id"


def test_a_component_no_page_declared_is_a_bug_not_a_refusal():
    callback = {"inputs": [{"id": "unit-nobody", "property": "value"}], "state": []}
    with pytest.raises(Undeclared, match="unit-nobody.value"):
        request_problem({"inputs": [{"id": "unit-nobody", "property": "value", "value": 1}]}, callback)


def test_a_pattern_must_declare_exactly_its_wildcards():
    with pytest.raises(ValueError, match="wildcard keys"):
        accepts({"type": "unit-bare", "id": ALL}, "n_clicks", N_CLICKS)
    with pytest.raises(ValueError, match="wildcard keys"):
        accepts({"type": "unit-other", "id": ALL}, "n_clicks", N_CLICKS, ids={"job": text(5)})


def test_a_query_parameter_given_twice_reaches_a_layout_once():
    seen = {}

    def layout(feature=None, **query):
        seen.update(feature=feature, **query)
        return "page"

    assert first_query_values(layout)(feature=["a", "b"], month="2026-01") == "page"
    assert seen == {"feature": "a", "month": "2026-01"}


def test_only_a_refused_value_becomes_a_400_and_a_failing_callback_still_answers_500():
    # A stand-in for the Dash app (one per process): the check reads only its callback map, and the
    # view stands in for Dash's dispatch, failing the way a callback with a bug does.
    dash_app = SimpleNamespace(callback_map={"unit-out.children": {
        **QUERY_CALLBACK, "output": Output("unit-out", "children"), "callback": lambda *args: None}})

    def dispatch():
        raise RuntimeError("a bug in a callback")

    app = Flask(__name__)
    app.add_url_rule("/cb", "cb", bad_request_for_junk(dispatch, dash_app), methods=["POST"])
    client = app.test_client()
    body = {"output": "unit-out.children", "outputs": {"id": "unit-out", "property": "children"},
            "changedPropIds": ["unit-query.data"], **_query_request({"feature": "a", "month": "2026-01"})}
    assert client.post("/cb", json=body).status_code == 500
    refused = client.post("/cb", json={**body, **_query_request({"feature": "a", "month": "2026-13"})})
    assert refused.status_code == 400
    assert refused.get_json() == {"error": "unexpected value in a dashboard callback request", "details": [
        {"field": "unit-query.data.month", "message": BAD_MONTH}]}
    named_elsewhere = client.post("/cb", json={**body, "changedPropIds": ["unit-button.n_clicks"]})
    assert named_elsewhere.status_code == 400  # a trigger that is not among the inputs sent
    assert named_elsewhere.get_json()["details"][0]["field"] == "changedPropIds[0]"
