"""The Unleash client API over HTTP: tokens, ETags, the cache, register and metrics."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, event, select, text

from app.db import db
from app.flags import payload_cache
from app.flags.compile import compile_payload
from app.models import FlagMetric, RejectedFetch, SdkInstance
from app.services.accounts.access import create_token
from app.services.rollout import transitions as rollout
from tests.helpers import gen_cohort, gen_person


@pytest.fixture
def flags(app):
    people = [gen_person(f"u{i}") for i in range(20)]
    gen_cohort("champions", people[:3])
    rollout.create_feature({"key": "assist", "name": "Assist", "stages": [
        {"name": "champions", "cohorts": ["champions"]}, {"name": "all", "percentage": 100}]}, "ana")
    db.session.commit()
    return people


def _auth(token: str) -> dict:
    return {"Authorization": token}


def test_polls_need_a_client_token_and_refusals_are_counted(client, flags, admin_token):
    assert client.get("/api/client/features").status_code == 401
    assert client.get("/api/client/features", headers={**_auth("lo_client_x.bad"),
                                                        "UNLEASH-APPNAME": "crm"}).status_code == 401
    assert client.get("/api/client/features", headers=_auth(admin_token)).status_code == 403
    assert client.post("/api/client/metrics", json={}, headers=_auth(admin_token)).status_code == 403
    rows = {(r.reason, r.app_name): r.count for r in db.session.scalars(select(RejectedFetch))}
    # Without a real token the app name is not kept (issue 14: a row per invented name).
    assert rows == {("missing", ""): 1, ("unknown", ""): 1, ("wrong_kind", ""): 2}


def test_etag_is_strong_and_304_answers_unchanged_polls(client, flags, client_token):
    first = client.get("/api/client/features", headers=_auth(client_token))
    assert first.status_code == 200 and first.mimetype == "application/json"
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert json.loads(first.data) == compile_payload("production")
    for header in (etag, f"W/{etag}", f'"other", {etag}'):
        again = client.get("/api/client/features", headers={**_auth(client_token), "If-None-Match": header})
        assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    rollout.advance("assist", "ana")
    db.session.commit()
    changed = client.get("/api/client/features", headers={**_auth(client_token), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert json.loads(changed.data)["features"][0]["enabled"] is True
    # A change that leaves the payload as it was keeps the ETag (it is a hash of the bytes).
    from app.services.rollout import exposure

    exposure.audiences_changed(rollout.utcnow())
    db.session.commit()
    same = client.get("/api/client/features", headers={**_auth(client_token),
                                                       "If-None-Match": changed.headers["ETag"]})
    assert same.status_code == 304


def test_a_token_gets_its_own_environment(client, flags, client_token):
    _, dev_token = create_token("client", "development")
    db.session.commit()
    dev = json.loads(client.get("/api/client/features", headers=_auth(dev_token)).data)
    prod = json.loads(client.get("/api/client/features", headers=_auth(client_token)).data)
    assert dev["features"][0]["enabled"] is True and prod["features"][0]["enabled"] is False
    assert dev["query"]["environment"] == "development"


def test_polls_are_served_without_touching_the_database(app, client, flags, client_token):
    client.get("/api/client/features", headers=_auth(client_token))
    statements = []

    def count(*args, **kwargs):
        statements.append(args[2])

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(50):
            assert client.get("/api/client/features", headers=_auth(client_token)).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []


def test_a_change_by_another_process_is_seen_through_the_revision(app, client, flags, client_token,
                                                                  database_url, monkeypatch):
    before = client.get("/api/client/features", headers=_auth(client_token)).headers["ETag"]
    other = create_engine(database_url)  # another process: no commit hook reaches this one
    with other.begin() as conn:
        conn.execute(text("UPDATE features SET current_stage = 2"))
        conn.execute(text("UPDATE flag_revisions SET revision = revision + 1"))
    other.dispose()
    assert client.get("/api/client/features", headers=_auth(client_token)).headers["ETag"] == before
    monkeypatch.setattr(payload_cache, "REVISION_CHECK_SECONDS", 0.0)  # as if a second had passed
    after = client.get("/api/client/features", headers=_auth(client_token))
    assert after.headers["ETag"] != before
    assert json.loads(after.data)["features"][0]["strategies"][-1]["parameters"]["rollout"] == "100"


REGISTER = {"appName": "crm", "instanceId": "crm-1", "sdkVersion": "unleash-python-sdk:6.9.1",
            "strategies": ["default", "flexibleRollout"], "started": "2026-11-01T10:00:00+00:00",
            "interval": 60}


def test_register_and_metrics_are_stored(client, flags, client_token, admin_headers):
    assert client.post("/api/client/register", json=REGISTER, headers=_auth(client_token)).status_code == 202
    bucket = {"start": "2026-11-01T10:15:00+00:00", "stop": "2026-11-01T10:16:00+00:00",
              "toggles": {"assist": {"yes": 3, "no": 7, "variants": {}}}}
    body = {"appName": "crm", "instanceId": "crm-1", "bucket": bucket}
    later = {**bucket, "start": "2026-11-01T10:16:00+00:00", "stop": "2026-11-01T10:17:00+00:00"}
    for sent in (body, body, {**body, "bucket": later}):  # the second is a retry: counted once
        assert client.post("/api/client/metrics", json=sent, headers=_auth(client_token)).status_code == 202
    metric = db.session.scalar(select(FlagMetric))
    assert (metric.feature_key, metric.environment, metric.yes, metric.no) == ("assist", "production", 6, 14)
    assert metric.hour.isoformat() == "2026-11-01T10:00:00+00:00"
    instance = db.session.scalar(select(SdkInstance))
    assert instance.sdk_version == "unleash-python-sdk:6.9.1" and instance.environment == "production"
    client.get("/api/client/features")
    overview = client.get("/api/v1/sdks", headers=admin_headers).get_json()
    assert overview["instances"][0]["app_name"] == "crm" and overview["rejected_total"] == 1


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/client/register", {**REGISTER, "appName": ""}, "appName"),
        ("/api/client/register", {**REGISTER, "interval": "often"}, "interval"),
        ("/api/client/register", {**REGISTER, "strategies": "default"}, "strategies"),
        ("/api/client/metrics", {"appName": "crm", "instanceId": "i"}, "bucket"),
        ("/api/client/metrics", {"appName": "crm", "instanceId": "i", "bucket": {
            "start": "soon", "stop": "2026-11-01T10:16:00Z", "toggles": {}}}, "bucket.start"),
        ("/api/client/metrics", {"appName": "crm", "instanceId": "i", "bucket": {
            "start": "2026-11-01T10:15:00Z", "stop": "2026-11-01T10:16:00Z",
            "toggles": {"assist": {"yes": -1, "no": 2}}}}, "bucket.toggles.assist.yes"),
    ],
)
def test_malformed_sdk_payloads_are_refused_naming_the_field(client, flags, client_token, path, body, field):
    response = client.post(path, json=body, headers=_auth(client_token))
    assert response.status_code == 422
    assert field in [d["field"] for d in response.get_json()["details"]]
    assert db.session.scalar(select(FlagMetric)) is None and db.session.scalar(select(SdkInstance)) is None


def test_malformed_json_is_a_400(client, flags, client_token):
    response = client.post("/api/client/metrics", data="{", headers=_auth(client_token),
                           content_type="application/json")
    assert response.status_code == 400 and "JSON" in response.get_json()["error"]


def test_the_warm_cache_shortcut_answers_like_flask(app, client, flags, client_token):
    from app.flags.fast_path import FeaturePollShortcut

    shortcut = app.wsgi_app.wsgi_app  # inside the request-id/metrics layer of app.observability
    assert isinstance(shortcut, FeaturePollShortcut)
    cold = client.get("/api/client/features", headers=_auth(client_token))  # Flask fills the caches
    calls = []
    inner = shortcut.wsgi_app
    shortcut.wsgi_app = lambda environ, start: calls.append(environ["PATH_INFO"]) or inner(environ, start)
    warm = client.get("/api/client/features", headers=_auth(f"Bearer {client_token}"))
    unchanged = client.get("/api/client/features", headers={**_auth(client_token),
                                                            "If-None-Match": cold.headers["ETag"]})
    assert calls == []  # both answered by the shortcut
    assert (warm.status_code, warm.data, warm.headers["ETag"], warm.mimetype) == (
        200, cold.data, cold.headers["ETag"], "application/json")
    assert unchanged.status_code == 304
    assert client.get("/api/client/features", headers=_auth("lo_client_production.wrong")).status_code == 401
    assert calls == ["/api/client/features"]  # a token the caches do not know goes to Flask


EXPECTED_SECURITY_HEADERS = {"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
                             "Referrer-Policy"}


def _headers(response) -> dict[str, str]:
    # The request id differs per answer by design; every other header must be identical.
    return {k: v for k, v in response.headers.items() if k != "X-Request-ID"}


@pytest.mark.parametrize("https", [False, True])
def test_the_shortcut_sends_the_same_security_headers_as_flask(database_url, tmp_path, https):
    from app import create_app
    from app.flags.fast_path import FeaturePollShortcut

    application = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, "SKIP_DASH": True,
                              "SECRET_KEY": "test", "INSTANCE_TMP": str(tmp_path),
                              "SESSION_COOKIE_SECURE": https})
    with application.app_context():
        _, token = create_token("client", "production")
        db.session.commit()
        client = application.test_client()
        shortcut = application.wsgi_app.wsgi_app
        assert isinstance(shortcut, FeaturePollShortcut)
        to_flask = []
        inner = shortcut.wsgi_app
        shortcut.wsgi_app = lambda environ, start: to_flask.append(1) or inner(environ, start)
        by_flask = client.get("/api/client/features", headers=_auth(token))
        refused_by_flask = client.get("/api/client/features", headers={
            **_auth("lo_client_production.unknown")})  # (a refusal, for the header set of an error)
        assert len(to_flask) == 2
        by_shortcut = client.get("/api/client/features", headers=_auth(token))
        not_modified = client.get("/api/client/features", headers={**_auth(token),
                                                                   "If-None-Match": by_flask.headers["ETag"]})
        assert len(to_flask) == 2  # the last two never reached Flask
        expected = EXPECTED_SECURITY_HEADERS | ({"Strict-Transport-Security"} if https else set())
        assert expected <= set(_headers(by_flask)) and expected <= set(_headers(refused_by_flask))
        assert _headers(by_shortcut) == _headers(by_flask)
        assert not_modified.status_code == 304
        body_headers = ("Content-Type", "Content-Length")
        flask_304 = {k: v for k, v in _headers(by_flask).items() if k not in body_headers}
        assert {k: v for k, v in _headers(not_modified).items() if k != "Content-Length"} == flask_304
        db.session.remove()


def test_a_revoked_token_stops_reaching_the_flags_within_the_token_cache_lifetime(
        app, client, flags, monkeypatch):
    import time

    from app.flags.clients import TOKEN_CACHE_SECONDS
    from app.services.accounts.access import revoke_token

    token, secret = create_token("client", "production", name="crm")
    db.session.commit()
    for _ in range(2):  # Flask fills the caches, then the shortcut answers
        assert client.get("/api/client/features", headers=_auth(secret)).status_code == 200
    revoke_token(token.id)
    db.session.commit()
    real = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real() + TOKEN_CACHE_SECONDS + 0.5)
    assert client.get("/api/client/features", headers=_auth(secret)).status_code == 401
    rows = {r.reason: r.count for r in db.session.scalars(select(RejectedFetch))}
    assert rows == {"revoked": 1}  # refused the slow way, so it is counted


def test_the_token_cache_verdict_is_a_fresh_unexpired_client_token_only(app, monkeypatch):
    import time
    from datetime import timedelta

    from app.db import utcnow
    from app.flags import clients
    from app.services.accounts.access import hash_secret, revoke_token

    _, reader = create_token("client", "development", expires_at=utcnow() + timedelta(hours=1))
    _, browser = create_token("frontend", "production")
    revoked, gone = create_token("client", "production")
    revoke_token(revoked.id)
    db.session.commit()
    cache = clients.TokenCache()
    for secret in (reader, browser, gone, "lo_client_production.unknown"):
        cache.facts(secret)
    verdicts = {s: cache.client_environment(hash_secret(s))
                for s in (reader, browser, gone, "lo_client_production.unknown", "never-seen")}
    assert verdicts == {reader: "development", browser: None, gone: None,
                        "lo_client_production.unknown": None, "never-seen": None}
    real_time, real_monotonic = time.time, time.monotonic
    monkeypatch.setattr(time, "time", lambda: real_time() + 3601)  # past the token's expiry
    assert cache.client_environment(hash_secret(reader)) is None
    monkeypatch.setattr(time, "time", real_time)
    monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + clients.TOKEN_CACHE_SECONDS)
    assert cache.client_environment(hash_secret(reader)) is None  # stale: checked again the slow way


@pytest.mark.slow
def test_liftoff_serve_answers_polls_200_then_304_with_the_flask_headers(
        app, client, database_url, flags, client_token, tmp_path):
    import requests

    from tests.dashboard_support import DashboardServer

    by_flask = client.get("/api/client/features", headers=_auth(client_token))
    db.session.remove()
    served = DashboardServer(database_url, tmp_path)  # `liftoff serve` in a subprocess
    try:
        url = f"{served.url}/api/client/features"
        polls = [requests.get(url, headers=_auth(client_token), timeout=10) for _ in range(3)]
        condition = {**_auth(client_token), "If-None-Match": by_flask.headers["ETag"]}
        unchanged = requests.get(url, headers=condition, timeout=10)
    finally:
        served.close()
    assert [p.status_code for p in polls] == [200, 200, 200]
    assert all(p.content == by_flask.data and p.headers["ETag"] == by_flask.headers["ETag"] for p in polls)
    assert unchanged.status_code == 304 and unchanged.content == b""
    for name in EXPECTED_SECURITY_HEADERS | {"Cache-Control", "Vary", "X-Request-ID"}:
        assert name in polls[-1].headers and name in unchanged.headers
    assert polls[-1].headers["Server"] == "liftoff"  # waitress, named by `liftoff serve`


def _asgi_get(front, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One GET through the ASGI front, as gunicorn's asyncio worker would send it."""
    import asyncio

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
             "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                         for k, v in {"Host": "127.0.0.1:8000", **headers}.items()]}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(front(scope, receive, send))
    start = sent[0]
    names = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]}
    return start["status"], names, b"".join(m.get("body", b"") for m in sent[1:])


