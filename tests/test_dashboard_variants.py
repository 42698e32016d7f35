"""The Compare variants page (dashboards/variants/): its promote action as the callbacks call it
(roles from the matrix, a required reason, the service's effect), its data and its rendering."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.db import db
from app.errors import ValidationFailed
from app.models import AuditEntry, FeatureVariant
from app.security import PERMISSIONS, Identity
from dashboards.variants import actions
from dashboards.variants import data as variant_data
from dashboards.variants import view as vv
from tests.test_variant_comparison import KEY, world  # noqa: F401  (the fixture)

ROLES = ("admin", "product", "change_manager", "executive")


def who(role: str) -> Identity:
    return Identity(name=f"{role}@corp.test", role=role)


def _weights() -> dict[str, int]:
    db.session.expire_all()
    return {v.name: v.weight for v in db.session.scalars(select(FeatureVariant))}


@pytest.mark.parametrize("role", ROLES)
def test_only_the_roles_of_the_matrix_may_promote(world, role):  # noqa: F811
    assert actions.may_promote_variants(who(role)) is (role in PERMISSIONS["rollout:write"][1])
    assert actions.may_promote_variants(who(role)) is (role in ("admin", "product"))  # by hand
    if role in ("admin", "product"):
        return
    with pytest.raises(actions.NotAllowed, match="promote variants"):
        actions.promote_variant(KEY, "fast", who(role), "why")
    db.session.rollback()
    assert _weights() == {"careful": 50, "fast": 50}


def test_a_promotion_needs_a_reason_and_an_existing_variant(world):  # noqa: F811
    for name, reason, field in (("fast", "  ", "reason"), ("nope", "won", "variant")):
        with pytest.raises(ValidationFailed) as refused:
            actions.promote_variant(KEY, name, who("product"), reason)
        assert [d.field for d in refused.value.details] == [field]
        db.session.rollback()
    assert _weights() == {"careful": 50, "fast": 50}
    actions.promote_variant(KEY, "fast", who("product"), "fewer minutes per reply")
    db.session.commit()
    assert _weights() == {"careful": 0, "fast": 100}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "feature.variants.promote"))
    assert (entry.actor, entry.reason) == ("product@corp.test", "fewer minutes per reply")
    assert [v["weight"] for v in json.loads(entry.after)["variants"]] == [0, 100]


def _text(component) -> str:
    """Every text node of a Dash component tree."""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(_text(c) for c in component)
    children = getattr(component, "children", None)
    return "" if children is None else _text(children)


def test_the_page_data_and_rendering_show_every_figure_and_no_nan(world):  # noqa: F811
    assert variant_data.feature_options() == [{"label": f"Replies ({KEY})", "value": KEY}]
    comparison = variant_data.comparison(KEY, "2026-10", None)
    assert comparison["control"] == "careful"
    shown = " ".join(_text(part) for part in (vv.figures_table(comparison), vv.differences_table(comparison),
                                              vv.sample_ratio(comparison), vv.decision(comparison)))
    assert "nan" not in shown.lower() and "careful" in shown and "fast" in shown
    assert "excludes 0" in shown and "No decision rule" in shown
    weekly = variant_data.weekly(KEY, "2026-10")
    assert set(weekly["variant"]) == {"careful", "fast"}
    assert weekly["ai_tasks"].sum() == sum(v["ai_tasks"] for v in comparison["variants"])
    figure = vv.trend_figure(weekly, "error_rate", "error rate", ".0%", variant_data.marks(KEY))
    assert {trace["name"] for trace in figure["data"]} == {"careful", "fast"}
    assert vv.cost_figure(comparison)["data"][0]["x"] == ["careful", "fast"]
