"""Rollout authoring's pieces without a browser: the stage form's rows and error placement, the
portfolio's search/filter/sort, "Everyone" only at 100 %, history by stage names, and the
create action's permission (the browser tests do the whole workflows)."""

from __future__ import annotations

import pandas as pd
import pytest

from app.db import db
from app.errors import Detail, ValidationFailed
from app.security import Identity
from app.services.rollout import transitions as rollout
from dashboards.rollout import data, stage_form
from dashboards.rollout.actions import NotAllowed, create_feature
from tests.dashboard_support import seed_company


@pytest.fixture
def company(app):
    seeded = seed_company(with_users=False)
    db.session.commit()
    return seeded


def who(role: str) -> Identity:
    return Identity(name=f"{role}@corp.test", role=role)


def _rows(*stages) -> list:
    values = []
    for slot in range(stage_form.SLOTS):
        values += list(stages[slot]) if slot < len(stages) else ["", [], None]
    return values


def test_the_form_rows_become_the_plan_and_errors_go_back_under_their_rows():
    values = _rows(("Champions", ["champions"], 0), ("", [], None), ("  Ramp ", [], 40.0), ("", [], 0))
    stages, slots = stage_form.collect(values)
    assert stages == [{"name": "Champions", "cohorts": ["champions"], "percentage": 0},
                      {"name": "Ramp", "cohorts": [], "percentage": 40}]
    assert slots == [0, 2]  # the empty second row is no stage
    # A row with only a percentage is a stage (without a name: the service says so).
    assert stage_form.collect(_rows(("", [], 10)))[0] == [{"name": "", "cohorts": [], "percentage": 10}]
    errors = stage_form.row_errors([Detail("stages[1].percentage", "must be 0 to 100"),
                                    Detail("key", "taken"), Detail("stages[0]", "reached")], slots)
    assert errors == ["reached", "", "percentage: must be 0 to 100"] + [""] * (stage_form.SLOTS - 3)
    # The editor's rows start after the reached stages: stages[3] is its second filled row.
    assert stage_form.row_errors([Detail("stages[3].name", "empty")], [0, 4], first_row=2)[4] == "name: empty"


def test_the_create_action_is_the_apis_service_and_checks_the_role(company):
    spec = {"key": "contract-review", "name": "Contract review", "stages": [
        {"name": "Champions", "cohorts": ["champions"], "percentage": 0}]}
    for role in ("executive", "change_manager"):
        with pytest.raises(NotAllowed):
            create_feature(spec, who(role))
    with pytest.raises(ValidationFailed) as refused:
        create_feature({**spec, "stages": [{"name": "All", "cohorts": ["nobody"], "percentage": 101}]},
                       who("product"))
    assert [d.field for d in refused.value.details] == ["stages[0].cohorts", "stages[0].percentage"]
    feature = create_feature(spec, who("product"))
    db.session.commit()
    assert (feature.key, feature.owner, feature.current_stage) == ("contract-review", "product@corp.test", 0)


def test_everyone_only_when_the_stage_is_everybody(company):
    rollout.create_feature({"key": "cohort-only", "name": "Cohort only", "stages": [
        {"name": "Everyone", "cohorts": ["champions"], "percentage": 0}]}, "ana")
    rollout.advance("cohort-only", "ana")
    rollout.create_feature({"key": "all-in", "name": "All in", "stages": [
        {"name": "All", "cohorts": [], "percentage": 100}]}, "ana")
    rollout.advance("all-in", "ana")
    db.session.commit()
    frame = data.portfolio().set_index("key")
    # Both at their last stage; only the 100 % one reaches everybody, whatever the stage is called.
    assert frame.loc["cohort-only", "status"] == frame.loc["all-in", "status"] == "complete"
    assert not frame.loc["cohort-only", "everyone"] and frame.loc["all-in", "everyone"]
    assert data.rollout_overview("cohort-only")["everyone"] is False


def test_history_names_the_stages(company):
    history = data.transitions("quote-assistant")
    assert list(zip(history["from_name"], history["to_name"], strict=True)) == [
        ("Champions", "Pilot"), ("off", "Champions")]


def test_the_portfolio_is_searched_filtered_and_sorted():
    frame = pd.DataFrame({
        "key": ["a-notes", "b-quote", "c-cv"], "name": ["Notes", "Quote helper", "CV screening"],
        "stage": [0, 2, 1], "stage_name": ["Champions", "Pilot", "Champions"],
        "status": ["off", "live", "killed"], "gate": ["none", "failed", "passed"],
        "exposed_now": [0, 8, 0], "roi_pct": [float("nan"), 12.5, -40.0],
        "adoption_rate": [float("nan"), 0.5, 0.1]})

    def keys(**kw) -> list[str]:
        args = {"search": None, "stages": None, "statuses": None, "gate_results": None, "sort": "name",
                "order": "asc", **kw}
        return list(data.select_rows(frame, **args)["key"])

    assert keys() == ["c-cv", "a-notes", "b-quote"]  # by name, any case
    assert keys(search="QUO") == ["b-quote"] and keys(search="c-cv") == ["c-cv"]
    # A feature not started has no stage: "Champions" matches only the one killed at Champions.
    assert keys(stages=["Champions"]) == ["c-cv"] and keys(stages=[""]) == ["a-notes"]
    assert keys(statuses=["live", "killed"]) == ["c-cv", "b-quote"]
    assert keys(gate_results=["failed"]) == ["b-quote"]
    assert keys(sort="roi_pct", order="desc") == ["b-quote", "c-cv", "a-notes"]  # no figure: last
    assert keys(sort="roi_pct", order="asc") == ["c-cv", "b-quote", "a-notes"]
    assert keys(sort="exposed_now", order="desc")[0] == "b-quote"
    assert keys(sort="'; drop table") == keys()  # an unknown column sorts by name
