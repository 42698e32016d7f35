"""Gates that bind: every way of advancing judges the gate guarding the next stage first.

The pilot of tests.enablement_builders.ready_pilot, stage 1 of ``pilot-feedback-loop``: its gate
asks >= 7 days, >= 10 exposed, >= 80 % trained, a mean rating >= 3 and no open critical feedback.
Here 5 of the 10 pilots are trained (50 %) and one critical item is open, so exactly two
criteria fail.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.db import db
from app.models import AuditEntry, Feature, GateEvaluation, RolloutTransition
from app.security import Identity, NotAllowed
from app.services.rollout.gates import GateFailed, advance_stage
from dashboards.rollout.actions import perform_rollout_action
from tests.enablement_builders import add_feedback, ready_pilot

FAILING = ["training_completion", "open_critical_feedback"]  # in the playbook's order
TRAINING = "observed 50.0 % trained (5 of 10), required at least 80 % (min_pct)"
CRITICAL = "observed 1 open critical item(s), required at most 0 (max)"


def failing_pilot():
    feature, members = ready_pilot(trained=False)
    add_feedback(feature, members[4], 2, severity="critical")
    return feature


def counts(feature) -> tuple[int, int, int, int]:
    """(stage, transitions, gate evaluations, audit entries) as committed, read on a connection of
    its own: what a refused advance must not change."""
    with db.engine.connect() as connection:
        def count(model, *where) -> int:
            return connection.scalar(select(func.count()).select_from(model).where(*where))

        return (connection.scalar(select(Feature.current_stage).where(Feature.id == feature.id)),
                count(RolloutTransition, RolloutTransition.feature_id == feature.id),
                count(GateEvaluation), count(AuditEntry))


def test_api_advance_refuses_a_failing_gate_naming_each_criterion_and_changes_nothing(
        client, admin_headers, session):
    feature = failing_pilot()
    session.commit()
    before = counts(feature)
    answer = client.post(f"/api/v1/features/{feature.key}/advance", json={"reason": "ready?"},
                         headers=admin_headers)
    assert answer.status_code == 409
    body = answer.get_json()
    assert body["details"] == [{"field": "training_completion", "message": TRAINING},
                               {"field": "open_critical_feedback", "message": CRITICAL}]
    assert counts(feature) == before == (1, 1, 0, before[3])


def test_override_needs_a_reason(client, admin_headers, session):
    feature = failing_pilot()
    session.commit()
    before = counts(feature)
    url = f"/api/v1/features/{feature.key}/advance"
    for body in ({"override": True}, {"override": True, "reason": "   "}):
        answer = client.post(url, json=body, headers=admin_headers)
        assert answer.status_code == 422
        assert [d["field"] for d in answer.get_json()["details"]] == ["reason"]
    answer = client.post(url, json={"override": "yes", "reason": "x"}, headers=admin_headers)
    assert answer.status_code == 422 and answer.get_json()["details"][0]["field"] == "override"
    assert counts(feature) == before


def test_override_with_a_reason_advances_and_is_recorded_audited_and_shown(client, admin_headers, session):
    feature = failing_pilot()
    session.commit()
    url = f"/api/v1/features/{feature.key}/advance"
    answer = client.post(url, json={"override": True, "reason": "sponsor accepts the gap"},
                         headers=admin_headers)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["current_stage"] == 2
    last = body["history"][-1]
    assert (last["action"], last["from_stage"], last["to_stage"], last["override"]) == ("advance", 1, 2, True)
    assert last["reason"] == "sponsor accepts the gap"
    assert last["gate"]["passed"] is False
    assert last["gate"]["failed"] == [{"criterion": "training_completion", "message": TRAINING},
                                      {"criterion": "open_critical_feedback", "message": CRITICAL}]
    # The first advance (stage 0 -> 1) had no gate to judge: no override.
    assert (body["history"][0]["override"], body["history"][0]["gate"]) == (False, None)

    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "gate.override")).one()
    assert entry.reason == "sponsor accepts the gap" and entry.entity_key == feature.key
    after = json.loads(entry.after)
    assert after["failed"] == FAILING and (after["from_stage"], after["to_stage"]) == (1, 2)
    assert [c["message"] for c in after["criteria"]] == [TRAINING, CRITICAL]

    # The evaluation that was overridden is kept in the gate history, tied to the transition.
    transition = session.scalars(select(RolloutTransition).where(
        RolloutTransition.feature_id == feature.id).order_by(RolloutTransition.id.desc())).first()
    history = client.get(f"/api/v1/features/{feature.key}/gates", headers=admin_headers).get_json()
    assert len(history) == 1
    assert (history[0]["passed"], history[0]["trigger"], history[0]["transition_id"]) == (
        False, "advance", transition.id)
    assert last["gate"]["evaluation"] == history[0]["id"]


def test_a_passing_gate_advances_without_override(client, admin_headers, session):
    feature, _ = ready_pilot()
    session.commit()
    answer = client.post(f"/api/v1/features/{feature.key}/advance", headers=admin_headers)
    assert answer.status_code == 200, answer.get_json()
    last = answer.get_json()["history"][-1]
    assert (last["to_stage"], last["override"], last["gate"]["passed"], last["gate"]["failed"]) == (
        2, False, True, [])
    assert session.query(AuditEntry).filter_by(action="gate.override").count() == 0


def test_promote_and_advance_share_the_gate(client, admin_headers, session):
    feature = failing_pilot()
    session.commit()
    refused = client.post(f"/api/v1/features/{feature.key}/promote", json={}, headers=admin_headers)
    assert refused.status_code == 409
    assert [d["field"] for d in refused.get_json()["details"]] == FAILING


def test_the_dashboard_advance_shows_the_failing_criteria_and_takes_an_override(session):
    feature = failing_pilot()
    session.commit()
    product = Identity("pm@liftoff.test", role="product")
    with pytest.raises(GateFailed) as refused:
        perform_rollout_action("advance", feature.key, product, "looks fine")
    assert [(d.field, d.message) for d in refused.value.details] == [
        ("training_completion", TRAINING), ("open_critical_feedback", CRITICAL)]
    session.rollback()
    with pytest.raises(NotAllowed):  # executives read only, override or not
        perform_rollout_action("advance", feature.key, Identity("ceo@liftoff.test", role="executive"),
                               "go", override=True)
    moved = perform_rollout_action("advance", feature.key, product, "pilot sponsor agrees", override=True)
    assert moved.current_stage == 2
    assert session.query(AuditEntry).filter_by(action="gate.override").one().actor == "pm@liftoff.test"


def test_the_cli_advance_refuses_a_failing_gate_and_takes_an_override(runner, session):
    feature = failing_pilot()
    session.commit()
    refused = runner.invoke(args=["liftoff", "features", "advance", feature.key])
    assert refused.exit_code == 1
    assert f"training_completion: {TRAINING}" in refused.output
    assert f"open_critical_feedback: {CRITICAL}" in refused.output
    no_reason = runner.invoke(args=["liftoff", "features", "advance", feature.key, "--override"])
    assert no_reason.exit_code == 1 and "reason" in no_reason.output
    assert counts(feature)[:3] == (1, 1, 0)
    done = runner.invoke(args=["liftoff", "features", "advance", feature.key, "--override",
                               "--reason", "go-live date agreed"])
    assert done.exit_code == 0, done.output
    assert "now at stage 2 of 2 (gate failed: overridden)" in done.output
    entry = session.query(AuditEntry).filter_by(action="gate.override").one()
    assert (entry.actor, entry.reason) == ("cli", "go-live date agreed")


def test_the_service_refuses_the_same_way_for_every_caller_and_leaves_nothing_pending(session):
    feature = failing_pilot()
    session.commit()
    with pytest.raises(GateFailed) as refused:
        advance_stage(feature.key, "someone")
    assert refused.value.status == 409
    assert [d.field for d in refused.value.details] == FAILING
    # Even a caller that commits after the refusal writes nothing of the refused advance.
    session.commit()
    assert counts(feature)[:3] == (1, 1, 0)


@pytest.mark.parametrize("criterion, message", [
    ({"metric": "days_in_stage", "parameter": "min", "threshold": 7, "value": 3},
     "observed 3, required at least 7 (min)"),
    ({"metric": "adoption_rate", "parameter": "min", "threshold": 0.6, "value": 0.4, "ci_low": 0.25,
      "ci_high": 0.57}, "observed 0.4 (95 % interval 0.25-0.57), required at least 0.6 (min)"),
    ({"metric": "error_rate", "parameter": "max_increase", "threshold": 0.03, "value": 0.3,
      "ci_low": 0.219, "ci_high": 0.396, "baseline": 0.1, "limit": 0.13},
     "observed 0.3 (95 % interval 0.219-0.396), required the interval not entirely above "
     "baseline 0.1 + max_increase 0.03 = 0.13"),
    ({"metric": "error_rate", "parameter": "max_increase", "threshold": 0.03, "value": 0.3,
      "ci_low": 0.219, "ci_high": 0.396, "baseline": None, "note": "no baseline"},
     "observed no baseline; required an error rate and a baseline to compare"),
    ({"metric": "feedback_mean", "parameter": "min", "threshold": 3.5, "value": None, "responses": 0},
     "observed no rating during the stage, required a mean of at least 3.5 (min)"),
    ({"metric": "feedback_mean", "parameter": "min", "threshold": 3.5, "value": 3.25, "responses": 4},
     "observed mean rating 3.25 from 4 response(s), required at least 3.5 (min)"),
])
def test_each_criterion_says_observed_against_required(criterion, message):
    from app.services.rollout.gates import observed_vs_required

    assert observed_vs_required(criterion) == message
