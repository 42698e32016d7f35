"""A feature's variants: define them or change their weights, promote the winner, compare them."""

from __future__ import annotations

from datetime import timedelta

from flask import jsonify, request

from app.api import bp, parsed_body
from app.api.declare import accepts, answers
from app.api.kpis import _day
from app.db import db, utcnow
from app.errors import Collector
from app.schemas.responses import DAY, NUM, STR, ref
from app.schemas.variants import VariantPromotion, VariantsPut
from app.security import acting_identity, requires
from app.services.kpi_reads import variant_figures
from app.services.rollout import promotion, variants
from app.services.rollout import transitions as rollout


@bp.put("/features/<key>/variants")
@requires("rollout:write")
@accepts(VariantsPut)
@answers(ref("Feature"))
def put_variants(key: str):
    """Define the feature's variants, or change their weights (a transition with its effective time),
    payloads, costs and decision rule."""
    # The schema judged the list and the rule whole; the service checks them against the feature.
    variants.define(key, parsed_body("invalid variants"), acting_identity().name)
    db.session.commit()
    return jsonify(rollout.feature_state(key))


@bp.post("/features/<key>/variants/<name>/promote")
@requires("rollout:write")
@accepts(VariantPromotion)
@answers(ref("Feature"))
def promote_variant(key: str, name: str):
    """Give one variant weight 100 % (the others 0): every exposed person gets it; audited. The
    current stage's variant criteria must pass for it (else 409 naming them), or ``override``."""
    checked = parsed_body("invalid promotion")
    promotion.promote(key, name, acting_identity().name, checked.reason, checked.override,
                      checked.effective_at)
    db.session.commit()
    return jsonify(rollout.feature_state(key))


def _positive(name: str, default: float, problems) -> float:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e9:
        problems.add(name, f"must be a positive number, not {raw!r}")
        return default
    return value


@bp.get("/features/<key>/variants/comparison")
@requires("read")
@answers(ref("VariantComparison"), query={"start": DAY, "end": DAY, "control": STR,
                                          "adoption_difference": NUM, "net_eur_difference": NUM})
def compare_variants(key: str):
    """Each variant against a control over [start, end]: figures, differences with 95 % intervals,
    people needed per variant, sample-ratio check beside the SDKs' counts, the decision."""
    problems = Collector()
    end = _day("end", utcnow().date(), problems)
    start = _day("start", (end or utcnow().date()) - timedelta(days=29), problems)
    if start and end and start > end:
        problems.add("start", "must not be after end")
    adoption = _positive("adoption_difference", 0.05, problems)
    net = _positive("net_eur_difference", 1.0, problems)
    problems.raise_if_any("invalid query")
    # _day adds a problem whenever it gives None, so both are dates past raise_if_any.
    assert start is not None and end is not None
    return jsonify(variant_figures.comparison(key, start, end, request.args.get("control") or None,
                                              adoption, net))
