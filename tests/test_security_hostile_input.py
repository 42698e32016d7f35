"""Every input path answers 4xx, never 500 (issue 14.4): each finding of the attack report,
reproduced by hand on SQLite and PostgreSQL, plus the bounds on batches and SDK reports and the
binding of ingest tokens to their own source."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from app.db import db
from app.flags import clients
from app.models import (
    Cohort,
    Event,
    Feedback,
    FlagMetric,
    Person,
    RejectedFetch,
    SdkInstance,
    TrainingSession,
)
from app.services.accounts.access import create_token
from app.services.rollout import transitions as rollout
from tests.enablement_builders import live_feature
from tests.helpers import gen_cohort, gen_person

YEAR_ONE = "0001-01-01T00:00:00+14:00"  # converting it to UTC overflows Python's datetime


@pytest.fixture
def world(app):
    people = [gen_person(f"u{i}") for i in range(3)]
    gen_cohort("pilot", people[:2])
    rollout.create_feature({"key": "assist", "name": "Assist", "stages": [
        {"name": "pilot", "cohorts": ["pilot"]}, {"name": "all", "percentage": 100}]}, "test")
    db.session.commit()
    return people


def _event(event_id: str = "e1", **extra) -> dict:
    return {"event_id": event_id, "feature": "assist", "person_id": "u0",
            "occurred_at": "2026-10-01T10:00:00Z", "ai_assisted": True, "outcome": "success", **extra}


def _metrics(toggles: dict, start: str = "2026-11-01T10:15:00Z", app_name: str = "crm") -> dict:
    return {"appName": app_name, "instanceId": "i-1",
            "bucket": {"start": start, "stop": "2026-11-01T10:16:00Z", "toggles": toggles}}


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _fields(response) -> list[tuple]:
    return [(d.get("index"), d["field"]) for d in response.get_json()["details"]]


def _write_routes(app) -> list[tuple[str, str]]:
    """Every /api/v1 route that takes a body, with its path parameters filled in."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<[^>]+>", "assist", re.sub(r"<int:[^>]+>", "1", rule.rule))
            routes += [(method, path) for method in sorted(rule.methods & {"POST", "PUT", "PATCH"})]
    return routes


@pytest.mark.parametrize("depth", [100, 50_000])
def test_deeply_nested_json_is_a_4xx_on_every_write_route(world, app, client, admin_headers,
                                                          ingest_headers, depth):
    routes = _write_routes(app)
    assert len(routes) >= 20
    body = "[" * depth + "]" * depth
    for method, path in routes:
        # Without credentials the body is never parsed: 401 (it was a RecursionError, a 500).
        response = client.open(path, method=method, data=body, content_type="application/json")
        assert response.status_code == 401, (method, path, response.get_data(as_text=True)[:200])
        # With any token it is refused before the permission check and the view: 400.
        for headers in (admin_headers, ingest_headers):
            response = client.open(path, method=method, data=body, content_type="application/json",
                                   headers=headers)
            assert response.status_code == 400, (method, path, response.get_data(as_text=True)[:200])
            assert "nested" in response.get_json()["error"]


def test_deeply_nested_json_to_the_client_api_is_a_400(world, client, client_token):
    for path in ("/api/client/register", "/api/client/metrics"):
        for depth in (100, 50_000):
            body = '{"a":' * depth + "1" + "}" * depth
            response = client.post(path, data=body, content_type="application/json",
                                   headers={"Authorization": client_token})
            assert response.status_code == 400 and "nested" in response.get_json()["error"]
        # Without a token nothing is parsed: 401.
        assert client.post(path, data="[" * 50_000, content_type="application/json").status_code == 401


def test_a_timestamp_that_overflows_utc_is_a_422_everywhere(world, client, admin_headers, client_token):
    response = client.post("/api/v1/events", json=[_event(occurred_at=YEAR_ONE)], headers=admin_headers)
    assert response.status_code == 422 and _fields(response) == [(0, "occurred_at")]
    baseline = {"feature": "assist", "minutes_per_task": 5, "source": "study", "measured_at": YEAR_ONE}
    response = client.post("/api/v1/baselines", json=baseline, headers=admin_headers)
    assert response.status_code == 422 and _fields(response) == [(None, "measured_at")]
    response = client.post("/api/client/metrics", json=_metrics({"assist": {"yes": 1, "no": 0}}, YEAR_ONE),
                           headers={"Authorization": client_token})
    assert response.status_code == 422 and _fields(response) == [(None, "bucket.start")]
    response = client.post("/api/v1/features/assist/advance", json={"effective_at": YEAR_ONE},
                           headers=admin_headers)
    assert response.status_code == 422 and _fields(response) == [(None, "effective_at")]
    for query in ("start=0001-01-01&end=0001-01-02", "end=0001-01-01", "start=9999-12-30&end=9999-12-31"):
        response = client.get(f"/api/v1/features/assist/kpis?{query}", headers=admin_headers)
        assert response.status_code == 422, query
    assert _count(Event) == 0 and _count(FlagMetric) == 0