def test_the_asgi_front_answers_like_the_wsgi_app(app, client, flags, client_token):
    """app/asgi.py: polls from warm caches on the event loop, the rest through the WSGI app."""
    from app.flags.asgi_front import AsgiFront

    front = AsgiFront(app, threads=2)
    shortcut = app.extensions["liftoff_poll_shortcut"]
    by_flask = client.get("/api/client/features", headers=_auth(client_token))  # fills the caches
    to_wsgi = []
    inner = shortcut.wsgi_app
    shortcut.wsgi_app = lambda environ, start: to_wsgi.append(environ["PATH_INFO"]) or inner(environ, start)
    status, headers, body = _asgi_get(front, "/api/client/features",
                                      {**_auth(client_token), "X-Request-ID": "sdk-poll-1"})
    assert (status, body) == (200, by_flask.data)
    flask_headers = {k.lower(): v for k, v in _headers(by_flask).items()}
    assert {k: v for k, v in headers.items() if k != "x-request-id"} == flask_headers
    assert headers["x-request-id"] == "sdk-poll-1"  # a sane caller id is kept, as in WSGI
    status, headers, body = _asgi_get(front, "/api/client/features",
                                      {**_auth(client_token), "If-None-Match": by_flask.headers["ETag"]})
    assert (status, body) == (304, b"")
    assert headers["etag"] == by_flask.headers["ETag"] and "content-length" not in headers
    assert len(headers["x-request-id"]) == 32
    assert to_wsgi == []  # neither reached the WSGI app
    # A token the caches do not know, and any other path, go to Flask through a2wsgi's threads.
    status, headers, body = _asgi_get(front, "/api/client/features", _auth("lo_client_production.wrong"))
    assert status == 401 and "error" in json.loads(body) and "x-request-id" in headers
    assert to_wsgi == ["/api/client/features"]
    status, _, body = _asgi_get(front, "/healthz", {})
    assert status == 200 and json.loads(body)["status"] == "ok"
