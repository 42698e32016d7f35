"""Finding a domain object by the key people and the API name it with: one lookup every room
shares (below all of them, so none has to import another room just to find a feature)."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.db import db
from app.errors import NotFound
from app.models import MODEL_VERSION_MAX, Feature, FeatureVariant, RolloutStage


def feature_by_key(key: str) -> Feature:
    """The feature with ``key``.

    :raises NotFound: when there is none.
    """
    feature = db.session.scalar(select(Feature).where(Feature.key == key))
    if feature is None:
        raise NotFound(f"no feature {key!r}")
    return feature


def feature_with_plan(key: str, for_update: bool = False) -> Feature:
    """The feature with ``key`` and its stages (with their cohorts) loaded.

    :param for_update: lock the feature's row: two concurrent transitions of one feature must not
        both start from the same stage.
    :raises NotFound: when there is none.
    """
    query = (
        select(Feature)
        .where(Feature.key == key)
        .options(selectinload(Feature.stages).selectinload(RolloutStage.cohorts))
    )
    if for_update:
        query = query.with_for_update(of=Feature).execution_options(populate_existing=True)
    feature = db.session.scalar(query)
    if feature is None:
        raise NotFound(f"no feature with key {key!r}")
    return feature


def variants_of(feature_id: int) -> list[FeatureVariant]:
    """The feature's variants in their recorded order."""
    return list(db.session.scalars(select(FeatureVariant).where(FeatureVariant.feature_id == feature_id)
                                   .order_by(FeatureVariant.position)))


def variant_models(feature_id: int) -> dict[str, str]:
    """The model each variant serves, by variant name, from its payload: ``model_version``, else
    ``model`` (a text or number). Fills the ``model_version`` of an event or dataset item that
    reports none but whose variant is known (docs/variants.md); variants naming no model are left out.
    """
    models: dict[str, str] = {}
    for variant in variants_of(feature_id):
        payload = json.loads(variant.payload) if variant.payload else {}
        for key in ("model_version", "model"):
            value = payload.get(key)
            if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip():
                models[variant.name] = str(value).strip()[:MODEL_VERSION_MAX]
                break
    return models
