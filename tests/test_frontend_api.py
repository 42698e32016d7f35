"""The Unleash frontend API (/api/frontend): frontend tokens, one user's toggles, no roster, CORS."""

from __future__ import annotations

import json
import re

import mmh3
import pytest
from sqlalchemy import func, select

from app.db import db
from app.models import ApiToken, FlagMetric, RejectedFetch, SdkInstance
from app.services.accounts.access import create_token
from app.services.rollout import transitions as rollout
from tests.helpers import gen_cohort, gen_person

KEY = "assist"
DISABLED = {"name": "disabled", "enabled": False}
ON = {"name": KEY, "enabled": True, "variant": DISABLED, "impressionData": False}


def in_ramp(user_id: str, percentage: int, key: str = KEY) -> bool:
    """Unleash's flexibleRollout by definition: murmur3("<groupId>:<userId>", seed 0) % 100 + 1 <= %."""
    return mmh3.hash(f"{key}:{user_id}", 0, signed=False) % 100 + 1 <= percentage


@pytest.fixture
def company(app):
    """20 people; ``assist`` live for the champions u0..u2 plus a 30 % ramp; ``drafts`` off."""
    people = [gen_person(f"u{i}") for i in range(20)]
    gen_cohort("champions", people[:3])
    rollout.create_feature({"key": KEY, "name": "Assist", "stages": [
        {"name": "champions", "cohorts": ["champions"]}, {"name": "ramp", "percentage": 30}]}, "ana")
    rollout.create_feature({"key": "drafts", "name": "Drafts", "stages": [
        {"name": "champions", "cohorts": ["champions"]}]}, "ana")
    rollout.advance(KEY, "ana")
    rollout.advance(KEY, "ana")
    db.session.commit()
    return [p.person_id for p in people]


@pytest.fixture
def frontend_token(app) -> str:
    _, secret = create_token("frontend", "production", name="web app")
    db.session.commit()
    return secret


def _toggles(client, token: str, query: str = "", **headers):
    return client.get(f"/api/frontend{query}", headers={"Authorization": token, **headers})


# -- tokens --------------------------------------------------------------------------------------------


def test_frontend_tokens_belong_to_an_environment(app, runner):
    token, secret = create_token("frontend")
    assert (token.kind, token.environment) == ("frontend", "production")
    assert secret.startswith("lo_frontend_production.")
    db.session.commit()
    result = runner.invoke(args=["liftoff", "tokens", "create", "--kind", "frontend",
                                 "--environment", "development"])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"lo_frontend_development\.[0-9a-f]{64}", last)
    stored = db.session.scalar(select(ApiToken).where(ApiToken.kind == "frontend",
                                                      ApiToken.environment == "development"))
    assert stored is not None and stored.token_hash != last


def test_each_token_reads_only_its_own_api(client, company, frontend_token, client_token, admin_token):
    assert client.get("/api/client/features", headers={"Authorization": frontend_token}).status_code == 403
    assert _toggles(client, client_token, "?userId=u0").status_code == 403
    assert _toggles(client, admin_token, "?userId=u0").status_code == 403
    assert client.get("/api/frontend?userId=u0").status_code == 401
    assert _toggles(client, "lo_frontend_production.nope", "?userId=u0").status_code == 401
    bearer = {"Authorization": f"Bearer {frontend_token}"}
    assert client.get("/api/v1/features", headers=bearer).status_code == 403
    for path in ("/api/frontend/client/metrics", "/api/frontend/client/register"):
        assert client.post(path, json={}, headers={"Authorization": client_token}).status_code == 403
    assert client.post("/api/client/metrics", json={},
                       headers={"Authorization": frontend_token}).status_code == 403
    rows = {(r.reason, r.app_name): r.count for r in db.session.scalars(select(RejectedFetch))}
    # Four frontend refusals of a wrong kind and the client API's two of the frontend token; the
    # /api/v1 refusal is not an SDK's, so not counted.
    assert rows == {("wrong_kind", ""): 6, ("missing", ""): 1, ("unknown", ""): 1}


