"""What the review page reads: features, their samples, the next item for a reviewer, the figures."""

from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.models import Feature, ReviewSample
from app.services.review import labels


def feature_options() -> list[dict]:
    features = db.session.execute(select(Feature.key, Feature.name).where(Feature.archived_at.is_(None))
                                  .order_by(Feature.name)).all()
    return [{"label": name, "value": key} for key, name in features]


def sample_options(feature_key: str) -> list[dict]:
    """The feature's samples, newest first, each with its stage and progress."""
    samples = db.session.scalars(
        select(ReviewSample).join(Feature, Feature.id == ReviewSample.feature_id)
        .where(Feature.key == feature_key).order_by(ReviewSample.id.desc()))
    options = []
    for s in samples:
        summary = labels.sample_summary(s.id)
        variant = f", variant {s.variant}" if s.variant else ""
        options.append({"value": s.id, "label": f"Sample {s.id} · stage {s.stage_position}{variant} · "
                                               f"{summary['labelled']}/{s.size} labelled"})
    return options


def next_item(sample_id: int, reviewer: str) -> tuple[dict | None, int]:
    """The first item waiting for ``reviewer`` (as the reviewer sees it) and how many wait."""
    waiting = labels.queue(sample_id, reviewer)
    return (labels.item_view(waiting[0]) if waiting else None), len(waiting)
