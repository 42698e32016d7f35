"""Invitation links: a user chooses their own password from a one-time link (user_invites)

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", app.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", app.db.UTCDateTime(), nullable=True),
        sa.Column("withdrawn_at", app.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_invites_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_invites")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_user_invites_secret_hash")),
    )
    op.create_index(op.f("ix_user_invites_user_id"), "user_invites", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_user_invites_user_id"), table_name="user_invites")
    op.drop_table("user_invites")
