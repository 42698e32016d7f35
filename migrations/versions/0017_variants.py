"""variants: a feature's variants, their weights over time, the event's variant, SDK variant counts

Revision ID: 0017
Revises: 0016
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feature_variants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("cost_per_task_eur", sa.Float(), nullable=True),
        sa.CheckConstraint("weight >= 0 AND weight <= 100", name=op.f("ck_feature_variants_weight_range")),
        sa.CheckConstraint("cost_per_task_eur IS NULL OR cost_per_task_eur >= 0",
                           name=op.f("ck_feature_variants_variant_cost")),
        sa.ForeignKeyConstraint(["feature_id"], ["features.id"],
                                name=op.f("fk_feature_variants_feature_id_features")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_variants")),
        sa.UniqueConstraint("feature_id", "name", name=op.f("uq_feature_variants_feature_id_name")),
        sa.UniqueConstraint("feature_id", "position", name=op.f("uq_feature_variants_feature_id_position")),
    )
    op.create_table(
        "variant_weight_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("weights", sa.Text(), nullable=False),
        sa.Column("effective_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recorded_at", app.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["feature_id"], ["features.id"],
                                name=op.f("fk_variant_weight_changes_feature_id_features")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variant_weight_changes")),
    )
    op.create_index("ix_variant_weight_changes_feature_effective", "variant_weight_changes",
                    ["feature_id", "effective_at"])
    op.create_table(
        "flag_variant_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feature_key", sa.String(length=120), nullable=False),
        sa.Column("app_name", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=40), nullable=False),
        sa.Column("hour", app.db.UTCDateTime(), nullable=False),
        sa.Column("variant", sa.String(length=100), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_variant_metrics")),
        sa.UniqueConstraint("feature_key", "app_name", "environment", "hour", "variant",
                            name="uq_flag_variant_metrics_once"),
    )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("variant", sa.String(length=100), nullable=True))
        batch.create_index("ix_events_feature_variant", ["feature_id", "variant"])
    with op.batch_alter_table("features") as batch:
        batch.add_column(sa.Column("variant_rule", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("features") as batch:
        batch.drop_column("variant_rule")
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_feature_variant")
        batch.drop_column("variant")
    op.drop_table("flag_variant_metrics")
    op.drop_index("ix_variant_weight_changes_feature_effective", table_name="variant_weight_changes")
    op.drop_table("variant_weight_changes")
    op.drop_table("feature_variants")
