"""kpi performance: the rollup tables drop their per-row foreign-key checks; spells by start

Each feature's first exposure (its baseline window) becomes one index probe.

kpi_activity_days holds about one row per event (10 M a year at 10,000 people); a full rebuild
inserting them spent most of its time in the two foreign-key triggers fired per row. The rollups
are derived from events, whose own foreign keys already guarantee the features and people exist.

Revision ID: 0007
Revises: 0006
"""
from collections.abc import Sequence

from alembic import op

import app.db  # noqa: F401

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kpi_activity_days") as batch:
        batch.drop_constraint("fk_kpi_activity_days_feature_id_features", type_="foreignkey")
        batch.drop_constraint("fk_kpi_activity_days_person_id_people", type_="foreignkey")
    with op.batch_alter_table("kpi_feature_days") as batch:
        batch.drop_constraint("fk_kpi_feature_days_feature_id_features", type_="foreignkey")
    op.create_index("ix_exposure_spells_feature_start", "exposure_spells", ["feature_id", "start_at"])


def downgrade() -> None:
    op.drop_index("ix_exposure_spells_feature_start", table_name="exposure_spells")
    with op.batch_alter_table("kpi_feature_days") as batch:
        batch.create_foreign_key("fk_kpi_feature_days_feature_id_features", "features",
                                 ["feature_id"], ["id"])
    with op.batch_alter_table("kpi_activity_days") as batch:
        batch.create_foreign_key("fk_kpi_activity_days_person_id_people", "people", ["person_id"], ["id"])
        batch.create_foreign_key("fk_kpi_activity_days_feature_id_features", "features",
                                 ["feature_id"], ["id"])
