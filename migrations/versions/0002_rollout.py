"""rollout: the flag revision counter behind the per-process payload cache

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flag_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("changed_at", app.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_revisions")),
    )
    op.create_table(
        "metric_buckets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_name", sa.String(length=200), nullable=False),
        sa.Column("instance_id", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=40), nullable=False),
        sa.Column("start_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("stop_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("received_at", app.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_buckets")),
        sa.UniqueConstraint(
            "app_name", "instance_id", "environment", "start_at", "stop_at",
            name="uq_metric_buckets_once",
        ),
    )
    op.create_index("ix_metric_buckets_received_at", "metric_buckets", ["received_at"], unique=False)
    op.execute("INSERT INTO flag_revisions (id, revision, changed_at) VALUES (1, 0, CURRENT_TIMESTAMP)")


def downgrade() -> None:
    op.drop_index("ix_metric_buckets_received_at", table_name="metric_buckets")
    op.drop_table("metric_buckets")
    op.drop_table("flag_revisions")
