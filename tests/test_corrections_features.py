"""Archiving a feature and editing the stages it has not reached: API, CLI, flag, exposure, audit."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.db import db
from app.flags.compile import compile_payload
from app.models import AuditEntry, ExposureSpell, Feature, RolloutStage
from tests.helpers import gen_cohort, gen_person

PLAN = {
    "key": "summariser",
    "name": "Ticket summariser",
    "stages": [
        {"name": "champions", "cohorts": ["champions"], "percentage": 0},
        {"name": "pilot", "cohorts": ["pilot"], "percentage": 0},
        {"name": "ramp", "cohorts": [], "percentage": 50},
    ],
}


@pytest.fixture
def started(app, client, admin_headers):
    """The summariser at stage 1 (4 champions exposed); 40 people, 6 in the pilot cohort."""
    people = [gen_person(f"e{i:02d}") for i in range(40)]
    gen_cohort("champions", people[:4])
    gen_cohort("pilot", people[4:10])
    gen_cohort("sales", people[10:13])
    db.session.commit()
    assert client.post("/api/v1/features", json=PLAN, headers=admin_headers).status_code == 201
    r = client.post("/api/v1/features/summariser/advance", json={"reason": "go"}, headers=admin_headers)
    assert r.get_json()["current_stage"] == 1 and r.get_json()["exposed_now"] == 4
    return people


def _post(client, headers, path, body=None, expect=200):
    r = client.post(f"/api/v1/features/summariser/{path}", json=body if body is not None else {"reason": "r"},
                    headers=headers)
    assert r.status_code == expect, r.get_json()
    return r.get_json()


def _flag(environment="production") -> dict:
    return next(f for f in compile_payload(environment)["features"] if f["name"] == "summariser")


def test_archive_takes_the_feature_off_and_out_of_the_lists_but_keeps_its_history(started, client,
                                                                                   admin_headers):
    body = _post(client, admin_headers, "archive", {"reason": "replaced by v2"})
    assert body["archived"] is True and body["archived_at"]
    assert body["exposed_now"] == 0 and body["current_stage"] == 1  # the stage is kept
    assert body["history"][-1]["action"] == "archive" and body["history"][-1]["reason"] == "replaced by v2"
    assert len(body["history"]) == 2  # the advance stays
    for environment in ("production", "development"):
        flag = _flag(environment)
        assert flag["enabled"] is False and flag["strategies"] == []
    # Exposure spells are closed, not deleted: the KPIs of the past keep their audience.
    spells = db.session.scalars(select(ExposureSpell)).all()
    assert len(spells) == 4 and all(s.end_at is not None for s in spells)
    assert client.get("/api/v1/features", headers=admin_headers).get_json() == []
    listed = client.get("/api/v1/features?include_archived=true", headers=admin_headers).get_json()
    assert [(f["key"], f["archived"]) for f in listed] == [("summariser", True)]
    assert client.get("/api/v1/features?include_archived=maybe", headers=admin_headers).status_code == 422
    kpis = client.get("/api/v1/features/summariser/kpis?start=2026-01-01&end=2026-01-31",
                      headers=admin_headers)
    assert kpis.status_code == 200
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "feature.archive"))
    assert json.loads(audit.before)["archived"] is False and json.loads(audit.after)["archived"] is True
    assert audit.reason == "replaced by v2"


def test_an_archived_feature_refuses_transitions_until_unarchived(started, client, admin_headers):
    _post(client, admin_headers, "archive")
    for action in ("advance", "rollback", "kill"):
        body = _post(client, admin_headers, action, expect=409)
        assert body["details"][0]["field"] == "archived", action
    assert _post(client, admin_headers, "archive", expect=409)["details"][0]["field"] == "archived"
    body = _post(client, admin_headers, "unarchive", {"reason": "v2 cancelled"})
    assert body["archived"] is False and body["current_stage"] == 1 and body["exposed_now"] == 4
    assert _flag()["enabled"] is True
    assert [h["action"] for h in body["history"]] == ["advance", "archive", "unarchive"]
    assert _post(client, admin_headers, "unarchive", expect=409)["details"][0]["field"] == "archived"
    assert _post(client, admin_headers, "advance")["current_stage"] == 2


def test_archive_needs_a_reason_and_the_right_permission(started, client, admin_headers, ingest_headers):
    assert _post(client, admin_headers, "archive", {}, expect=422)["details"][0]["field"] == "reason"
    assert _post(client, admin_headers, "archive", {"reason": "x", "when": "now"},
                 expect=422)["details"][0]["field"] == "when"
    _post(client, ingest_headers, "archive", expect=403)
    assert db.session.scalar(select(Feature.archived_at)) is None


def _stages(client, headers, stages, expect=200, reason="pilot cohort renamed"):
    r = client.put("/api/v1/features/summariser/stages", json={"stages": stages, "reason": reason},
                   headers=headers)
    assert r.status_code == expect, r.get_json()
    return r.get_json()


def test_stages_not_yet_reached_can_change_be_added_and_removed(started, client, admin_headers):
    stage_ids = dict(db.session.execute(select(RolloutStage.position, RolloutStage.id)).all())
    plan = [
        PLAN["stages"][0],
        {"name": "sales pilot", "cohorts": ["sales", "pilot"], "percentage": 10},
        {"name": "ramp", "cohorts": [], "percentage": 50},
        {"name": "everyone", "cohorts": [], "percentage": 100},
    ]
    body = _stages(client, admin_headers, plan)
    assert [(s["name"], s["cohorts"], s["percentage"]) for s in body["stages"]] == [
        ("champions", ["champions"], 0), ("sales pilot", ["pilot", "sales"], 10), ("ramp", [], 50),
        ("everyone", [], 100)]
    assert body["stages"][3]["audience_size"] == 40
    assert body["current_stage"] == 1 and body["exposed_now"] == 4  # nobody's exposure moved
    # The rows of the stages kept keep their ids (gate results and the history point at positions).
    db.session.expire_all()
    now = dict(db.session.execute(select(RolloutStage.position, RolloutStage.id)).all())
    assert all(now[p] == stage_ids[p] for p in (1, 2, 3))
    # Shorter again: stage 4 goes.
    body = _stages(client, admin_headers, plan[:2])
    assert len(body["stages"]) == 2
    assert db.session.scalar(select(func.count()).select_from(RolloutStage)) == 2
    audits = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "feature.stages")
                                .order_by(AuditEntry.id)).all()
    assert len(audits) == 2 and audits[0].reason == "pilot cohort renamed"
    before, after = json.loads(audits[0].before), json.loads(audits[0].after)
    assert [s["name"] for s in before["stages"]] == ["champions", "pilot", "ramp"]
    assert [s["name"] for s in after["stages"]] == ["champions", "sales pilot", "ramp", "everyone"]


def test_a_reached_stage_cannot_change_409_naming_it(started, client, admin_headers):
    changed = [dict(PLAN["stages"][0], percentage=5), *PLAN["stages"][1:]]
    body = _stages(client, admin_headers, changed, expect=409)
    assert [d["field"] for d in body["details"]] == ["stages[0]"]
    assert "stage 1" in body["details"][0]["message"]
    body = _stages(client, admin_headers, [], expect=422)  # as at creation: a plan has stages
    assert body["details"][0]["field"] == "stages"
    # Dropping the reached stage is changing it.
    body = _stages(client, admin_headers, PLAN["stages"][1:], expect=409)
    assert body["details"][0]["field"] == "stages[0]"
    db.session.expire_all()
    assert [s.name for s in db.session.scalars(select(RolloutStage).order_by(RolloutStage.position))] == [
        "champions", "pilot", "ramp"]


def test_stage_edits_validate_as_creation_does(started, client, admin_headers):
    # An unknown field is refused first, on its own (the contract's one mechanism for every body).
    coloured = [PLAN["stages"][0], {"name": "x", "cohorts": [], "percentage": 1, "colour": "red"}]
    body = _stages(client, admin_headers, coloured, expect=422)
    assert [d["field"] for d in body["details"]] == ["stages[1].colour"]
    bad = [PLAN["stages"][0], {"name": "", "cohorts": ["ghosts"], "percentage": 101}]
    body = _stages(client, admin_headers, bad, expect=422)
    assert {d["field"] for d in body["details"]} == {"stages[1].name", "stages[1].cohorts",
                                                    "stages[1].percentage"}
    body = _stages(client, admin_headers, PLAN["stages"], expect=422, reason="")
    assert body["details"][0]["field"] == "reason"


def test_patch_changes_one_stage_not_yet_reached(started, client, admin_headers):
    url = "/api/v1/features/summariser/stages"
    r = client.patch(f"{url}/3", json={"percentage": 25, "reason": "slower ramp"}, headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    assert [s["percentage"] for s in r.get_json()["stages"]] == [0, 0, 25]
    r = client.patch(f"{url}/1", json={"percentage": 25, "reason": "x"}, headers=admin_headers)
    assert r.status_code == 409 and r.get_json()["details"][0]["field"] == "stages[0]"
    r = client.patch(f"{url}/4", json={"percentage": 25, "reason": "x"}, headers=admin_headers)
    assert r.status_code == 404
    r = client.patch(f"{url}/2", json={"percentage": 25}, headers=admin_headers)
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "reason"
    r = client.patch(f"{url}/2", json={"position": 1, "reason": "x"}, headers=admin_headers)
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "position"


def test_an_archived_feature_keeps_its_plan(started, client, admin_headers):
    _post(client, admin_headers, "archive")
    body = _stages(client, admin_headers, PLAN["stages"][:2], expect=409)
    assert body["details"][0]["field"] == "archived"


def test_the_cli_archives_and_edits_stages(started, runner, tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"stages": [PLAN["stages"][0], {"name": "all", "percentage": 100}]}))
    stages = ["liftoff", "features", "stages", "summariser"]
    result = runner.invoke(args=[*stages, str(plan), "--reason", "simpler"])
    assert result.exit_code == 0, result.output
    assert "2 stages, at stage 1" in result.output
    reached = tmp_path / "reached.json"
    reached.write_text(json.dumps([{"name": "x", "cohorts": [], "percentage": 1}]))
    result = runner.invoke(args=[*stages, str(reached), "--reason", "x"])
    assert result.exit_code == 1 and "stages[0]" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    result = runner.invoke(args=[*stages, str(broken), "--reason", "x"])
    assert result.exit_code == 1 and "not JSON" in result.output
    result = runner.invoke(args=["liftoff", "features", "archive", "summariser", "--reason", "gone"])
    assert result.exit_code == 0 and "archived" in result.output
    result = runner.invoke(args=["liftoff", "features", "unarchive", "summariser", "--reason", "back"])
    assert result.exit_code == 0 and "back at stage 1" in result.output
    for group in ("costs", "events", "features"):
        assert runner.invoke(args=["liftoff", group, "--help"]).exit_code == 0
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(RolloutStage)) == 2
    actors = list(db.session.scalars(select(AuditEntry.actor).where(
        AuditEntry.action.in_(["feature.archive", "feature.unarchive", "feature.stages"]))))
    assert len(actors) == 3 and all(a.startswith("cli") for a in actors)