def test_a_lone_surrogate_in_any_text_is_a_422_naming_the_field(world, client, admin_headers):
    body = ('[{"event_id": "s", "feature": "assist", "person_id": "u0",'
            ' "occurred_at": "2026-10-01T10:00:00Z", "ai_assisted": true, "outcome": "success",'
            ' "task": "draft\\ud800"}]')
    response = client.post("/api/v1/events", data=body, content_type="application/json",
                           headers=admin_headers)
    assert response.status_code == 422 and _fields(response) == [(0, "task")]
    assert "surrogate" in response.get_json()["details"][0]["message"]
    body = '{"name": "Pilot \\udfff", "members": ["u0"]}'
    response = client.put("/api/v1/cohorts/pilot", data=body, content_type="application/json",
                          headers=admin_headers)
    assert response.status_code == 422 and _fields(response) == [(None, "name")]
    body = '[{"feature": "assist", "person_id": "u0", "rating": 3, "occurred_at": "2026-10-01T10:00:00Z",' \
           ' "comment": "ok", "\\ud83d": 1}]'
    response = client.post("/api/v1/feedback", data=body, content_type="application/json",
                           headers=admin_headers)
    assert response.status_code == 422 and _fields(response) == [(0, "(key)")]
    assert _count(Event) == 0 and _count(Feedback) == 0
    assert db.session.scalar(select(Cohort.name).where(Cohort.key == "pilot")) != "Pilot \udfff"


@pytest.mark.parametrize("field", ["feature", "person_id", "rating", "comment", "category", "occurred_at"])
def test_a_list_where_feedback_wants_a_string_is_a_422(world, client, admin_headers, field):
    row = {"feature": "assist", "person_id": "u0", "rating": 3, "occurred_at": "2026-10-01T10:00:00Z"}
    row[field] = ["u0", "assist"]
    response = client.post("/api/v1/feedback", json=[row], headers=admin_headers)
    assert response.status_code == 422 and (0, field) in _fields(response)
    assert _count(Feedback) == 0


@pytest.mark.parametrize("yes", [10**20, 1e20, 2**31, -1, "7"])
def test_a_count_out_of_range_in_client_metrics_is_a_422(world, client, client_token, yes):
    response = client.post("/api/client/metrics", json=_metrics({"assist": {"yes": yes, "no": 0}}),
                           headers={"Authorization": client_token})
    assert response.status_code == 422 and _fields(response) == [(None, "bucket.toggles.assist.yes")]
    assert _count(FlagMetric) == 0


def test_the_largest_counts_add_up_and_later_reports_still_work(world, client, client_token):
    largest = 2**31 - 1
    auth = {"Authorization": client_token}
    for second, yes in ((1, largest), (2, largest), (3, 5)):  # three reports of the same hour
        body = _metrics({"assist": {"yes": yes, "no": 1}}, f"2026-11-01T10:15:0{second}Z")
        assert client.post("/api/client/metrics", json=body, headers=auth).status_code == 202
    metric = db.session.scalar(select(FlagMetric))
    assert (metric.yes, metric.no) == (2 * largest + 5, 3)  # 4,294,967,299: past a 32-bit INTEGER
    # Even the BIGINT holds at its largest value instead of overflowing.
    db.session.execute(update(FlagMetric).values(yes=2**63 - 10))
    db.session.commit()
    body = _metrics({"assist": {"yes": 100, "no": 0}}, "2026-11-01T10:15:04Z")
    assert client.post("/api/client/metrics", json=body, headers=auth).status_code == 202
    db.session.expire_all()
    assert db.session.scalar(select(FlagMetric.yes)) == 2**63 - 1


def test_values_that_overflow_a_column_are_refused_naming_the_field(app, client, admin_headers):
    feature, _members, _ = live_feature(people=2)
    db.session.commit()
    training = {"stage": 1, "title": "T" * 201, "trainer": "Ana", "held_on": "2026-11-01",
                "duration_minutes": 2**40}
    response = client.post(f"/api/v1/features/{feature.key}/trainings", json=training, headers=admin_headers)
    assert response.status_code == 422
    assert {f for _, f in _fields(response)} == {"title", "duration_minutes"}
    training.update(title="T" * 200, duration_minutes=90, held_on="0001-01-01")
    response = client.post(f"/api/v1/features/{feature.key}/trainings", json=training, headers=admin_headers)
    assert response.status_code == 422 and _fields(response) == [(None, "held_on")]
    assert _count(TrainingSession) == 0
    training["held_on"] = "2026-11-01"
    response = client.post(f"/api/v1/features/{feature.key}/trainings", json=training, headers=admin_headers)
    assert response.status_code == 201  # exactly at the column's width


@pytest.mark.parametrize(
    "method, path, body, field",
    [
        ("POST", "/api/v1/feedback", [{"feature": "assist"}] * 10_001, "(body)"),
        ("POST", "/api/v1/people", [{"person_id": "x"}] * 10_001, "(body)"),
        ("PUT", "/api/v1/cohorts/big", {"name": "Big", "members": ["u0"] * 100_001}, "members"),
    ],
)
def test_batches_are_bounded(world, client, admin_headers, method, path, body, field):
    response = client.open(path, method=method, json=body, headers=admin_headers)
    assert response.status_code == 422 and field in [f for _, f in _fields(response)]
    assert _count(Feedback) == 0 and _count(Person) == 3 and _count(Cohort) == 1


