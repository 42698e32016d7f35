"""The enablement page's data functions and its write path, called directly (no Dash, no browser):
role refusals, forged actions, feedback validation, triage transitions, action items, the gate
panel and the drift verdict."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.db import db, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import AuditEntry, DriftCheck, Feedback, GateEvaluation, RolloutTransition
from app.security import Identity
from app.services.enablement import activities as enablement
from app.services.enablement import feedback_triage
from dashboards.enablement import data, view
from dashboards.enablement.actions import (
    NotAllowed,
    add_action_item,
    complete_action_item,
    evaluate_gate_now,
    may_edit_enablement,
    may_evaluate_gates,
    may_promote,
    promote_with_gate,
    submit_feedback,
    triage_feedback,
)
from tests.enablement_builders import live_feature

ADMIN = Identity("admin@liftoff.test", role="admin")
PRODUCT = Identity("pm@liftoff.test", role="product")
CHANGE = Identity("cm@liftoff.test", role="change_manager")
EXEC = Identity("ceo@liftoff.test", role="executive")
TOKEN = Identity("token:ingest", token_kind="admin")


@pytest.fixture
def pilot(app):
    """A feature at stage 1 of 3 for 30 days, on the pilot-feedback-loop playbook, 12 people."""
    feature, members, cohort = live_feature(people=12, days_in_stage=30)
    db.session.commit()
    return feature, members


def _feedback_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Feedback))


def test_the_roles_follow_the_permission_matrix():
    assert [may_edit_enablement(i) for i in (ADMIN, PRODUCT, CHANGE, EXEC)] == [True, False, True, False]
    assert [may_promote(i) for i in (ADMIN, PRODUCT, CHANGE, EXEC)] == [True, True, False, False]
    assert [may_evaluate_gates(i) for i in (ADMIN, PRODUCT, CHANGE, EXEC)] == [True, True, True, False]
    # API tokens never act through the dashboard, whatever their kind.
    assert not may_edit_enablement(TOKEN) and not may_promote(TOKEN) and not may_edit_enablement(None)


def test_the_overview_shows_the_playbook_stage_that_applies_now(pilot):
    feature, _ = pilot
    overview = data.enablement_overview(feature.key)
    assert overview["playbook"]["key"] == "pilot-feedback-loop"
    stage = overview["stage"]
    assert stage["name"] == "Pilot kick-off" and stage["feedback_cadence"] == "weekly"
    assert stage["adkar"] == ["awareness", "desire"]
    assert "Feedback owner named for the pilot" in stage["checklist"]
    assert [c["metric"] for c in stage["gate"]][:2] == ["days_in_stage", "exposed_users"]
    assert stage["trainings"][0]["audience"] == "stage"

    feature.playbook_key = None
    db.session.flush()
    assert data.enablement_overview(feature.key)["playbook"] is None
    with pytest.raises(NotFound):
        data.enablement_overview("no-such-feature")


def test_training_completion_is_a_share_of_the_stage_audience(pilot):
    feature, members = pilot
    enablement.record_training(
        feature.key,
        {
            "stage": 1,
            "title": "Kick-off",
            "trainer": "Ana",
            "held_on": "2026-11-02",
            "attendees": [
                members[0].person_id,
                members[1].person_id,
                {"person_id": members[2].person_id, "completed": False},
            ],
        },
        "test",
    )
    sessions = data.training_sessions(feature.key)
    row = sessions.iloc[0]
    assert (row["attendees"], row["completed"], row["audience"]) == (3, 2, 12)
    assert row["completion_pct"] == pytest.approx(16.7)
    assert data.stage_completion(feature.key) == {
        "completed": 2,
        "audience": 12,
        "pct": pytest.approx(100 * 2 / 12),
    }


def test_a_change_manager_records_feedback_and_sees_it_listed(pilot):
    feature, members = pilot
    item = submit_feedback(
        feature.key,
        CHANGE,
        {
            "person_id": members[0].person_id,
            "rating": "2",
            "category": "correction",
            "severity": "critical",
            "comment": "Quoted 10 % VAT; it is 19 %.",
        },
    )
    db.session.commit()
    listed = data.feedback_items(feature.key)
    assert listed["id"].tolist() == [item.id]
    row = listed.iloc[0]
    assert (row["person_id"], row["rating"], row["category"], row["severity"], row["status"]) == (
        members[0].person_id,
        2,
        "correction",
        "critical",
        "open",
    )
    assert row["next_statuses"] == ["triaged"]
    # A correction lands in the dataset for the model team.
    assert "it is 19 %" in feedback_triage.export_corrections(feature.key, "csv")
    assert (
        db.session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "feedback.record"))
        == CHANGE.name
    )


@pytest.mark.parametrize("who", [EXEC, PRODUCT, TOKEN, None])
def test_a_forged_feedback_by_a_reader_is_refused_and_stores_nothing(pilot, who):
    feature, members = pilot
    with pytest.raises(NotAllowed) as refused:
        submit_feedback(feature.key, who, {"person_id": members[0].person_id, "rating": 5})
    assert refused.value.status == 403
    assert _feedback_count() == 0


def test_bad_feedback_names_every_field_and_stores_nothing(pilot):
    feature, members = pilot
    with pytest.raises(ValidationFailed) as bad:
        submit_feedback(
            feature.key, CHANGE, {"person_id": " ", "rating": 7, "category": "rant", "severity": "urgent"}
        )
    fields = {d.field for d in bad.value.details}
    assert fields == {"person_id", "rating", "category", "severity"}
    lines = data.error_lines(bad.value)
    assert lines[0] == "invalid feedback; nothing was stored"
    assert "rating: must be an integer from 1 to 5" in lines
    # Problems only the service knows (an unknown person) come back the same way.
    with pytest.raises(ValidationFailed) as unknown:
        submit_feedback(feature.key, CHANGE, {"person_id": "nobody-here", "rating": 3})
    assert "row 0: person_id: unknown person 'nobody-here'" in data.error_lines(unknown.value)
    with pytest.raises(ValidationFailed):
        submit_feedback(feature.key, CHANGE, {"person_id": members[0].person_id, "rating": None})
    assert _feedback_count() == 0


def test_triage_moves_open_triaged_fixed_verified_with_an_owner(pilot):
    feature, members = pilot
    item = submit_feedback(feature.key, CHANGE, {"person_id": members[1].person_id, "rating": 3})
    with pytest.raises(ValidationFailed) as no_owner:
        triage_feedback(item.id, "triaged", "  ", CHANGE)
    assert [d.field for d in no_owner.value.details] == ["owner"]
    triage_feedback(item.id, "triaged", "qa@liftoff.test", CHANGE)
    with pytest.raises(Conflict):  # no skipping to verified
        triage_feedback(item.id, "verified", None, CHANGE)
    triage_feedback(item.id, "fixed", None, ADMIN)
    assert data.feedback_items(feature.key).iloc[0]["next_statuses"] == ["verified", "triaged"]
    done = triage_feedback(item.id, "verified", None, CHANGE)
    assert (done.status, done.owner) == ("verified", "qa@liftoff.test")
    assert data.feedback_items(feature.key).iloc[0]["next_statuses"] == []


def test_the_feedback_list_shows_what_needs_action_a_page_at_a_time(pilot):
    feature, members = pilot
    made = [submit_feedback(feature.key, CHANGE, {"person_id": members[i % len(members)].person_id,
                                                  "rating": 1 + i % 5}) for i in range(30)]
    for item in made[:3]:  # the three oldest are settled
        triage_feedback(item.id, "triaged", "qa@liftoff.test", CHANGE)
        triage_feedback(item.id, "fixed", None, CHANGE)
        triage_feedback(item.id, "verified", None, CHANGE)
    everything = data.feedback_items(feature.key)
    open_ones = data.feedback_items(feature.key, needs_action=True)
    assert len(everything) == 30 and len(open_ones) == 27
    assert "verified" not in set(open_ones["status"])
    assert list(open_ones["id"]) == [m.id for m in reversed(made[3:])]  # newest first
    first = repr(view.feedback_list(open_ones, True, feature.key, view.FEEDBACK_PAGE))
    assert first.count("fb-owner") == view.FEEDBACK_PAGE == 25  # one owner field per shown row
    assert "Showing 25 of 27, newest first." in first
    second = repr(view.feedback_list(open_ones, True, feature.key, 2 * view.FEEDBACK_PAGE))
    assert second.count("fb-owner") == 27 and "27 items, newest first." in second


@pytest.mark.parametrize("who", [EXEC, PRODUCT])
def test_readers_may_not_triage_or_keep_action_items(pilot, who):
    feature, members = pilot
    item = submit_feedback(feature.key, ADMIN, {"person_id": members[1].person_id, "rating": 3})
    with pytest.raises(NotAllowed):
        triage_feedback(item.id, "triaged", "me", who)
    assert item.status == "open"
    with pytest.raises(NotAllowed):
        add_action_item(feature.key, who, "Do it", "me", "2026-12-01")
    assert data.action_items(feature.key).empty


def test_action_items_have_owners_and_due_dates_and_get_done(pilot):
    feature, _ = pilot
    with pytest.raises(ValidationFailed) as bad:
        add_action_item(feature.key, CHANGE, "Explain corrections", "", "someday")
    assert {d.field for d in bad.value.details} == {"owner", "due_on"}
    late = add_action_item(feature.key, CHANGE, "Name a feedback owner", "cm@liftoff.test", "2026-11-01")
    add_action_item(feature.key, CHANGE, "Explain corrections", "trainer@liftoff.test", "2026-12-15")
    items = data.action_items(feature.key, today=date(2026, 11, 22))
    assert items["title"].tolist() == ["Name a feedback owner", "Explain corrections"]
    assert items["overdue"].tolist() == [True, False]
    with pytest.raises(NotAllowed):
        complete_action_item(late.id, EXEC)
    complete_action_item(late.id, CHANGE)
    items = data.action_items(feature.key, today=date(2026, 11, 22))
    assert items["status"].tolist() == ["done", "open"] and items["overdue"].tolist() == [False, False]


def test_the_gate_panel_shows_each_criterion_with_its_numbers(pilot):
    feature, members = pilot
    assert data.latest_gate(feature.key) is None
    with pytest.raises(NotAllowed):
        evaluate_gate_now(feature.key, EXEC)
    assert db.session.scalar(select(func.count()).select_from(GateEvaluation)) == 0
    evaluation = evaluate_gate_now(feature.key, CHANGE)
    gate = data.latest_gate(feature.key)
    assert gate["id"] == evaluation.id and gate["passed"] is False  # nobody trained, no feedback
    frame = gate["criteria_frame"].set_index("metric")
    assert list(frame.index) == [
        "days_in_stage",
        "exposed_users",
        "training_completion",
        "feedback_mean",
        "open_critical_feedback",
    ]
    assert frame.loc["days_in_stage", "value"] == 30 and bool(frame.loc["days_in_stage", "passed"])
    assert frame.loc["training_completion", "numbers"] == "0 of 12 trained"
    assert not frame.loc["training_completion", "passed"]
    assert frame.loc["feedback_mean", "numbers"] == "0 responses"


def test_promotion_needs_the_product_role_and_an_overridden_failure_a_reason(pilot):
    feature, _ = pilot
    with pytest.raises(NotAllowed):
        promote_with_gate(feature.key, CHANGE, "looks fine")
    with pytest.raises(Conflict) as failed:
        promote_with_gate(feature.key, PRODUCT, "go")
    assert "training_completion" in {d.field for d in failed.value.details}
    db.session.rollback()
    with pytest.raises(ValidationFailed):
        promote_with_gate(feature.key, PRODUCT, "  ", override=True)
    db.session.rollback()
    promoted, evaluation = promote_with_gate(feature.key, PRODUCT, "sponsor accepts the risk", override=True)
    db.session.commit()
    assert promoted.current_stage == 2 and not evaluation.passed
    transition = db.session.get(RolloutTransition, evaluation.transition_id)
    assert transition.to_stage == 2 and transition.actor == PRODUCT.name and transition.gate_result
    assert (
        db.session.scalar(select(AuditEntry.reason).where(AuditEntry.action == "gate.override"))
        == "sponsor accepts the risk"
    )


def test_the_drift_verdict_is_the_latest_check_of_each_metric(pilot):
    feature, _ = pilot
    assert data.latest_drift(feature.key)["verdict"] == "none"
    now = utcnow()

    def check(at, metric, diverged):
        db.session.add(
            DriftCheck(
                feature_id=feature.id,
                checked_at=at,
                metric=metric,
                test="t",
                reference_start=now - timedelta(days=60),
                reference_end=now - timedelta(days=30),
                live_start=now - timedelta(days=7),
                live_end=now,
                reference_n=40,
                live_n=30,
                reference_value=0.1,
                live_value=0.3 if diverged else 0.1,
                p_value=0.001 if diverged else 0.5,
                diverged=diverged,
            )
        )

    check(now - timedelta(days=7), "error_rate", True)  # an older divergence no longer counts
    check(now, "error_rate", False)
    check(now, "duration_seconds", False)
    db.session.flush()
    latest = data.latest_drift(feature.key)
    assert latest["verdict"] == "stable" and len(latest["checks"]) == 2
    check(now + timedelta(minutes=1), "error_rate", True)
    db.session.flush()
    latest = data.latest_drift(feature.key)
    assert latest["verdict"] == "diverged" and latest["checks"]["diverged"].tolist() == [True]


def test_every_section_renders_from_its_data(pilot):
    """The renderers accept what the data functions return, filled and empty (no Dash app needed)."""
    feature, members = pilot
    empty = [
        view.trainings_card(data.training_sessions(feature.key)),
        view.feedback_list(data.feedback_items(feature.key), True, feature.key),
        view.action_list(data.action_items(feature.key), True),
        view.gate_panel(None, data.latest_drift(feature.key), True, True),
    ]
    for section, empty_id in zip(
        empty, ("trainings-empty", "feedback-empty", "actions-empty", "gate-empty"), strict=True
    ):
        assert f"'{empty_id}'" in repr(section)
    enablement.record_training(
        feature.key,
        {
            "stage": 1,
            "title": "Kick-off",
            "trainer": "Ana",
            "held_on": "2026-11-02",
            "attendees": [members[0].person_id],
        },
        "t",
    )
    item = submit_feedback(feature.key, CHANGE, {"person_id": members[0].person_id, "rating": 4})
    add_action_item(feature.key, CHANGE, "Name an owner", "cm@liftoff.test", "2026-12-01")
    evaluate_gate_now(feature.key, ADMIN)
    overview = data.enablement_overview(feature.key)
    rendered = repr(
        [
            view.playbook_card(overview, data.stage_completion(feature.key)),
            view.trainings_card(data.training_sessions(feature.key)),
            view.feedback_list(data.feedback_items(feature.key), True, feature.key),
            view.action_list(data.action_items(feature.key), True),
            view.gate_panel(data.latest_gate(feature.key), data.latest_drift(feature.key), True, True),
        ]
    )
    assert "Pilot kick-off" in rendered and "8 %" in rendered  # 1 of 12 trained
    assert "'gate-table'" in rendered and "'gate-promote'" in rendered
    assert f"'id': {item.id}, 'to': 'triaged'" in rendered.replace('"', "'")
    assert "action-done" in rendered and "corrections?format=jsonl" in rendered
    readonly = repr(view.feedback_list(data.feedback_items(feature.key), False, feature.key))
    assert "fb-triage" not in readonly
