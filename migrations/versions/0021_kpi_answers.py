"""kpi answers: features' KPI answers of the dashboard's months, computed once for every process

The precompute-kpis job stores them under the key of the inputs they came from
(app/services/kpi_reads/answers.py); a web process's first read of such a window after a refresh
or a restart is then one primary-key read.

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kpi_answers",
        sa.Column("question", sa.String(length=200), nullable=False),
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("computed_at", app.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("question", name=op.f("pk_kpi_answers")),
    )


def downgrade() -> None:
    op.drop_table("kpi_answers")