def test_client_tokens_keep_receiving_segments_with_ids(client, company, client_token):
    """Server-side SDKs evaluate locally: they need the cohorts' segments (ids and members)."""
    payload = json.loads(client.get("/api/client/features", headers={"Authorization": client_token}).data)
    assert [(s["name"], s["constraints"][0]["values"]) for s in payload["segments"]] == [
        ("champions", ["u0", "u1", "u2"])]
    assistant = next(f for f in payload["features"] if f["name"] == KEY)
    assert [s["segments"] for s in assistant["strategies"]] == [[payload["segments"][0]["id"]], []]


def test_an_expired_or_revoked_frontend_token_is_refused(client, company):
    from app.services.accounts.access import revoke_token

    token, secret = create_token("frontend", "production")
    db.session.commit()
    assert _toggles(client, secret, "?userId=u0").status_code == 200
    revoke_token(token.id)
    db.session.commit()
    client.application.extensions["liftoff_token_cache"]._entries.clear()  # skip the 10 s cache
    assert _toggles(client, secret, "?userId=u0").status_code == 401


# -- evaluation ----------------------------------------------------------------------------------------


def test_answers_only_the_users_enabled_toggles(client, company, frontend_token):
    for user in company + ["stranger-1", "stranger-2"]:
        expected = user in ("u0", "u1", "u2") or in_ramp(user, 30)
        answer = _toggles(client, frontend_token, f"?userId={user}")
        assert answer.status_code == 200 and answer.mimetype == "application/json"
        assert json.loads(answer.data) == {"toggles": [ON] if expected else []}, user


def test_no_roster_leaves_through_the_frontend_api(client, company, frontend_token):
    body = _toggles(client, frontend_token, "?userId=u0").get_data(as_text=True)
    # u0 sees its own answer; no other person id, no segment, no strategy, no disabled toggle.
    for absent in ("u1", "u2", "segments", "strategies", "champions", "drafts", "rollout"):
        assert absent not in body


def test_answers_equal_the_python_sdk_for_many_users(app, live_server, company, frontend_token,
                                                     client_token, tmp_path):
    import requests

    from tests.unleash_server import sdk_answers

    users = company + [f"visitor-{i}" for i in range(150)]
    sdk = sdk_answers(f"{live_server.url}/api", client_token, KEY, users, tmp_path / "sdk")
    with requests.Session() as http:
        frontend = {
            user: any(t["name"] == KEY for t in http.get(
                f"{live_server.url}/api/frontend", params={"userId": user},
                headers={"Authorization": frontend_token}, timeout=10).json()["toggles"])
            for user in users
        }
    assert frontend == sdk
    assert frontend == {u: u in ("u0", "u1", "u2") or in_ramp(u, 30) for u in users}
    assert 30 < sum(frontend.values()) < 80  # the ramp really split the visitors


def test_kill_development_and_context_forms(client, company, frontend_token):
    _, dev = create_token("frontend", "development")
    db.session.commit()
    # development: every feature not killed, for everybody, even without a userId.
    names = [t["name"] for t in json.loads(_toggles(client, dev).data)["toggles"]]
    assert names == ["assist", "drafts"]
    # The POST forms: the SDK's {"context": {...}} (its sessionId is a number) or a bare context.
    for body in ({"context": {"userId": "u1", "sessionId": 42, "properties": {"team": "a"}}},
                 {"userId": "u1", "appName": "web"}):
        answer = client.post("/api/frontend", json=body, headers={"Authorization": frontend_token})
        assert answer.status_code == 200 and json.loads(answer.data) == {"toggles": [ON]}
    rollout.kill(KEY, "ana", "incident")
    db.session.commit()
    assert json.loads(_toggles(client, frontend_token, "?userId=u1").data) == {"toggles": []}
    assert json.loads(_toggles(client, dev, "?userId=u1").data)["toggles"][0]["name"] == "drafts"


