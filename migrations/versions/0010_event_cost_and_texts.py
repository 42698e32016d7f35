"""events carry their own AI cost and free texts (output, correction, model version)

The contract's event fields ``cost_eur`` (task_cost: the event's own cost, else the feature's
per_event_cost_eur), ``output``, ``correction`` and ``model_version``. The rollups gain the count
and sum of the AI events' own costs, so the monthly cost needs no pass over the events; existing
rows hold 0 of both, which is exact (no stored event had a cost of its own).

Revision ID: 0010
Revises: 0009
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db  # noqa: F401

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLLUPS = ("kpi_activity_days", "kpi_feature_days", "kpi_feature_months")


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("cost_eur", sa.Float(), nullable=True))
        batch.add_column(sa.Column("output", sa.Text(), nullable=True))
        batch.add_column(sa.Column("correction", sa.Text(), nullable=True))
        batch.add_column(sa.Column("model_version", sa.String(length=200), nullable=True))
        batch.create_check_constraint(op.f("ck_events_cost"), "cost_eur IS NULL OR cost_eur >= 0")
    for table in ROLLUPS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("ai_cost_n", sa.Integer(), nullable=False, server_default="0"))
            batch.add_column(sa.Column("ai_cost_eur", sa.Float(), nullable=False, server_default="0"))


def downgrade() -> None:
    for table in reversed(ROLLUPS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("ai_cost_eur")
            batch.drop_column("ai_cost_n")
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint(op.f("ck_events_cost"), type_="check")
        batch.drop_column("model_version")
        batch.drop_column("correction")
        batch.drop_column("output")
        batch.drop_column("cost_eur")
