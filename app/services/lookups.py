"""Finding a domain object by the key people and the API name it with: one lookup every room
shares (below all of them, so none has to import another room just to find a feature)."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.errors import NotFound
from app.models import Feature


def feature_by_key(key: str) -> Feature:
    """The feature with ``key``.

    :raises NotFound: when there is none.
    """
    feature = db.session.scalar(select(Feature).where(Feature.key == key))
    if feature is None:
        raise NotFound(f"no feature {key!r}")
    return feature