def test_etag_answers_304_until_the_users_answer_changes(client, company, frontend_token):
    outsider = next(u for u in (f"x{i}" for i in range(1000)) if not in_ramp(u, 30))
    first = _toggles(client, frontend_token, f"?userId={outsider}")
    etag = first.headers["ETag"]
    again = _toggles(client, frontend_token, f"?userId={outsider}", **{"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    # The ETag is the answer's: another user with the same (empty) answer shares it, u0 does not.
    twin = next(u for u in (f"y{i}" for i in range(1000)) if not in_ramp(u, 30))
    assert _toggles(client, frontend_token, f"?userId={twin}").headers["ETag"] == etag
    assert _toggles(client, frontend_token, "?userId=u0").headers["ETag"] != etag
    rollout.advance("drafts", "ana")
    rollout.kill(KEY, "ana", "incident")
    db.session.commit()
    assert _toggles(client, frontend_token, f"?userId={outsider}",
                    **{"If-None-Match": etag}).status_code == 304  # still nothing on for them
    changed = _toggles(client, frontend_token, "?userId=u0", **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert [t["name"] for t in json.loads(changed.data)["toggles"]] == ["drafts"]


@pytest.mark.parametrize(("kwargs", "status", "field"), [
    ({"query_string": {"userId": "x" * 1001}}, 422, "userId"),
    ({"query_string": {"properties[" + "k" * 101 + "]": "v"}}, 422, "properties[" + "k" * 101 + "]"),
    ({"query_string": {f"f{i}": "v" for i in range(51)}}, 422, "context"),
    ({"method": "POST", "json": {"context": {"userId": ["u0"]}}}, 422, "context.userId"),
    ({"method": "POST", "json": {"context": {"userId": True}}}, 422, "context.userId"),
    ({"method": "POST", "json": {"context": "u0"}}, 422, "context"),
    ({"method": "POST", "json": {"context": {"properties": [1]}}}, 422, "context.properties"),
    ({"method": "POST", "json": [1]}, 422, None),
    ({"method": "POST", "data": b"{nope", "content_type": "application/json"}, 400, None),
    # Deep nesting: refused by the parser (400) or, if it parses, as a value of the wrong kind (422).
    *[({"method": "POST", "data": b'{"a":' + b"[" * depth + b"]" * depth + b"}",
        "content_type": "application/json"}, (400, 422), None) for depth in (900, 5000, 30_000)],
    ({"method": "POST", "json": {"userId": "a\x00b"}}, 400, None),
    ({"method": "POST", "data": b'{"userId": "\\ud800"}', "content_type": "application/json"}, 400, None),
    ({"method": "POST", "data": b'{"userId": "' + b"x" * 70_000 + b'"}', "content_type": "application/json"},
     413, None),
])
def test_bad_contexts_are_4xx_naming_the_field(client, company, frontend_token, kwargs, status, field):
    kwargs = {"method": "GET", **kwargs}
    answer = client.open("/api/frontend", headers={"Authorization": frontend_token}, **kwargs)
    assert answer.status_code in (status if isinstance(status, tuple) else (status,)), answer.data
    body = json.loads(answer.data)
    assert set(body) == {"error", "details"}
    if field is not None:
        assert [d["field"] for d in body["details"]] == [field]


# -- metrics and register ------------------------------------------------------------------------------


def _bucket(toggles: dict) -> dict:
    return {"appName": "web", "instanceId": "browser", "impactMetrics": [],
            "bucket": {"start": "2026-11-01T10:15:00.000Z", "stop": "2026-11-01T10:16:00.000Z",
                       "toggles": toggles}}


def test_metrics_count_known_toggles_only_and_are_bounded(client, company, frontend_token):
    auth = {"Authorization": frontend_token}
    sent = _bucket({KEY: {"yes": 3, "no": 1, "variants": {}}, "made-up": {"yes": 9, "no": 9, "variants": {}}})
    assert client.post("/api/frontend/client/metrics", json=sent, headers=auth).status_code == 202
    rows = {(m.feature_key, m.app_name, m.environment): (m.yes, m.no)
            for m in db.session.scalars(select(FlagMetric))}
    assert rows == {(KEY, "web", "production"): (3, 1)}
    flood = _bucket({f"t{i}": {"yes": 1, "no": 0} for i in range(1001)})
    answer = client.post("/api/frontend/client/metrics", json=flood, headers=auth)
    assert answer.status_code == 422 and "1000" in json.loads(answer.data)["error"]
    assert db.session.scalar(select(func.count()).select_from(FlagMetric)) == 1
    bad = _bucket({KEY: {"yes": -1, "no": 0}})
    assert client.post("/api/frontend/client/metrics", json=bad, headers=auth).status_code == 422
    assert client.post("/api/frontend/client/metrics", data=b"x" * 70_000, headers=auth).status_code == 413


def test_register_is_accepted(client, company, frontend_token):
    body = {"appName": "web", "sdkVersion": "unleash-js-sdk:3.8.2", "strategies": ["default"],
            "started": "2026-11-01T10:00:00.000Z", "interval": 30000}
    assert client.post("/api/frontend/client/register", json=body,
                       headers={"Authorization": frontend_token}).status_code == 202
    instance = db.session.scalar(select(SdkInstance))
    assert (instance.app_name, instance.instance_id, instance.environment) == ("web", "browser", "production")
    assert client.post("/api/frontend/client/register", json={"appName": ""},
                       headers={"Authorization": frontend_token}).status_code == 422


# -- CORS ----------------------------------------------------------------------------------------------


def test_cors_only_for_allowed_origins(app, client, company, frontend_token):
    app.config["FRONTEND_ORIGINS"] = "https://app.example.com, https://admin.example.com/"
    allowed = _toggles(client, frontend_token, "?userId=u0", Origin="https://app.example.com")
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert allowed.headers["Access-Control-Expose-Headers"] == "ETag"
    assert "Origin" in allowed.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    other = _toggles(client, frontend_token, "?userId=u0", Origin="https://evil.example")
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    # A refusal is readable by the allowed page too (so the SDK can report it).
    refused = _toggles(client, "nope", Origin="https://admin.example.com")
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == "https://admin.example.com"
    # Never on the client API.
    polled = client.get("/api/client/features", headers={"Origin": "https://app.example.com"})
    assert "Access-Control-Allow-Origin" not in polled.headers


def test_preflight_needs_no_token(app, client):
    app.config["FRONTEND_ORIGINS"] = "https://app.example.com"
    asked = "authorization, content-type, if-none-match, unleash-appname, unleash-sdk, unleash-connection-id"
    for path in ("/api/frontend", "/api/frontend/client/metrics"):
        answer = client.open(path, method="OPTIONS", headers={
            "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": asked})
        assert answer.status_code == 200
        assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert answer.headers["Access-Control-Allow-Headers"] == asked
        assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    odd = client.open("/api/frontend", method="OPTIONS", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Headers": "x-ok, bad header"})
    assert odd.headers["Access-Control-Allow-Headers"].startswith("Authorization, Content-Type")
    foreign = client.open("/api/frontend", method="OPTIONS", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
    app.config["FRONTEND_ORIGINS"] = ""  # the default: no cross-origin caller at all
    closed = client.open("/api/frontend", method="OPTIONS", headers={"Origin": "https://app.example.com"})
    assert "Access-Control-Allow-Origin" not in closed.headers


def test_cors_wildcard(app, client, company, frontend_token):
    app.config["FRONTEND_ORIGINS"] = "*"
    answer = _toggles(client, frontend_token, "?userId=u0", Origin="https://anywhere.example")
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
