"""The compiled Unleash payload: exact shape, cumulative stages, kill switch, environments."""

from __future__ import annotations

import json

from yggdrasil_engine.engine import UnleashEngine

from app.db import db
from app.flags.compile import compile_payload
from app.models import Feature
from app.services.audience.stages import stage_audience
from app.services.rollout import transitions as rollout
from tests.helpers import gen_cohort, gen_person


def _setup():
    people = [gen_person(f"p{i:03d}") for i in range(100)]
    champs = gen_cohort("champions", [people[3], people[1]])
    pilots = gen_cohort("pilots", people[10:20])
    gen_cohort("unused", people[50:60])
    rollout.create_feature({"key": "summaries", "name": "S", "stages": [
        {"name": "champions", "cohorts": ["champions"]},
        {"name": "pilots", "cohorts": ["pilots"], "percentage": 25},
        {"name": "dark", "cohorts": [], "percentage": 0},
    ]}, "ana")
    everyone = [{"name": "all", "percentage": 100}]
    rollout.create_feature({"key": "idle", "name": "I", "stages": everyone}, "ana")
    db.session.commit()
    return people, champs, pilots


def _engine(payload: dict) -> UnleashEngine:
    engine = UnleashEngine()
    assert engine.take_state(json.dumps(payload)) is None
    return engine


def test_the_payload_has_unleash_shape_and_segments(app):
    people, champs, pilots = _setup()
    payload = compile_payload("production")
    assert payload["version"] == 2
    assert [f["name"] for f in payload["features"]] == ["idle", "summaries"]
    off = payload["features"][1]
    assert off == {"name": "summaries", "type": "release", "enabled": False, "project": "default",
                   "stale": False, "strategies": [], "variants": [], "impressionData": False}
    assert payload["segments"] == [
        {"id": champs.id, "name": "champions", "constraints": [
            {"contextName": "userId", "operator": "IN", "values": ["p001", "p003"], "inverted": False,
             "caseInsensitive": False}]},
        {"id": pilots.id, "name": "pilots", "constraints": [
            {"contextName": "userId", "operator": "IN", "values": [f"p{i:03d}" for i in range(10, 20)],
             "inverted": False, "caseInsensitive": False}]},
    ]


def test_live_stages_compile_to_one_strategy_per_cohort_plus_the_percentage(app):
    people, champs, pilots = _setup()
    rollout.advance("summaries", "ana")
    rollout.advance("summaries", "ana")
    feature = compile_payload("production")["features"][1]
    assert feature["enabled"] is True
    rollout_of = {"stickiness": "userId", "groupId": "summaries"}
    assert feature["strategies"] == [
        {"name": "flexibleRollout", "parameters": {"rollout": "100", **rollout_of}, "constraints": [],
         "segments": [champs.id]},
        {"name": "flexibleRollout", "parameters": {"rollout": "100", **rollout_of}, "constraints": [],
         "segments": [pilots.id]},
        {"name": "flexibleRollout", "parameters": {"rollout": "25", **rollout_of}, "constraints": [],
         "segments": []},
    ]
    # The engine agrees with the exposure spells person by person.
    engine = _engine(compile_payload("production"))
    state = rollout.feature_state("summaries")
    enabled = sum(engine.check_enabled("summaries", {"userId": p.person_id}).is_enabled for p in people)
    assert enabled == state["exposed_now"] == state["stages"][1]["audience_size"]
    assert engine.check_enabled("summaries", {"userId": "p003"}).is_enabled
    assert not engine.check_enabled("summaries", {}).is_enabled


def test_a_stage_without_cohorts_or_percentage_enables_nobody(app):
    _setup()
    for _ in range(3):
        rollout.advance("summaries", "ana")
    feature = compile_payload("production")["features"][1]
    assert [s["segments"] for s in feature["strategies"]] == [[s] for s in sorted(
        c["id"] for c in compile_payload("production")["segments"])]
    rollout.create_feature({"key": "dark", "name": "D", "stages": [{"name": "nobody"}]}, "ana")
    rollout.advance("dark", "ana")
    dark = compile_payload("production")["features"][0]
    # Unleash would enable a feature without strategies for everyone: an explicit 0 % instead.
    assert dark["enabled"] is True and [s["parameters"]["rollout"] for s in dark["strategies"]] == ["0"]
    engine = _engine(compile_payload("production"))
    assert not engine.check_enabled("dark", {"userId": "p001"}).is_enabled
    # Stage 3 keeps the champions and pilots of stages 1-2 (cumulative) and adds no percentage.
    assert engine.check_enabled("summaries", {"userId": "p001"}).is_enabled
    assert not engine.check_enabled("summaries", {"userId": "p099"}).is_enabled


def test_a_current_stage_without_stage_rows_enables_nobody_and_has_no_audience(app):
    # A feature loaded straight into the tables (as the benchmarks do) with a stage but no stages.
    people = [gen_person(f"q{i}") for i in range(20)]
    feature = Feature(key="loaded", name="Loaded", current_stage=4)
    db.session.add(feature)
    db.session.commit()
    strategies = compile_payload("production")["features"][0]["strategies"]
    assert [s["parameters"]["rollout"] for s in strategies] == ["0"]
    engine = _engine(compile_payload("production"))
    assert not any(engine.check_enabled("loaded", {"userId": p.person_id}).is_enabled for p in people)
    assert stage_audience(feature, 4) == set()


def test_kill_disables_and_development_serves_everything_not_killed(app):
    _setup()
    rollout.advance("summaries", "ana")
    rollout.kill("summaries", "ana", "incident")
    prod = {f["name"]: f for f in compile_payload("production")["features"]}
    dev = {f["name"]: f for f in compile_payload("development")["features"]}
    assert prod["summaries"]["enabled"] is False and prod["idle"]["enabled"] is False
    assert dev["summaries"]["enabled"] is False
    assert dev["idle"]["enabled"] is True
    assert dev["idle"]["strategies"] == [{"name": "default", "parameters": {}, "constraints": [],
                                          "segments": []}]
    assert _engine(compile_payload("development")).check_enabled("idle", {"userId": "anyone"}).is_enabled
