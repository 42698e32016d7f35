"""kpi tables: per-person daily activity rollups, department sums, first use, refresh state,
monthly closes

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sum_columns() -> list[sa.Column]:
    ints = ("ai_tasks", "ai_errors", "ai_ok", "ai_dur_n")
    out = [sa.Column(name, sa.Integer(), nullable=False) for name in ints]
    out += [sa.Column(n, sa.Float(), nullable=False) for n in ("ai_dur_min", "ai_dur_min_sq")]
    out += [sa.Column("ai_aband_dur_n", sa.Integer(), nullable=False)]
    out += [sa.Column(n, sa.Float(), nullable=False) for n in ("ai_aband_min", "ai_aband_min_sq")]
    out += [
        sa.Column(n, sa.Integer(), nullable=False)
        for n in ("manual_tasks", "manual_errors", "manual_ok", "manual_dur_n")
    ]
    out += [sa.Column(n, sa.Float(), nullable=False) for n in ("manual_dur_min", "manual_dur_min_sq")]
    return out


def upgrade() -> None:
    op.create_table(
        "kpi_monthly_closes",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("closed_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("restated_at", app.db.UTCDateTime(), nullable=True),
        sa.Column("restated_fingerprint", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_kpi_monthly_closes")),
    )
    op.create_table(
        "kpi_refresh_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("watermark", app.db.UTCDateTime(), nullable=False),
        sa.Column("people_fingerprint", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_refresh_state")),
    )
    op.create_table(
        "kpi_feature_days",
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=120), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        *_sum_columns(),
        sa.ForeignKeyConstraint(
            ["feature_id"], ["features.id"], name=op.f("fk_kpi_feature_days_feature_id_features")
        ),
        sa.PrimaryKeyConstraint(
            "feature_id", "day", "department_id", "task", name=op.f("pk_kpi_feature_days")
        ),
    )
    with op.batch_alter_table("kpi_feature_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kpi_feature_days_month"), ["month"], unique=False)

    op.create_table(
        "kpi_activity_days",
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=120), nullable=False),
        sa.Column("ai_first_at", app.db.UTCDateTime(), nullable=True),
        *_sum_columns(),
        sa.ForeignKeyConstraint(
            ["feature_id"], ["features.id"], name=op.f("fk_kpi_activity_days_feature_id_features")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_kpi_activity_days_person_id_people")
        ),
        sa.PrimaryKeyConstraint(
            "feature_id", "day", "person_id", "task", name=op.f("pk_kpi_activity_days")
        ),
    )
    op.create_table(
        "kpi_feature_months",
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=120), nullable=False),
        *_sum_columns(),
        sa.ForeignKeyConstraint(
            ["feature_id"], ["features.id"], name=op.f("fk_kpi_feature_months_feature_id_features")
        ),
        sa.PrimaryKeyConstraint(
            "feature_id", "month", "department_id", "task", name=op.f("pk_kpi_feature_months")
        ),
    )
    op.create_table(
        "kpi_dirty_days",
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_id"], ["features.id"], name=op.f("fk_kpi_dirty_days_feature_id_features")
        ),
        sa.PrimaryKeyConstraint("feature_id", "day", name=op.f("pk_kpi_dirty_days")),
    )
    op.create_table(
        "kpi_first_use",
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("first_ai_at", app.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_id"], ["features.id"], name=op.f("fk_kpi_first_use_feature_id_features")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_kpi_first_use_person_id_people")
        ),
        sa.PrimaryKeyConstraint("feature_id", "person_id", name=op.f("pk_kpi_first_use")),
    )


def downgrade() -> None:
    op.drop_table("kpi_feature_months")
    op.drop_table("kpi_dirty_days")
    op.drop_table("kpi_first_use")
    op.drop_table("kpi_activity_days")
    with op.batch_alter_table("kpi_feature_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kpi_feature_days_month"))
    op.drop_table("kpi_feature_days")
    op.drop_table("kpi_refresh_state")
    op.drop_table("kpi_monthly_closes")
