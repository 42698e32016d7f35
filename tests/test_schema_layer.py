"""The schema layer (app/schemas): one mapping from pydantic's errors to the contract's details,
the models' own wording, and the OpenAPI document generated from the same models."""

from __future__ import annotations

import pytest

from app.errors import Collector, ValidationFailed
from app.schemas.common import parse, validate, validate_rows
from app.schemas.events import Event
from app.schemas.features import FeatureIn, StagesIn
from app.schemas.people import CohortIn

EVENT = {"event_id": "e1", "feature": "f", "person_id": "p1", "occurred_at": "2026-10-05T09:00:00Z",
         "ai_assisted": True, "outcome": "success"}


def _details(model, data, **kwargs) -> list[tuple]:
    problems = Collector()
    assert validate(model, data, problems, **kwargs) is None
    return [(d.index, d.field, d.message) for d in problems.details]


def test_nested_fields_are_named_by_their_path_and_list_items_by_index():
    body = {"key": "k", "name": "K", "stages": [{"name": "a"}, {"name": "b", "percentage": 101}]}
    assert _details(FeatureIn, body) == [(None, "stages[1].percentage", "must be an integer from 0 to 100")]
    # An item of a list field of one body: the list's name and the item's index.
    assert _details(CohortIn, {"members": ["a", 7]}) == [(1, "members", "must be a string")]


def test_rows_of_a_batch_are_named_by_their_index_and_json_types_are_not_coerced():
    problems = Collector()
    rows = [EVENT, {**EVENT, "ai_assisted": "true", "cost_eur": "1"}, "no object"]
    good = validate_rows(Event, rows, problems, indices=[2, 3, 4], row_field="row")
    assert [index for index, _ in good] == [2]
    assert [(d.index, d.field, d.message) for d in problems.details] == [
        (3, "ai_assisted", "must be true or false"), (3, "cost_eur", "must be a number"),
        (4, "row", "must be an object")]


def test_an_unknown_field_is_refused_first_and_alone():
    body = {"stages": [{"name": "", "colour": "red"}], "reason": ""}
    with pytest.raises(ValidationFailed) as refused:
        parse(StagesIn, body, "invalid stages")
    assert [(d.field, d.message) for d in refused.value.details] == [("stages[0].colour", "unknown field")]
    with pytest.raises(ValidationFailed) as refused:
        parse(StagesIn, {**body, "stages": [{"name": ""}]}, "invalid stages")
    assert refused.value.message == "invalid stages"
    assert {d.field for d in refused.value.details} == {"stages[0].name", "reason"}


def test_timestamps_need_an_offset_and_stay_within_the_plausible_range():
    assert _details(Event, {**EVENT, "occurred_at": "2026-10-05T09:00:00"}) == [
        (None, "occurred_at", "needs a UTC offset (e.g. Z)")]
    assert _details(Event, {**EVENT, "occurred_at": "1969-12-31T23:59:59Z"}) == [
        (None, "occurred_at", "must not be before 1970-01-01")]
    assert "in the future" in _details(Event, {**EVENT, "occurred_at": "2999-01-01T00:00:00Z"})[0][2]
    parsed = parse(Event, {**EVENT, "occurred_at": "2026-10-05T11:00:00+02:00"}, "x")
    assert parsed.occurred_at.isoformat() == "2026-10-05T09:00:00+00:00"


def test_the_context_lets_a_model_judge_what_only_the_database_knows():
    stage = {"name": "s", "cohorts": ["known", "ghost"]}
    body = {"key": "k", "name": "K", "stages": [stage]}
    assert parse(FeatureIn, body, "x").stages[0].cohorts == ["known", "ghost"]  # no context: not judged
    assert _details(FeatureIn, body, context={"cohorts": {"known": object()}}) == [
        (None, "stages[0].cohorts", "unknown cohort 'ghost'")]


def test_the_document_bodies_are_the_models_schemas(client):
    document = client.get("/api/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    assert schemas["FeatureIn"]["additionalProperties"] is False
    assert set(schemas["FeatureIn"]["properties"]) == set(FeatureIn.model_fields)
    assert schemas["Event"]["properties"]["outcome"]["enum"] == ["success", "error", "corrected", "abandoned"]
    percentage = schemas["StageIn"]["properties"]["percentage"]
    assert (percentage["minimum"], percentage["maximum"]) == (0, 100)
    body = document["paths"]["/features/{key}/stages"]["put"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/StagesIn"}
    trainings = schemas["TrainingIn"]["properties"]["attendees"]["items"]
    assert trainings == {"anyOf": [{"type": "string"}, {"$ref": "#/components/schemas/AttendeeIn"}]}
