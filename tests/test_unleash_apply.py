"""Applying compiled payloads to a real unleash-server through its Admin API."""

from __future__ import annotations

import uuid

import pytest

from app.flags.unleash_admin import UnleashAdmin
from app.flags.unleash_apply import apply_state, desired_state, differences, read_state
from tests.unleash_server import PayloadServer, hand_payload, sdk_answers, unleash_server  # noqa: F401

pytestmark = [pytest.mark.unleash_server]

ENVS = ["production", "development"]


@pytest.fixture
def admin(unleash_server):  # noqa: F811
    client = UnleashAdmin(unleash_server.url, unleash_server.admin_token)
    yield client
    client.close()


def _names():
    tag = uuid.uuid4().hex[:8]
    return f"feat-{tag}", f"champions-{tag}"


def _state(key, cohort, members, enabled=True, percentage=0, dev_enabled=True):
    prod = hand_payload(key, enabled, {cohort: (11, members)}, percentage)
    dev = hand_payload(key, dev_enabled, {}, everyone=True)
    return desired_state(key, {"production": prod, "development": dev})


def test_apply_creates_everything_and_a_second_apply_writes_nothing(admin):
    key, cohort = _names()
    want = _state(key, cohort, ["p1", "p2"], percentage=30)

    changes = apply_state(admin, want)

    assert f"created segment {cohort}" in changes
    assert f"created feature {key}" in changes
    assert "production: switched on" in changes
    before = admin.feature(key)
    segment_before = admin.segments()[cohort]
    assert apply_state(admin, want) == []
    # Same strategy ids and segment: nothing was deleted and re-created behind our back.
    assert admin.feature(key)["environments"] == before["environments"]
    assert admin.segments()[cohort] == segment_before
    assert differences(want, read_state(admin, key, ENVS).state) == []


def test_stage_changes_are_applied_as_differences_only(admin):
    key, cohort = _names()
    apply_state(admin, _state(key, cohort, ["p1"]))
    prod_before = {s["id"] for s in _env(admin.feature(key), "production")["strategies"]}

    changes = apply_state(admin, _state(key, cohort, ["p1", "p9"], percentage=30))

    assert changes == [f"updated segment {cohort}", "production: added flexibleRollout 30%"]
    prod_after = {s["id"] for s in _env(admin.feature(key), "production")["strategies"]}
    assert prod_before < prod_after  # the cohort strategy was kept, one was added
    seg = admin.segments()[cohort]
    assert seg["constraints"][0]["values"] == ["p1", "p9"]

    changes = apply_state(admin, _state(key, cohort, ["p1", "p9"], enabled=False, dev_enabled=False))
    assert "production: switched off" in changes and "development: switched off" in changes
    raw = admin.feature(key)
    assert not _env(raw, "production")["enabled"] and not _env(raw, "development")["enabled"]


def test_the_sdk_reading_unleash_answers_like_the_sdk_reading_the_payload(admin, unleash_server,  # noqa: F811
                                                                        tmp_path):
    key, cohort = _names()
    people = [f"u{i:04d}" for i in range(400)]
    members = people[:25]
    prod = hand_payload(key, True, {cohort: (5, members)}, percentage=30)
    apply_state(admin, desired_state(key, {"production": prod,
                                           "development": hand_payload(key, True, {}, everyone=True)}))
    stand_in = PayloadServer()
    stand_in.payload = prod
    try:
        token = unleash_server.backend_tokens["production"]
        via_unleash = sdk_answers(f"{unleash_server.url}/api", token, key, people, tmp_path / "a")
        via_payload = sdk_answers(f"{stand_in.url}/api", "any", key, people, tmp_path / "b")
    finally:
        stand_in.close()
    assert via_unleash == via_payload
    assert all(via_unleash[p] for p in members)
    share = sum(via_unleash[p] for p in people[25:]) / len(people[25:])
    assert 0.2 < share < 0.4


def _env(raw: dict, name: str) -> dict:
    return next(e for e in raw["environments"] if e["name"] == name)
