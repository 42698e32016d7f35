"""kpi_first_use drops its per-row foreign-key checks, like the other rollups in 0007

A full rebuild writes one first use per feature x person who ever used it (10^5 and more); the rows
derive from events, whose own foreign keys already guarantee the features and people exist.

Revision ID: 0009
Revises: 0008
"""
from collections.abc import Sequence

from alembic import op

import app.db  # noqa: F401

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kpi_first_use") as batch:
        batch.drop_constraint("fk_kpi_first_use_feature_id_features", type_="foreignkey")
        batch.drop_constraint("fk_kpi_first_use_person_id_people", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("kpi_first_use") as batch:
        batch.create_foreign_key("fk_kpi_first_use_person_id_people", "people", ["person_id"], ["id"])
        batch.create_foreign_key("fk_kpi_first_use_feature_id_features", "features", ["feature_id"], ["id"])
