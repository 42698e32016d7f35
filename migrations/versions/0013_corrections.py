"""corrections: voided events and cost entries, archived features

Mistakes are corrected without deleting anything: a voided event or cost entry stays (with when it
was voided) but no longer counts; an archived feature stays in history but is off for everyone.
Who did it and why is in the audit log (the cost entry also keeps its reason, to show it in lists).

Revision ID: 0013
Revises: 0012
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("voided_at", app.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table("cost_entries") as batch:
        batch.add_column(sa.Column("voided_at", app.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("void_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("features") as batch:
        batch.add_column(sa.Column("archived_at", app.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("features") as batch:
        batch.drop_column("archived_at")
    with op.batch_alter_table("cost_entries") as batch:
        batch.drop_column("void_reason")
        batch.drop_column("voided_at")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("voided_at")
