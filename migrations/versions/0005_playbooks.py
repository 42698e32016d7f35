"""playbooks and gates tables 

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db  # noqa: F401

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gate_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("stage_position", sa.Integer(), nullable=False),
        sa.Column("playbook_key", sa.String(length=120), nullable=False),
        sa.Column("evaluated_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("transition_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["feature_id"], ["features.id"],
                                name=op.f("fk_gate_evaluations_feature_id_features")),
        sa.ForeignKeyConstraint(["transition_id"], ["rollout_transitions.id"],
                                name=op.f("fk_gate_evaluations_transition_id_rollout_transitions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_evaluations")),
    )
    op.create_index(op.f("ix_gate_evaluations_feature_id"), "gate_evaluations", ["feature_id"])
    op.create_table(
        "drift_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feature_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("test", sa.String(length=40), nullable=False),
        sa.Column("reference_start", app.db.UTCDateTime(), nullable=False),
        sa.Column("reference_end", app.db.UTCDateTime(), nullable=False),
        sa.Column("live_start", app.db.UTCDateTime(), nullable=False),
        sa.Column("live_end", app.db.UTCDateTime(), nullable=False),
        sa.Column("reference_n", sa.Integer(), nullable=False),
        sa.Column("live_n", sa.Integer(), nullable=False),
        sa.Column("reference_value", sa.Float(), nullable=True),
        sa.Column("live_value", sa.Float(), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("diverged", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["feature_id"], ["features.id"],
                                name=op.f("fk_drift_checks_feature_id_features")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_checks")),
    )
    op.create_index(op.f("ix_drift_checks_feature_id"), "drift_checks", ["feature_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_drift_checks_feature_id"), table_name="drift_checks")
    op.drop_table("drift_checks")
    op.drop_index(op.f("ix_gate_evaluations_feature_id"), table_name="gate_evaluations")
    op.drop_table("gate_evaluations")
