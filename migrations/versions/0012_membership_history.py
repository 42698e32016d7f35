"""cohort membership and people's departments keep their history

cohort_memberships and department_memberships hold intervals [valid_from, valid_to) (null from:
since the beginning; null to: still). cohorts.history_from is when a cohort's first recorded
membership took effect. What is recorded now becomes the state since the beginning: the current
members and departments, with history_from null.

Revision ID: 0012
Revises: 0011
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cohorts") as batch:
        batch.add_column(sa.Column("history_from", app.db.UTCDateTime(), nullable=True))
    op.create_table(
        "cohort_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", app.db.UTCDateTime(), nullable=True),
        sa.Column("valid_to", app.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohorts.id"],
                                name=op.f("fk_cohort_memberships_cohort_id_cohorts")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"],
                                name=op.f("fk_cohort_memberships_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohort_memberships")),
    )
    op.create_index("ix_cohort_memberships_cohort_person", "cohort_memberships",
                    ["cohort_id", "person_id"])
    op.create_index(op.f("ix_cohort_memberships_person_id"), "cohort_memberships", ["person_id"])
    op.create_table(
        "department_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", app.db.UTCDateTime(), nullable=True),
        sa.Column("valid_to", app.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_department_memberships_department_id_departments")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"],
                                name=op.f("fk_department_memberships_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department_memberships")),
    )
    op.create_index(op.f("ix_department_memberships_department_id"), "department_memberships",
                    ["department_id"])
    op.create_index(op.f("ix_department_memberships_person_id"), "department_memberships",
                    ["person_id"])
    # Nothing of the past was recorded: today's state holds since the beginning.
    op.execute("INSERT INTO cohort_memberships (cohort_id, person_id)"
               " SELECT cohort_id, person_id FROM cohort_members ORDER BY cohort_id, person_id")
    op.execute("INSERT INTO department_memberships (person_id, department_id)"
               " SELECT id, department_id FROM people WHERE department_id IS NOT NULL ORDER BY id")


def downgrade() -> None:
    op.drop_index(op.f("ix_department_memberships_person_id"), table_name="department_memberships")
    op.drop_index(op.f("ix_department_memberships_department_id"), table_name="department_memberships")
    op.drop_table("department_memberships")
    op.drop_index(op.f("ix_cohort_memberships_person_id"), table_name="cohort_memberships")
    op.drop_index("ix_cohort_memberships_cohort_person", table_name="cohort_memberships")
    op.drop_table("cohort_memberships")
    with op.batch_alter_table("cohorts") as batch:
        batch.drop_column("history_from")
