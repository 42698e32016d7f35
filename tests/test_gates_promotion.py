"""Promotion: manual with the gate result attached, or automatic where configured -- each checked
with the answer the real UnleashClient SDK gives after the change."""

from __future__ import annotations

import json

import pytest

from app.db import db
from app.jobs.gates import evaluate_gates
from app.models import AuditEntry, Feature, GateEvaluation, RolloutTransition
from tests.enablement_builders import add_feedback, enabled, ready_pilot, sdk, wait_for
from tests.helpers import gen_person


@pytest.fixture
def everyone(app):
    """People outside the pilot: stage 2 of the test plan (100 %) reaches them too."""
    return [gen_person() for _ in range(5)]


@pytest.mark.slow
def test_manual_promotion_attaches_the_gate_result_and_reaches_the_sdk(
        client, admin_headers, live_server, client_token, tmp_path, everyone):
    feature, members = ready_pilot()
    db.session.commit()
    with sdk(live_server, client_token, tmp_path) as unleash:
        assert wait_for(lambda: enabled(unleash, feature.key, members + everyone) == {
            m.person_id for m in members})
        answer = client.post(f"/api/v1/features/{feature.key}/promote", json={"reason": "pilot ready"},
                             headers=admin_headers)
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        assert body["current_stage"] == 2 and body["gate"]["passed"] is True
        assert wait_for(lambda: enabled(unleash, feature.key, members + everyone) == {
            p.person_id for p in members + everyone})
    transition = db.session.scalars(db.select(RolloutTransition).where(
        RolloutTransition.feature_id == feature.id).order_by(RolloutTransition.id.desc())).first()
    attached = json.loads(transition.gate_result)
    assert (transition.action, transition.from_stage, transition.to_stage) == ("advance", 1, 2)
    assert attached["passed"] is True and attached["stage"] == 1
    assert {c["metric"] for c in attached["criteria"]} == {
        "days_in_stage", "exposed_users", "training_completion", "feedback_mean", "open_critical_feedback"}
    assert db.session.get(GateEvaluation, body["gate"]["id"]).transition_id == transition.id


def test_failed_gate_refuses_promotion_unless_overridden_with_a_reason(client, admin_headers, session):
    feature, _ = ready_pilot(trained=False)
    session.commit()
    url = f"/api/v1/features/{feature.key}/promote"
    refused = client.post(url, json={}, headers=admin_headers)
    assert refused.status_code == 409
    assert [d["field"] for d in refused.get_json()["details"]] == ["training_completion"]
    # 5 of the 10 pilots trained: observed against required, as the contract's 409 asks.
    assert refused.get_json()["details"][0]["message"] == (
        "observed 50.0 % trained (5 of 10), required at least 80 % (min_pct)")
    assert client.post(url, json={"override": True}, headers=admin_headers).status_code == 422
    assert client.post(url, json={"override": "yes"}, headers=admin_headers).status_code == 422
    session.expire_all()
    assert session.get(Feature, feature.id).current_stage == 1
    ok = client.post(url, json={"override": True, "reason": "sponsor accepts the training gap"},
                     headers=admin_headers)
    assert ok.status_code == 200 and ok.get_json()["current_stage"] == 2
    last = client.post(url, json={"override": True, "reason": "again"}, headers=admin_headers)
    # /promote is /advance's code path, with its words.
    assert last.status_code == 409 and last.get_json()["error"] == "cannot advance past the last stage"
    entry = session.query(AuditEntry).filter_by(action="gate.override").one()
    assert entry.reason == "sponsor accepts the training gap"
    assert json.loads(entry.after)["failed"] == ["training_completion"]


def test_promotion_needs_rollout_write(client, session, ingest_headers):
    feature, _ = ready_pilot()
    session.commit()
    assert client.post(f"/api/v1/features/{feature.key}/promote", json={}).status_code == 401
    assert client.post(f"/api/v1/features/{feature.key}/promote", json={},
                       headers=ingest_headers).status_code == 403


@pytest.mark.slow
def test_automatic_promotion_by_the_daily_job_reaches_the_sdk(app, live_server, client_token, tmp_path,
                                                               everyone):
    feature, members = ready_pilot(auto_promote=True)
    manual, manual_members = ready_pilot(auto_promote=False)
    db.session.commit()
    with sdk(live_server, client_token, tmp_path) as unleash:
        assert wait_for(lambda: enabled(unleash, feature.key, everyone) == set())
        stats = evaluate_gates()
        db.session.commit()  # the job runner owns the transaction
        assert stats.rows_read == 2
        assert wait_for(lambda: enabled(unleash, feature.key, everyone) == {p.person_id for p in everyone})
        # The passing feature without auto_promote stays where it is.
        assert enabled(unleash, manual.key, everyone) == set()
    db.session.expire_all()
    assert db.session.get(Feature, feature.id).current_stage == 2
    assert db.session.get(Feature, manual.id).current_stage == 1
    transition = db.session.scalars(db.select(RolloutTransition).where(
        RolloutTransition.feature_id == feature.id, RolloutTransition.action == "advance")
        .order_by(RolloutTransition.id.desc())).first()
    assert transition.actor == "gate:auto" and json.loads(transition.gate_result)["passed"] is True
    evaluations = db.session.scalars(db.select(GateEvaluation).order_by(GateEvaluation.id)).all()
    assert {(e.feature_id, e.trigger, e.passed, e.transition_id is not None) for e in evaluations} == {
        (feature.id, "schedule", True, True), (manual.id, "schedule", True, False)}


def test_automatic_promotion_waits_for_a_failing_gate(session):
    feature, members = ready_pilot(auto_promote=True)
    add_feedback(feature, members[0], 5, severity="critical")  # open critical feedback blocks
    evaluate_gates()
    assert session.get(Feature, feature.id).current_stage == 1
    evaluation = session.query(GateEvaluation).one()
    failed = [c["metric"] for c in json.loads(evaluation.result)["criteria"] if not c["passed"]]
    assert failed == ["open_critical_feedback"]
