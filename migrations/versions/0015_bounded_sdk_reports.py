"""SDK reports stay bounded: flag_metrics counts as BIGINT, SDK instances name their client token

flag_metrics.yes/no add up an hour of reports from every instance of an app; a 32-bit INTEGER
overflowed on PostgreSQL after one report of 2^31 - 1 and then refused every later report of that
app and hour. sdk_instances.token_id records the client token an instance reported with, so the
client API can cap the distinct app names one token may create.

Revision ID: 0015
Revises: 0014
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db  # noqa: F401

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("flag_metrics") as batch:
        batch.alter_column("yes", existing_type=sa.Integer(), type_=sa.BigInteger(),
                           existing_nullable=False)
        batch.alter_column("no", existing_type=sa.Integer(), type_=sa.BigInteger(),
                           existing_nullable=False)
    with op.batch_alter_table("sdk_instances") as batch:
        batch.add_column(sa.Column("token_id", sa.Integer(), nullable=True))
        batch.create_index("ix_sdk_instances_token_id", ["token_id"], unique=False)
        batch.create_foreign_key("fk_sdk_instances_token_id_api_tokens", "api_tokens",
                                 ["token_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("sdk_instances") as batch:
        batch.drop_constraint("fk_sdk_instances_token_id_api_tokens", type_="foreignkey")
        batch.drop_index("ix_sdk_instances_token_id")
        batch.drop_column("token_id")
    # Sums beyond 2^31 - 1 cannot go back into an INTEGER: they keep its largest value.
    op.execute("UPDATE flag_metrics SET yes = 2147483647 WHERE yes > 2147483647")
    op.execute("UPDATE flag_metrics SET no = 2147483647 WHERE no > 2147483647")
    with op.batch_alter_table("flag_metrics") as batch:
        batch.alter_column("no", existing_type=sa.BigInteger(), type_=sa.Integer(),
                           existing_nullable=False)
        batch.alter_column("yes", existing_type=sa.BigInteger(), type_=sa.Integer(),
                           existing_nullable=False)
