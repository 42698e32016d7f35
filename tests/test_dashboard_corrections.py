"""The dashboard's corrections (dashboards/rollout/correction_actions.py, the cost voids of
dashboards/kpi/actions.py), called as its callbacks call them: the permission of the matrix per
role, a required reason, and the services' effects."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.db import db, utcnow
from app.errors import NotFound, ValidationFailed
from app.models import AuditEntry, CostEntry, Feature, RolloutStage
from app.security import PERMISSIONS, Identity, NotAllowed
from app.services.rollout import transitions as rollout
from dashboards.kpi import actions as cost_actions
from dashboards.kpi import data as kpi_data
from dashboards.rollout import correction_actions as actions
from tests.helpers import gen_cohort, gen_person

ROLES = ("admin", "product", "change_manager", "executive")


@pytest.fixture
def feature(app):
    people = [gen_person(f"p{i}") for i in range(10)]
    gen_cohort("champions", people[:3])
    rollout.create_feature({"key": "drafts", "name": "Drafts", "stages": [
        {"name": "champions", "cohorts": ["champions"], "percentage": 0},
        {"name": "ramp", "cohorts": [], "percentage": 50}]}, "setup")
    rollout.advance("drafts", "setup")
    db.session.add(CostEntry(feature_id=db.session.scalar(select(Feature.id)), month="2026-10",
                             amount_eur=100.0, category="licences", recorded_at=utcnow()))
    db.session.commit()
    return "drafts"


def who(role: str) -> Identity:
    return Identity(name=f"{role}@corp.test", role=role)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_matrix_gives_it(app, role):
    roles = {p: PERMISSIONS[p][1] for p in ("features:archive", "features:write", "costs:void")}
    assert actions.may_archive(who(role)) is (role in roles["features:archive"])
    assert actions.may_edit_stages(who(role)) is (role in roles["features:write"])
    assert cost_actions.may_void_costs(who(role)) is (role in roles["costs:void"])
    # By hand: product and admin correct, the others do not.
    assert actions.may_archive(who(role)) is (role in ("admin", "product"))
    assert cost_actions.may_void_costs(who(role)) is (role in ("admin", "product"))
    assert not actions.may_archive(Identity(name="token:x", token_kind="admin"))  # the dashboard is for users
    assert not actions.may_archive(None)


@pytest.mark.parametrize("role", ["change_manager", "executive"])
def test_roles_without_the_permission_are_refused_and_nothing_changes(feature, role):
    cost_id = db.session.scalar(select(CostEntry.id))
    with pytest.raises(NotAllowed):
        actions.set_archived(feature, who(role), "why", archived=True)
    with pytest.raises(NotAllowed):
        actions.save_future_stages(feature, who(role), "why", "[]")
    with pytest.raises(NotAllowed):
        cost_actions.void_cost_entry(cost_id, who(role), "why")
    db.session.rollback()
    assert db.session.scalar(select(Feature.archived_at)) is None
    assert db.session.scalar(select(CostEntry.voided_at)) is None
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.actor == f"{role}@corp.test")) is None


def test_archive_and_unarchive_from_the_dashboard(feature):
    with pytest.raises(ValidationFailed):
        actions.set_archived(feature, who("product"), "  ", archived=True)
    found = actions.set_archived(feature, who("product"), "replaced", archived=True)
    db.session.commit()
    assert found.archived_at is not None and actions.plan_state(feature)["archived"] is True
    actions.set_archived(feature, who("admin"), "back", archived=False)
    db.session.commit()
    audits = db.session.execute(select(AuditEntry.action, AuditEntry.actor, AuditEntry.reason)
                                .where(AuditEntry.action.like("feature.%archive"))).all()
    assert [tuple(a) for a in audits] == [("feature.archive", "product@corp.test", "replaced"),
                                          ("feature.unarchive", "admin@corp.test", "back")]


def test_the_stage_editor_holds_the_stages_not_reached_and_keeps_the_reached_ones(feature):
    state = actions.plan_state(feature)
    assert state["current"] == 1 and state["reached"] == ["champions"]
    assert state["future"] == [{"name": "ramp", "cohorts": [], "percentage": 50}]
    edited = json.dumps([{"name": "ramp", "cohorts": [], "percentage": 20},
                         {"name": "everyone", "cohorts": [], "percentage": 100}])
    actions.save_future_stages(feature, who("product"), "slower ramp", edited)
    db.session.commit()
    plan = db.session.execute(select(RolloutStage.name, RolloutStage.percentage)
                              .order_by(RolloutStage.position)).all()
    assert [tuple(p) for p in plan] == [("champions", 0), ("ramp", 20), ("everyone", 100)]
    with pytest.raises(ValidationFailed) as refused:
        actions.save_future_stages(feature, who("product"), "x", "[not json")
    assert refused.value.details[0].field == "stages"
    with pytest.raises(ValidationFailed) as refused:
        actions.save_future_stages(feature, who("product"), "x", '{"name": "ramp"}')
    assert refused.value.details[0].field == "stages"
    # The form's list: a stage's detail names its index in the whole plan (after the reached one).
    with pytest.raises(ValidationFailed) as refused:
        actions.save_future_stages(feature, who("product"), "x", [{"name": "ramp", "percentage": 120}])
    assert [d.field for d in refused.value.details] == ["stages[1].percentage"]


def test_a_cost_entry_is_voided_from_the_month_list(feature):
    (entry,) = kpi_data.month_costs("2026-10")
    assert (entry["feature"], entry["amount_eur"], entry["voided"]) == ("drafts", 100.0, False)
    assert kpi_data.month_costs("2026-11") == []
    voided = cost_actions.void_cost_entry(entry["id"], who("product"), "entered twice")
    db.session.commit()
    assert voided["voided"] is True
    (listed,) = kpi_data.month_costs("2026-10")
    assert listed["voided"] is True and listed["void_reason"] == "entered twice"
    with pytest.raises(NotFound):
        cost_actions.void_cost_entry(entry["id"] + 1, who("product"), "x")
    with pytest.raises(ValidationFailed):
        cost_actions.void_cost_entry(entry["id"], who("product"), "")


def test_an_archived_feature_leaves_the_portfolio_and_goes_last_in_the_pickers(feature):
    from dashboards.rollout import data

    rollout.create_feature({"key": "alpha", "name": "Alpha", "stages": [
        {"name": "all", "cohorts": [], "percentage": 100}]}, "setup")
    db.session.commit()
    assert list(data.portfolio()["key"]) == ["alpha", "drafts"]
    actions.set_archived("alpha", who("admin"), "retired", archived=True)
    db.session.commit()
    assert list(data.portfolio()["key"]) == ["drafts"]
    assert data.is_archived("alpha") and not data.is_archived("drafts")
    assert [o["label"] for o in data.feature_options()] == ["Drafts (drafts)", "Alpha (alpha) · archived"]
    assert kpi_data.default_feature() == "drafts"
    assert data.rollout_overview("alpha")["status"] == "archived"
