"""The rollout endpoints of /api/v1: permissions, status codes and the error shape."""

from __future__ import annotations

import pytest
from flask import g
from sqlalchemy import func, select

from app.db import db
from app.models import Feature, RolloutTransition
from app.services.accounts.access import create_token
from tests.helpers import gen_cohort, gen_person

PLAN = {
    "key": "summariser",
    "name": "Ticket summariser",
    "description": "Summarises long tickets",
    "per_event_cost_eur": 0.002,
    "stages": [
        {"name": "champions", "cohorts": ["champions"], "percentage": 0},
        {"name": "ramp", "cohorts": [], "percentage": 50},
    ],
}


@pytest.fixture
def champions(app):
    people = [gen_person(f"e{i}") for i in range(40)]
    gen_cohort("champions", people[:4])
    db.session.commit()
    return people


def test_create_read_and_walk_a_rollout_over_http(client, admin_headers, champions):
    created = client.post("/api/v1/features", json=PLAN, headers=admin_headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["key"] == "summariser" and body["current_stage"] == 0
    assert body["stages"][0] == {"position": 1, "name": "champions", "cohorts": ["champions"],
                                 "percentage": 0, "audience_size": 4}
    r = client.post("/api/v1/features/summariser/advance", json={"reason": "go"}, headers=admin_headers)
    assert r.status_code == 200 and r.get_json()["current_stage"] == 1
    assert r.get_json()["exposed_now"] == 4
    assert r.get_json()["history"][0]["actor"].startswith("token:")
    r = client.post("/api/v1/features/summariser/advance", headers=admin_headers)  # no body at all
    assert r.status_code == 200 and r.get_json()["current_stage_name"] == "ramp"
    r = client.post("/api/v1/features/summariser/kill", json={"reason": "incident"}, headers=admin_headers)
    assert r.get_json()["killed"] is True and r.get_json()["exposed_now"] == 0
    r = client.post("/api/v1/features/summariser/resume", json={"reason": "fixed"}, headers=admin_headers)
    assert r.get_json()["killed"] is False
    listing = client.get("/api/v1/features", headers=admin_headers).get_json()
    assert [(f["key"], f["current_stage"]) for f in listing] == [("summariser", 2)]
    assert client.get("/api/v1/features/summariser", headers=admin_headers).get_json()["history"][-1][
        "action"] == "resume"


def test_bad_requests_name_the_field_and_write_nothing(client, admin_headers, champions):
    bad = dict(PLAN, stages=[{"name": "x", "cohorts": ["ghosts"], "percentage": 150}])
    r = client.post("/api/v1/features", json=bad, headers=admin_headers)
    assert r.status_code == 422
    fields = {d["field"] for d in r.get_json()["details"]}
    assert fields == {"stages[0].cohorts", "stages[0].percentage"}
    r = client.post("/api/v1/features", data="{nope", headers=admin_headers,
                    content_type="application/json")
    assert r.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Feature)) == 0

    client.post("/api/v1/features", json=PLAN, headers=admin_headers)
    r = client.post("/api/v1/features", json=PLAN, headers=admin_headers)
    assert r.status_code == 409
    r = client.post("/api/v1/features/summariser/rollback", json={"reason": "x"}, headers=admin_headers)
    assert r.status_code == 409 and r.get_json()["details"][0]["field"] == "current_stage"
    r = client.post("/api/v1/features/summariser/advance", json={"effective_at": "2999-01-01T00:00:00Z"},
                    headers=admin_headers)
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "effective_at"
    r = client.post("/api/v1/features/summariser/advance", json={"effective_at": "yesterday"},
                    headers=admin_headers)
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "effective_at"
    r = client.post("/api/v1/features/summariser/kill", json={}, headers=admin_headers)
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "reason"
    assert client.get("/api/v1/features/nope", headers=admin_headers).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(RolloutTransition)) == 0


def _status(call, *args, **kwargs) -> int:
    # The test's app context outlives each request, and the identity is cached on ``g``.
    g.pop("identity", None)
    return call(*args, **kwargs).status_code


def test_rollout_endpoints_check_the_caller(client, ingest_headers, client_token, champions):
    assert _status(client.post, "/api/v1/features", json=PLAN) == 401
    assert _status(client.get, "/api/v1/features") == 401
    assert _status(client.post, "/api/v1/features", json=PLAN, headers=ingest_headers) == 403
    sdk = {"Authorization": f"Bearer {client_token}"}
    assert _status(client.get, "/api/v1/sdks", headers=sdk) == 403
    _, admin = create_token("admin")
    db.session.commit()
    admin_headers = {"Authorization": f"Bearer {admin}"}
    assert _status(client.post, "/api/v1/features", json=PLAN, headers=admin_headers) == 201
    assert _status(client.post, "/api/v1/features/summariser/advance", headers=ingest_headers) == 403
    assert _status(client.get, "/api/v1/sdks", headers=admin_headers) == 200
