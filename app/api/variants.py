"""A feature's variants: define them or change their weights, promote the winner, compare them."""

from __future__ import annotations

from flask import jsonify

from app.api import bp, json_body
from app.db import db
from app.schemas import parse
from app.schemas.variants import VariantPromotion, VariantsPut
from app.security import current_identity, requires
from app.services.rollout import transitions as rollout
from app.services.rollout import variants


@bp.put("/features/<key>/variants")
@requires("rollout:write")
def put_variants(key: str):
    """Define the feature's variants, or change their weights (a transition with its effective time),
    payloads, costs and decision rule."""
    raw = json_body(dict)
    checked = parse(VariantsPut, raw, "invalid variants")
    # The service re-reads the raw list: it names each problem by its index, as the parser does.
    body = {"variants": raw["variants"], "rule": raw.get("rule"), "reason": checked.reason}
    variants.define(key, body, current_identity().name, checked.effective_at)
    db.session.commit()
    return jsonify(rollout.feature_state(key))


@bp.post("/features/<key>/variants/<name>/promote")
@requires("rollout:write")
def promote_variant(key: str, name: str):
    """Give one variant weight 100 % (the others 0): every exposed person gets it; audited."""
    checked = parse(VariantPromotion, json_body(dict), "invalid promotion")
    variants.promote(key, name, current_identity().name, checked.reason, checked.effective_at)
    db.session.commit()
    return jsonify(rollout.feature_state(key))
