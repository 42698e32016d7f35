"""A feature's variants (model, prompt or vendor served to its exposed people) and their weights
over time, and the per-variant counts SDKs report.

The current weights live on ``FeatureVariant``; every change of them (creation, a new split, a
promotion) is a ``VariantWeightChange`` with the whole split and its effective time, so the
variant a person had at any past instant can be replayed exactly, as the exposure spells are
replayed from the rollout transitions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, db, utcnow

VARIANT_NAME_MAX = 100
WEIGHT_ACTIONS = ("create", "reweight", "promote")


class FeatureVariant(db.Model):
    """One variant of a feature: its place in the split (Unleash's order), weight and payload."""

    __tablename__ = "feature_variants"
    __table_args__ = (
        UniqueConstraint("feature_id", "name"),
        UniqueConstraint("feature_id", "position"),
        CheckConstraint("weight >= 0 AND weight <= 100", name="weight_range"),
        CheckConstraint("cost_per_task_eur IS NULL OR cost_per_task_eur >= 0", name="variant_cost"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"))
    # 1-based. Unleash picks a variant by walking the list in order, so the order is part of the
    # assignment and never changes once recorded.
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(VARIANT_NAME_MAX))
    weight: Mapped[int] = mapped_column(Integer)  # percent, the variants of a feature sum to 100
    payload: Mapped[str | None] = mapped_column(Text)  # JSON object: vendor, model, prompt, settings
    cost_per_task_eur: Mapped[float | None] = mapped_column(Float)


class VariantWeightChange(db.Model):
    """The split of a feature's variants from ``effective_at`` on (JSON ``{name: weight}`` in order)."""

    __tablename__ = "variant_weight_changes"
    __table_args__ = (Index("ix_variant_weight_changes_feature_effective", "feature_id", "effective_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("features.id"))
    action: Mapped[str] = mapped_column(String(20))
    weights: Mapped[str] = mapped_column(Text)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FlagVariantMetric(db.Model):
    """How often SDKs answered each variant of a flag, per app, environment and hour
    (the ``variants`` of an ``/api/client/metrics`` bucket): the SRM check shows them beside the
    exposure Liftoff computes."""

    __tablename__ = "flag_variant_metrics"
    __table_args__ = (UniqueConstraint("feature_key", "app_name", "environment", "hour", "variant",
                                       name="uq_flag_variant_metrics_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feature_key: Mapped[str] = mapped_column(String(120))
    app_name: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(40))
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    variant: Mapped[str] = mapped_column(String(VARIANT_NAME_MAX))
    count: Mapped[int] = mapped_column(BigInteger, default=0)
