"""job runs name their holder; users may subscribe to the monthly report

job_runs.holder is "pid@host" of the process running the job: a manual or API run whose process is
gone (killed mid-run) can then be told apart from one still running and marked interrupted.
users.monthly_report: executives who want the printable monthly ROI report e-mailed at each close.

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db  # noqa: F401

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("holder", sa.String(length=200), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("monthly_report", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("monthly_report")
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("holder")
