"""kpi revision, row 2: the revision of the live KPI inputs alone (not the rollups a refresh writes)

Everything a KPI read takes besides the rollups (exposure spells, people and departments, their
histories, cohorts, baselines, costs, feature terms) is remembered under this row, so a refresh,
which moves only row 1, leaves it warm. app/services/kpi_reads/revision.py bumps it.

Revision ID: 0019
Revises: 0018
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = sa.table("kpi_revision", sa.column("id", sa.Integer()), sa.column("revision", sa.BigInteger()))
    op.bulk_insert(table, [{"id": 2, "revision": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM kpi_revision WHERE id = 2")
