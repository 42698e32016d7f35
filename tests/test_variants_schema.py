"""The rules of a variant list live once, in the schema layer (app/schemas/variants.py): every
problem of a list named at once in the contract's shape, the same whether the list comes with a new
feature or on its own; the variants service adds only what needs the database."""

from __future__ import annotations

import pytest

from app.db import db
from app.errors import Collector, ValidationFailed
from app.schemas.common import validate
from app.schemas.variants import VariantsPut
from app.services.rollout import transitions as rollout
from app.services.rollout import variants

FEATURE = {"key": "drafts", "name": "Drafts", "stages": [{"name": "all", "percentage": 100}]}
WEIGHT = "must be an integer percentage from 0 to 100, not {!r}"
ITEM = "must be an object {name, weight, payload?, cost_per_task_eur?}"


def _problems(body: dict) -> list[tuple[str, int | None, str]]:
    found = Collector()
    assert validate(VariantsPut, body, found) is None
    return [(d.field, d.index, d.message) for d in found.details]


def test_every_problem_of_a_list_is_named_at_once():
    # Item 0 is no object, item 2 has a bad weight and repeats item 1's name: three problems; the
    # sum is not judged while a weight cannot be read.
    sent = [7, {"name": "a", "weight": 50}, {"name": "a", "weight": "50"}, {"name": "b", "weight": 50}]
    assert _problems({"variants": sent}) == [
        ("variants", 0, ITEM),
        ("variants[2].weight", None, WEIGHT.format("50")),
        ("variants[2].name", None, "duplicate variant name 'a'"),
    ]


def test_the_sum_is_judged_even_when_a_name_is_bad():
    # 40 + 40 = 80, by hand; the bad name is named too.
    assert _problems({"variants": [{"name": "-x", "weight": 40}, {"name": "b", "weight": 40}]}) == [
        ("variants[0].name", None, "must be 1-100 letters, digits, '.', '_', '-' or spaces, starting "
                                   "with a letter or digit (not 'disabled', which SDKs answer when the "
                                   "feature is off)"),
        ("variants", None, "the weights must sum to 100, not 80"),
    ]


def test_the_rule_is_judged_with_the_list_it_came_with():
    split = [{"name": "gpt", "weight": 70}, {"name": "claude", "weight": 30}]
    assert _problems({"variants": split, "rule": {"control": "mistral"}}) == [
        ("rule.control", None, "must name one of the feature's variants (gpt, claude)")]
    assert _problems({"variants": split, "rule": {"control": "gpt", "max_error_rate_increase": 1.5,
                                                  "objective": "speed"}}) == [
        ("rule.max_error_rate_increase", None, "must be a share from 0 to 1 (0.02 = 2 points)"),
        ("rule.objective", None, "must be one of cost_per_task, net_eur_per_person")]
    assert _problems({"variants": split, "rule": "gpt"}) == [
        ("rule", None, "must be an object {control, max_error_rate_increase, objective}")]
    assert _problems({"variants": []}) == [("variants", None, "must not be empty")]


def test_a_good_body_reads_as_typed_values():
    body = VariantsPut.model_validate({"variants": [{"name": "gpt", "weight": 100, "cost_per_task_eur": 1}],
                                       "rule": {"control": "gpt"}, "reason": " as sent "})
    (only,) = body.variants
    assert (only.name, only.weight, only.payload, only.cost_per_task_eur) == ("gpt", 100, None, 1.0)
    assert body.rule is not None and body.rule.model_dump() == {
        "control": "gpt", "max_error_rate_increase": 0.0, "objective": "cost_per_task"}
    assert body.reason == " as sent "  # kept as sent, for the audit trail


def test_a_new_feature_and_a_new_split_refuse_a_list_alike(app):
    bad = [{"name": "a", "weight": 60}, {"name": "a", "weight": 30}]
    with pytest.raises(ValidationFailed) as at_creation:
        rollout.create_feature({**FEATURE, "variants": bad}, "ana")
    rollout.create_feature(FEATURE, "ana")
    with pytest.raises(ValidationFailed) as later:
        variants.define("drafts", {"variants": bad}, "ana")
    expected = [("variants[1].name", None, "duplicate variant name 'a'"),
                ("variants", None, "the weights must sum to 100, not 90")]
    for refused in (at_creation, later):
        assert [(d.field, d.index, d.message) for d in refused.value.details] == expected


def test_the_service_adds_only_what_needs_the_database(app):
    rollout.create_feature({**FEATURE, "variants": [{"name": "gpt", "weight": 50},
                                                    {"name": "claude", "weight": 50}]}, "ana")
    db.session.flush()
    with pytest.raises(ValidationFailed) as refused:
        variants.define("drafts", {"variants": [{"name": "gpt", "weight": 50},
                                                {"name": "mistral", "weight": 50}]}, "ana")
    assert [(d.field, d.message) for d in refused.value.details] == [
        ("variants[1].name", "unknown variant 'mistral': the feature has claude, gpt"),
        ("variants", "variant 'claude' is missing (variants are never removed; give it weight 0)")]
    with pytest.raises(ValidationFailed) as no_reason:
        variants.promote("drafts", "claude", "ana", "  ")
    assert [d.field for d in no_reason.value.details] == ["reason"]
    with pytest.raises(ValidationFailed) as unknown:
        variants.promote("drafts", "mistral", "ana", "won")
    assert [d.field for d in unknown.value.details] == ["variant"]