def test_a_metrics_report_holds_at_most_a_thousand_toggles(world, client, client_token):
    toggles = {f"t{i}": {"yes": 1, "no": 0} for i in range(1_001)}
    response = client.post("/api/client/metrics", json=_metrics(toggles),
                           headers={"Authorization": client_token})
    assert response.status_code == 422 and _fields(response) == [(None, "bucket.toggles")]
    assert _count(FlagMetric) == 0 and _count(SdkInstance) == 0


def test_only_toggles_served_here_are_counted(world, client, client_token):
    toggles = {"assist": {"yes": 2, "no": 1}, "invented-1": {"yes": 1, "no": 0},
               "invented-2": {"yes": 3, "no": 0}}
    response = client.post("/api/client/metrics", json=_metrics(toggles),
                           headers={"Authorization": client_token})
    assert response.status_code == 202
    assert db.session.execute(select(FlagMetric.feature_key, FlagMetric.yes)).all() == [("assist", 2)]


def test_requests_without_a_valid_token_write_no_row_per_app_name(world, client):
    for i in range(30):
        headers = {"UNLEASH-APPNAME": f"invented-{i}", "Authorization": f"lo_client_x.{i}"}
        assert client.post("/api/client/register", json={"appName": f"invented-{i}", "instanceId": "i"},
                           headers=headers).status_code == 401
        assert client.post("/api/client/metrics", json=_metrics({}, app_name=f"invented-{i}"),
                           headers={"UNLEASH-APPNAME": f"invented-{i}"}).status_code == 401
    rows = {(r.reason, r.app_name): r.count for r in db.session.scalars(select(RejectedFetch))}
    assert rows == {("unknown", ""): 30, ("missing", ""): 30}
    assert _count(SdkInstance) == 0 and _count(FlagMetric) == 0


def test_a_revoked_token_names_at_most_fifty_apps_a_day(world, client, monkeypatch):
    from app.db import utcnow

    token, secret = create_token("client", "production", name="old")
    token.revoked_at = utcnow()
    db.session.commit()
    for i in range(52):
        client.get("/api/client/features", headers={"Authorization": secret, "UNLEASH-APPNAME": f"app-{i}"})
    names = {r.app_name: r.count for r in db.session.scalars(select(RejectedFetch))}
    assert len(names) == 51 and names["(other)"] == 2 and names["app-0"] == 1


def test_one_client_token_names_a_bounded_number_of_apps(world, client, client_token, monkeypatch):
    monkeypatch.setattr(clients, "MAX_APPS_PER_TOKEN", 3)
    auth = {"Authorization": client_token}
    for i in range(3):
        body = {"appName": f"app-{i}", "instanceId": "i-1"}
        assert client.post("/api/client/register", json=body, headers=auth).status_code == 202
    response = client.post("/api/client/register", json={"appName": "app-3", "instanceId": "i-1"},
                           headers=auth)
    assert response.status_code == 422 and _fields(response) == [(None, "appName")]
    report = _metrics({"assist": {"yes": 1, "no": 0}}, app_name="app-4")
    response = client.post("/api/client/metrics", json=report, headers=auth)
    assert response.status_code == 422 and _count(FlagMetric) == 0
    # Known apps keep reporting; another token has its own allowance.
    assert client.post("/api/client/register", json={"appName": "app-0", "instanceId": "i-2"},
                       headers=auth).status_code == 202
    _, other = create_token("client", "production", name="other")
    db.session.commit()
    assert client.post("/api/client/register", json={"appName": "app-3", "instanceId": "i-1"},
                       headers={"Authorization": other}).status_code == 202
    assert _count(SdkInstance) == 5


def test_an_ingest_token_posts_under_its_own_source_only(world, app, client, runner, tmp_path):
    _, secret = create_token("ingest", name="crm-bridge")
    db.session.commit()
    ingest = {"Authorization": f"Bearer {secret}"}
    response = client.post("/api/v1/events", json=[_event("x1"), _event("x2", source="csv")], headers=ingest)
    assert response.status_code == 422 and _fields(response) == [(1, "source")]
    assert "ingest:crm-bridge" in response.get_json()["details"][0]["message"]
    assert client.post("/api/v1/events", json=[_event("x1")], headers=ingest).get_json()["accepted"] == 1
    assert db.session.scalar(select(Event.source)) == "ingest:crm-bridge"
    # The same id in a genuine CSV import is not shadowed: it is another source's event.
    path = tmp_path / "events.csv"
    path.write_text("event_id,feature,person_id,occurred_at,ai_assisted,outcome\n"
                    "x1,assist,u0,2026-10-01T10:00:00Z,true,success\n", encoding="utf-8")
    result = runner.invoke(args=["liftoff", "import", "events", str(path)])
    assert result.exit_code == 0 and "imported 1 events" in result.output
    assert sorted(db.session.scalars(select(Event.source))) == ["csv", "ingest:crm-bridge"]
