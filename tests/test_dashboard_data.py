"""The dashboard's data functions and its one write path, called directly (no Dash, no browser)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select
from UnleashClient.utils import normalized_hash

from app.db import db, utcnow
from app.errors import NotFound, ValidationFailed
from app.models import Feature, Person, RejectedFetch, RolloutTransition, SdkInstance
from app.security import Identity
from dashboards.rollout import data
from dashboards.rollout.actions import NotAllowed, may_change_rollouts, perform_rollout_action
from tests.dashboard_support import seed_company


@pytest.fixture
def company(app):
    seeded = seed_company(with_users=False)
    db.session.commit()
    return seeded


def _feature(key: str) -> Feature:
    return db.session.scalar(select(Feature).where(Feature.key == key))


def test_an_empty_portfolio_is_an_empty_frame_with_its_columns(app):
    frame = data.portfolio()
    assert frame.empty
    assert list(frame.columns) == data.PORTFOLIO_COLUMNS


def test_the_portfolio_gives_each_feature_its_stage_exposure_and_since(company):
    frame = data.portfolio().set_index("key")
    assert list(frame.index) == ["cv-screening", "kb-assistant", "quote-assistant"]  # by name
    quote = frame.loc["quote-assistant"]
    assert (quote["status"], quote["stage"], quote["stage_count"]) == ("live", 2, 3)
    assert quote["stage_label"] == "Pilot (2 of 3)"
    assert frame["exposed_now"].to_dict() == company["exposed"]  # closed spells do not count
    assert frame.loc["kb-assistant", "stage_label"] == "off"
    assert pd.isna(frame.loc["kb-assistant", "since"])
    assert frame.loc["cv-screening", "stage_label"] == "killed"
    # "since" is when the latest transition took effect: the kill, two days ago.
    last_kill = db.session.scalar(
        select(RolloutTransition.effective_at).where(RolloutTransition.action == "kill"))
    assert frame.loc["cv-screening", "since"] == pd.Timestamp(last_kill)
    assert str(frame["since"].dt.tz) == "UTC"


def test_a_feature_at_its_last_stage_is_complete(company):
    feature = _feature("quote-assistant")
    feature.current_stage = 3
    db.session.flush()
    assert data.portfolio().set_index("key").loc["quote-assistant", "status"] == "complete"


def test_stage_audiences_are_cumulative_and_bucketed_like_the_sdks(company):
    overview = data.rollout_overview("quote-assistant")
    stages = overview["stages"]
    assert stages["audience"].tolist() == [3, 8, company["people"]]
    assert stages["state"].tolist() == ["done", "current", "next"]
    assert stages["cohorts"].tolist() == ["champions", "pilot", ""]

    # 50 %: the people whose Unleash bucket for this feature is at most 50, plus the champions.
    person_ids = db.session.execute(select(Person.id, Person.person_id)).all()
    half = {pk for pk, pid in person_ids if normalized_hash(pid, "kb-assistant") <= 50}
    champions = {pk for pk, pid in person_ids if pid in ("emp000", "emp001", "emp002")}
    kb = data.rollout_overview("kb-assistant")
    assert kb["stages"]["audience"].tolist() == [3, len(half | champions)]
    assert kb["status"] == "off" and kb["stages"]["state"].tolist() == ["next", "next"]


def test_rollout_position_is_the_state_without_audiences(company):
    assert data.rollout_position("cv-screening") == {"stage": 1, "stage_count": 2, "killed": True}
    assert data.rollout_position("kb-assistant") == {"stage": 0, "stage_count": 2, "killed": False}


def test_a_killed_feature_marks_the_stage_it_was_killed_at(company):
    overview = data.rollout_overview("cv-screening")
    assert overview["status"] == "killed" and overview["killed"]
    assert overview["stages"]["state"].tolist() == ["killed", "next"]
    assert overview["exposed_now"] == 0


def test_unknown_features_are_not_found(company):
    with pytest.raises(NotFound):
        data.rollout_overview("nope")
    with pytest.raises(NotFound):
        data.transitions("nope")


def test_history_and_audit_are_newest_first_and_only_for_that_feature(company):
    history = data.transitions("quote-assistant")
    assert history["reason"].tolist() == ["champions happy", "start with champions"]
    assert history["to_stage"].tolist() == [2, 1]
    audit = data.audit_entries("cv-screening")
    assert audit["action"].tolist() == ["rollout.kill", "rollout.advance"]
    assert data.audit_entries("kb-assistant").empty


def test_sdks_count_as_connected_only_while_they_poll(company):
    now = utcnow()
    db.session.add(SdkInstance(app_name="batch", instance_id="b-1", environment="development",
                               interval_ms=15000, first_seen=now - timedelta(days=1),
                               last_seen=now - timedelta(hours=1)))
    db.session.flush()
    sdks = data.connected_sdks(now).set_index("app_name")
    assert bool(sdks.loc["crm-web", "connected"]) is True
    assert bool(sdks.loc["batch", "connected"]) is False
    assert list(sdks.index) == ["crm-web", "batch"]  # most recently seen first


def test_rejected_fetches_cover_the_last_seven_days(company):
    now = utcnow()
    db.session.add(RejectedFetch(day=(now - timedelta(days=10)).strftime("%Y-%m-%d"), reason="missing",
                                 app_name="ancient", count=9, last_at=now - timedelta(days=10)))
    db.session.flush()
    rejected = data.rejected_fetches(today=now)
    assert rejected["app_name"].tolist() == ["old-app"]
    assert rejected["count"].tolist() == [4]


def test_feature_options_label_name_and_key(company):
    options = data.feature_options()
    assert {"label": "Quote assistant (quote-assistant)", "value": "quote-assistant"} in options
    assert len(options) == 3


def _transition_count() -> int:
    return db.session.scalar(select(func.count()).select_from(RolloutTransition))


@pytest.mark.parametrize("identity", [
    Identity(name="exec@liftoff.test", role="executive"),
    Identity(name="cm@liftoff.test", role="change_manager"),
    Identity(name="token:ci", token_kind="admin"),  # tokens use the API, not the dashboard
    None,
])
def test_only_product_and_admin_users_may_act(company, identity):
    before = _transition_count()
    assert not may_change_rollouts(identity)
    with pytest.raises(NotAllowed) as refused:
        perform_rollout_action("advance", "kb-assistant", identity, "because")
    assert refused.value.status == 403
    assert _transition_count() == before
    assert _feature("kb-assistant").current_stage == 0


def test_an_action_needs_a_known_action_and_a_reason(company):
    product = Identity(name="pm@liftoff.test", role="product")
    with pytest.raises(ValidationFailed) as missing:
        perform_rollout_action("advance", "kb-assistant", product, "   ")
    assert missing.value.details[0].field == "reason"
    with pytest.raises(ValidationFailed) as unknown:
        perform_rollout_action("promote", "kb-assistant", product, "why not")
    assert unknown.value.details[0].field == "action"


def test_a_product_user_advances_through_the_rollout_service(company):
    product = Identity(name="pm@liftoff.test", role="product")
    feature = perform_rollout_action("advance", "kb-assistant", product, "champions trained")
    db.session.commit()
    assert feature.current_stage == 1
    last = data.transitions("kb-assistant").iloc[0]
    assert (last["action"], last["actor"], last["reason"]) == ("advance", "pm@liftoff.test",
                                                               "champions trained")
    # The service opened exposure spells for the three champions: the portfolio shows them.
    assert data.portfolio().set_index("key").loc["kb-assistant", "exposed_now"] == 3
    assert not data.audit_entries("kb-assistant").empty


def test_kill_resume_and_rollback_go_through_the_service_too(company):
    admin = Identity(name="admin@liftoff.test", role="admin")
    killed = perform_rollout_action("kill", "quote-assistant", admin, "incident 42")
    assert killed.killed and killed.current_stage == 2
    assert data.portfolio().set_index("key").loc["quote-assistant", "exposed_now"] == 0
    resumed = perform_rollout_action("resume", "quote-assistant", admin, "fixed")
    assert not resumed.killed
    rolled_back = perform_rollout_action("rollback", "quote-assistant", admin, "pilot feedback")
    db.session.commit()
    assert rolled_back.current_stage == 1
    history = data.transitions("quote-assistant")
    assert history["action"].tolist()[:3] == ["rollback", "resume", "kill"]
    assert history["actor"].tolist()[:3] == ["admin@liftoff.test"] * 3
    # Back at the champions' stage: exactly the three champions are exposed.
    assert data.rollout_overview("quote-assistant")["exposed_now"] == 3
