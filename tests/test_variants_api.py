"""Variants through the API: defined with the feature or later, weights changed as audited
transitions with their effective time, promotion, events naming a variant; bad input is a 422
naming the field and writes nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db import db, utcnow
from app.models import AuditEntry, Event, Feature, FeatureVariant, FlagVariantMetric, VariantWeightChange
from tests.helpers import gen_person

FEATURE = {"key": "drafts", "name": "Drafts", "stages": [{"name": "all", "percentage": 100}]}
SPLIT = [{"name": "gpt", "weight": 50, "payload": {"vendor": "openai", "model": "gpt-x"},
          "cost_per_task_eur": 0.04},
         {"name": "claude", "weight": 50, "payload": {"vendor": "anthropic"}}]


def _counts() -> tuple:
    return tuple(db.session.scalar(select(func.count()).select_from(t))
                 for t in (Feature, FeatureVariant, VariantWeightChange, AuditEntry, Event))


@pytest.fixture
def drafts(client, admin_headers):
    response = client.post("/api/v1/features", json={**FEATURE, "variants": SPLIT}, headers=admin_headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_feature_is_created_with_its_variants_and_first_split(drafts):
    assert drafts["variants"] == [
        {"name": "gpt", "weight": 50, "payload": {"vendor": "openai", "model": "gpt-x"},
         "cost_per_task_eur": 0.04},
        {"name": "claude", "weight": 50, "payload": {"vendor": "anthropic"}, "cost_per_task_eur": None}]
    (first,) = drafts["variant_history"]
    assert (first["action"], first["weights"]) == ("create", {"gpt": 50, "claude": 50})
    assert drafts["variant_rule"] is None


@pytest.mark.parametrize(("variants", "field", "says"), [
    ([{"name": "a", "weight": 60}, {"name": "b", "weight": 30}], "variants", "sum to 100, not 90"),
    ([{"name": "a", "weight": 50}, {"name": "a", "weight": 50}], "variants[1].name", "duplicate"),
    ([{"name": "a", "weight": 101}], "variants[0].weight", "from 0 to 100"),
    ([{"name": "a", "weight": 100, "payload": "gpt"}], "variants[0].payload", "JSON object"),
    ([{"name": "a", "weight": 100, "cost_per_task_eur": -1}], "variants[0].cost_per_task_eur", "from 0"),
    ([{"name": "disabled", "weight": 100}], "variants[0].name", "not 'disabled'"),
    ("a", "variants", "must be a list"),
])
def test_bad_variants_at_creation_name_the_field_and_create_nothing(client, admin_headers, variants, field,
                                                                   says):
    before = _counts()
    response = client.post("/api/v1/features", json={**FEATURE, "variants": variants}, headers=admin_headers)
    assert response.status_code == 422
    details = response.get_json()["details"]
    assert any(d["field"] == field and says in d["message"] for d in details), details
    assert _counts() == before


def test_no_variants_and_an_empty_list_are_both_a_feature_without_variants(client, admin_headers):
    response = client.post("/api/v1/features", json={**FEATURE, "variants": []}, headers=admin_headers)
    assert response.status_code == 201
    assert response.get_json()["variants"] == [] and response.get_json()["variant_history"] == []


def test_a_weight_change_is_a_transition_with_its_effective_time_and_audit(client, admin_headers, drafts):
    body = {"variants": [{**SPLIT[0], "weight": 20}, {**SPLIT[1], "weight": 80}],
            "effective_at": "2026-01-05T10:00:00+01:00", "reason": "claude looks cheaper",
            "rule": {"control": "gpt", "max_error_rate_increase": 0.02, "objective": "cost_per_task"}}
    # Back-dated before the creation's own record: refused, nothing changes.
    refused = client.put("/api/v1/features/drafts/variants", json=body, headers=admin_headers)
    assert refused.status_code == 422 and refused.get_json()["details"][0]["field"] == "effective_at"
    assert [v.weight for v in db.session.scalars(select(FeatureVariant).order_by(FeatureVariant.position))] \
        == [50, 50]
    body.pop("effective_at")
    response = client.put("/api/v1/features/drafts/variants", json=body, headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    state = response.get_json()
    assert [(v["name"], v["weight"]) for v in state["variants"]] == [("gpt", 20), ("claude", 80)]
    assert [h["weights"] for h in state["variant_history"]] == [{"gpt": 50, "claude": 50},
                                                                {"gpt": 20, "claude": 80}]
    assert state["variant_history"][1]["reason"] == "claude looks cheaper"
    assert state["variant_rule"] == {"control": "gpt", "max_error_rate_increase": 0.02,
                                     "objective": "cost_per_task"}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "feature.variants.reweight"))
    assert [v["weight"] for v in json.loads(entry.before)["variants"]] == [50, 50]
    assert [v["weight"] for v in json.loads(entry.after)["variants"]] == [20, 80]


@pytest.mark.parametrize(("variants", "field", "says"), [
    ([{"name": "gpt", "weight": 50}, {"name": "mistral", "weight": 50}], "variants[1].name",
     "unknown variant 'mistral'"),
    ([{"name": "gpt", "weight": 100}], "variants", "variant 'claude' is missing"),
    ([{"name": "gpt", "weight": 70}, {"name": "claude", "weight": 20}], "variants", "sum to 100"),
])
def test_bad_weight_changes_name_the_field_and_change_nothing(client, admin_headers, drafts, variants, field,
                                                             says):
    before = _counts()
    response = client.put("/api/v1/features/drafts/variants", json={"variants": variants},
                          headers=admin_headers)
    assert response.status_code == 422
    details = response.get_json()["details"]
    assert any(d["field"] == field and says in d["message"] for d in details), details
    db.session.expire_all()
    assert _counts() == before
    assert [v.weight for v in db.session.scalars(select(FeatureVariant))] == [50, 50]


def test_promotion_gives_the_winner_everything_and_a_missing_variant_is_refused(client, admin_headers,
                                                                               drafts):
    before = _counts()
    missing = client.post("/api/v1/features/drafts/variants/mistral/promote", json={"reason": "won"},
                          headers=admin_headers)
    assert missing.status_code == 422
    assert missing.get_json()["details"][0]["field"] == "variant"
    no_reason = client.post("/api/v1/features/drafts/variants/claude/promote", json={"reason": ""},
                            headers=admin_headers)
    assert no_reason.status_code == 422 and no_reason.get_json()["details"][0]["field"] == "reason"
    db.session.expire_all()
    assert _counts() == before
    done = client.post("/api/v1/features/drafts/variants/claude/promote", json={"reason": "cheaper, as good"},
                       headers=admin_headers)
    assert done.status_code == 200
    state = done.get_json()
    assert [(v["name"], v["weight"]) for v in state["variants"]] == [("gpt", 0), ("claude", 100)]
    assert state["variant_history"][-1]["action"] == "promote"
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "feature.variants.promote")) == 1


def test_a_promotion_needs_rollout_write(client, drafts, ingest_headers):
    response = client.post("/api/v1/features/drafts/variants/claude/promote", json={"reason": "x"},
                           headers=ingest_headers)
    assert response.status_code == 403


def test_an_event_names_one_of_its_features_variants(client, admin_headers, drafts):
    gen_person("p1")
    db.session.commit()
    event = {"event_id": "e1", "feature": "drafts", "person_id": "p1", "occurred_at": "2026-10-05T09:00:00Z",
             "ai_assisted": True, "outcome": "success"}
    bad = client.post("/api/v1/events", json=[{**event, "variant": "claude"},
                                              {**event, "event_id": "e2", "variant": "mistral"}],
                      headers=admin_headers)
    assert bad.status_code == 422
    says = "feature 'drafts' has no variant 'mistral' (its variants: claude, gpt)"
    assert bad.get_json()["details"] == [{"index": 1, "field": "variant", "message": says}]
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0
    ok = client.post("/api/v1/events", json=[{**event, "variant": "claude"}, {**event, "event_id": "e2"}],
                     headers=admin_headers)
    assert ok.status_code == 200, ok.get_json()
    stored = dict(db.session.execute(select(Event.event_id, Event.variant)).all())
    assert stored == {"e1": "claude", "e2": None}


def test_the_sdks_variant_counts_are_stored_for_the_features_own_variants(client, drafts, client_token):
    bucket = {"start": "2026-11-01T10:15:00+00:00", "stop": "2026-11-01T10:16:00+00:00",
              "toggles": {"drafts": {"yes": 9, "no": 1, "variants": {"gpt": 4, "claude": 5, "disabled": 1,
                                                                    "invented": 99}}}}
    body = {"appName": "crm", "instanceId": "crm-1", "bucket": bucket}
    later = {**body, "bucket": {**bucket, "start": "2026-11-01T10:16:00+00:00",
                                "stop": "2026-11-01T10:17:00+00:00"}}
    for sent in (body, body, later):  # the second is a retry: counted once
        response = client.post("/api/client/metrics", json=sent, headers={"Authorization": client_token})
        assert response.status_code == 202
    stored = dict(db.session.execute(select(FlagVariantMetric.variant, FlagVariantMetric.count)).all())
    assert stored == {"gpt": 8, "claude": 10, "disabled": 2}
    bad = {**body, "bucket": {**bucket, "toggles": {"drafts": {"yes": 1, "variants": {"gpt": -1}}}}}
    refused = client.post("/api/client/metrics", json=bad, headers={"Authorization": client_token})
    assert refused.status_code in (400, 422)


def test_the_cli_promotes_a_variant_and_refuses_a_missing_one(runner, drafts):
    missing = runner.invoke(args=["liftoff", "features", "promote", "drafts", "mistral", "--reason", "won"])
    assert missing.exit_code == 1 and "variant: unknown variant 'mistral'" in missing.output
    done = runner.invoke(args=["liftoff", "features", "promote", "drafts", "claude", "--reason", "cheaper"])
    assert done.exit_code == 0, done.output
    db.session.expire_all()
    assert {v.name: v.weight for v in db.session.scalars(select(FeatureVariant))} == {"gpt": 0, "claude": 100}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "feature.variants.promote"))
    assert (entry.actor, entry.reason) == ("cli", "cheaper")
    compared = runner.invoke(args=["liftoff", "features", "compare", "drafts"])
    assert compared.exit_code == 0, compared.output
    assert "control gpt" in compared.output and "fewer than 5 exposed" in compared.output


def test_the_compiled_flag_carries_the_variants_on_every_strategy(app, drafts):
    from app.flags.compile import compile_payload
    from app.flags.unleash_apply import desired_state

    rollout_feature = db.session.scalar(select(Feature).where(Feature.key == "drafts"))
    from app.services.rollout import transitions as rollout

    rollout.advance(rollout_feature.key, "ana")
    payload = compile_payload("production")
    (flag,) = payload["features"]
    want = [{"name": "gpt", "weight": 500, "stickiness": "userId", "weightType": "fix",
             "payload": {"type": "json", "value": '{"model":"gpt-x","vendor":"openai"}'}},
            {"name": "claude", "weight": 500, "stickiness": "userId", "weightType": "variable",
             "payload": {"type": "json", "value": '{"vendor":"anthropic"}'}}]
    assert flag["strategies"]
    assert [s["variants"] for s in flag["strategies"]] == [want]
    assert all(s["parameters"]["groupId"] == "drafts" for s in flag["strategies"])
    # What a real Unleash is brought to: the same variants, in order, on each strategy.
    state = desired_state("drafts", {"production": payload})
    assert all(s["variants"] == want for s in state.envs["production"]["strategies"])


def test_the_corrections_dataset_names_each_corrections_variant(client, admin_headers, drafts):
    import mmh3

    from app.services.rollout import transitions as rollout

    gen_person("p1")
    rollout.advance("drafts", "ana")
    db.session.commit()
    # Unleash's client specification, by hand: murmur3 "groupId:userId", seed 86028157, 1..1000.
    target = mmh3.hash("drafts:p1", 86028157, signed=False) % 1000 + 1
    held = "gpt" if target <= 500 else "claude"
    now = (utcnow() + timedelta(seconds=2)).isoformat()  # after the advance (up to 5 min ahead is taken)
    event = {"feature": "drafts", "person_id": "p1", "occurred_at": now, "ai_assisted": True,
             "outcome": "corrected", "output": "Dear sir", "correction": "Dear Ms Doe"}
    rows = [{**event, "event_id": "named", "variant": "claude"}, {**event, "event_id": "unnamed"}]
    assert client.post("/api/v1/events", json=rows, headers=admin_headers).status_code == 200
    answer = client.get("/api/v1/features/drafts/corrections?format=jsonl", headers=admin_headers)
    lines = answer.get_data(as_text=True).splitlines()
    got = {row["event_id"]: row["variant"] for row in map(json.loads, lines)}
    assert got == {"named": "claude", "unnamed": held}
