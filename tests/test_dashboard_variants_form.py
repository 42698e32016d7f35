"""The Compare variants page's form to define or change a feature's variants, as its callbacks call
it: the rows as typed go through the API's service, each refusal names its row, nothing is half
written, only the roles of the matrix may save, and a weight change asks for confirmation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.db import db
from app.errors import ValidationFailed
from app.models import AuditEntry, Feature, FeatureVariant, VariantWeightChange
from app.services.rollout import transitions as rollout
from dashboards.variants import actions, define, form_values
from dashboards.variants import data as variant_data
from tests.test_dashboard_variants import ROLES, who
from tests.test_variant_comparison import KEY, world  # noqa: F401  (the fixture)

NEW = "summaries"


@pytest.fixture
def bare(app):
    """A feature without variants beside ``world``'s."""
    rollout.create_feature({"key": NEW, "name": "Summaries", "stages": [{"name": "all", "percentage": 100}]},
                           "ana")
    db.session.commit()


def _row(name="", weight="", payload="", cost="") -> dict:
    return {"name": name, "weight": weight, "payload": payload, "cost": cost}


def _variants(key: str) -> list[tuple]:
    db.session.expire_all()
    feature = db.session.scalar(select(Feature).where(Feature.key == key))
    return [(v.name, v.weight, json.loads(v.payload) if v.payload else None, v.cost_per_task_eur)
            for v in db.session.scalars(select(FeatureVariant).where(FeatureVariant.feature_id == feature.id)
                                        .order_by(FeatureVariant.position))]


def test_a_product_team_defines_variants_from_the_rows_as_typed(world, bare):  # noqa: F811
    rows = [_row("large", "70", '{"vendor": "openai", "model": "l", "prompt": 3}', "0.06"),
            _row(),  # an added row nobody filled: dropped
            _row("small", " 30 ", "", "0,01")]
    rule = define._rule("large", "2", "cost_per_task")
    assert rule == {"control": "large", "max_error_rate_increase": 0.02, "objective": "cost_per_task"}
    actions.define_variants(NEW, rows, who("product"), rule=rule, reason="try the small model",
                            effective="2026-11-02T09:30")
    db.session.commit()
    change = db.session.scalars(select(VariantWeightChange).order_by(VariantWeightChange.id.desc())).first()
    assert (change.action, json.loads(change.weights)) == ("create", {"large": 70, "small": 30})
    assert change.effective_at.replace(tzinfo=None).isoformat() == "2026-11-02T09:30:00"  # read as UTC
    assert _variants(NEW) == [("large", 70, {"vendor": "openai", "model": "l", "prompt": 3}, 0.06),
                              ("small", 30, None, 0.01)]
    feature = db.session.scalar(select(Feature).where(Feature.key == NEW))
    assert json.loads(feature.variant_rule) == rule
    # The form reads them back as it shows them, with the rule.
    got = variant_data.definition(NEW)
    assert got["weights"] == {"large": 70, "small": 30}
    assert got["rows"][1] == {"name": "small", "weight": "30", "payload": "", "cost": "0.01"}
    assert got["rule"] == rule
    assert NEW in {o["value"] for o in variant_data.feature_options()}


def test_bad_rows_are_refused_naming_each_row_and_nothing_is_written(world, bare):  # noqa: F811
    rows = [_row("large", "60"), _row(), _row("small", "30", "{not json"), _row("large", "x", "", "cheap")]
    with pytest.raises(ValidationFailed) as refused:
        actions.define_variants(NEW, rows, who("product"))
    db.session.rollback()
    fields = [d.field for d in refused.value.details]
    # The service counts the rows it was sent (the blank second row is not sent).
    assert fields == ["variants[1].payload", "variants[2].weight", "variants[2].cost_per_task_eur",
                      "variants[2].name"]
    assert [form_values.row_of(f, rows) for f in fields] == [2, 3, 3, 3]
    assert _variants(NEW) == []
    # Weights that do not sum to 100: named on the list, the sum said.
    with pytest.raises(ValidationFailed) as refused:
        actions.define_variants(NEW, [_row("a", "60"), _row("b", "30")], who("product"))
    db.session.rollback()
    assert [(d.field, d.message) for d in refused.value.details] == [
        ("variants", "the weights must sum to 100, not 90")]
    with pytest.raises(ValidationFailed) as refused:
        actions.define_variants(NEW, [_row("a", "100")], who("product"), effective="yesterday")
    assert [d.field for d in refused.value.details] == ["effective_at"]
    db.session.rollback()
    assert _variants(NEW) == [] and db.session.scalar(select(AuditEntry).where(
        AuditEntry.action.like("feature.variants%"), AuditEntry.entity_key == NEW)) is None


def test_a_weight_change_moves_people_asks_first_and_is_recorded(world):  # noqa: F811
    current = variant_data.definition(KEY)["weights"]
    assert current == {"careful": 50, "fast": 50}
    rows = [_row("careful", "20", "", "0.1"), _row("fast", "80")]
    assert form_values.moves_people(current, rows) is True
    same_split = [_row("careful", "50", '{"m": 1}', "0.1"), _row("fast", "50")]
    assert form_values.moves_people(current, same_split) is False  # a payload change moves nobody
    assert form_values.moves_people({}, rows) is False  # a first definition moves nobody
    # A recorded variant cannot be left out (weight 0 retires it): the service's refusal.
    with pytest.raises(ValidationFailed) as refused:
        actions.define_variants(KEY, [_row("careful", "100")], who("admin"))
    db.session.rollback()
    assert "'fast' is missing" in refused.value.details[0].message
    actions.define_variants(KEY, rows, who("admin"), reason="fast is cheaper")
    db.session.commit()
    assert [(n, w) for n, w, _, _ in _variants(KEY)] == [("careful", 20), ("fast", 80)]
    change = db.session.scalars(select(VariantWeightChange).order_by(VariantWeightChange.id.desc())).first()
    assert (change.action, json.loads(change.weights), change.reason) == (
        "reweight", {"careful": 20, "fast": 80}, "fast is cheaper")


@pytest.mark.parametrize("role", ROLES)
def test_only_the_roles_of_the_matrix_may_define(world, bare, role):  # noqa: F811
    rows = [_row("a", "50"), _row("b", "50")]
    if role in ("admin", "product"):
        actions.define_variants(NEW, rows, who(role))
        db.session.commit()
        assert [n for n, *_ in _variants(NEW)] == ["a", "b"]
        return
    with pytest.raises(actions.NotAllowed, match="define variants"):
        actions.define_variants(NEW, rows, who(role))
    db.session.rollback()
    assert _variants(NEW) == []
    # Without the permission the page shows no form, only who may use it.
    assert define.form(NEW, who(role)).children[1].children.id == "variants-define-refused"
