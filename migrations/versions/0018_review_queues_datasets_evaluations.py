"""Review queues, datasets and evaluation runs (issue #19)

Review samples of AI outputs with their items and labels (two reviewers on a share); datasets whose
versions hold their items by reference to events and labels (texts are read at export, so erasure
and retention reach them); evaluation runs of a model version on a dataset version, per item.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('datasets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_datasets')),
    sa.UniqueConstraint('key', name=op.f('uq_datasets_key'))
    )
    op.create_table('dataset_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('feature_id', sa.Integer(), nullable=False),
    sa.Column('filter', sa.Text(), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_dataset_versions_dataset_id_datasets')),
    sa.ForeignKeyConstraint(['feature_id'], ['features.id'], name=op.f('fk_dataset_versions_feature_id_features')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dataset_versions')),
    sa.UniqueConstraint('dataset_id', 'version', name=op.f('uq_dataset_versions_dataset_id_version'))
    )
    with op.batch_alter_table('dataset_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_versions_dataset_id'), ['dataset_id'], unique=False)

    op.create_table('review_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feature_id', sa.Integer(), nullable=False),
    sa.Column('stage_position', sa.Integer(), nullable=False),
    sa.Column('variant', sa.String(length=120), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('second_share', sa.Float(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['feature_id'], ['features.id'], name=op.f('fk_review_samples_feature_id_features')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_samples'))
    )
    with op.batch_alter_table('review_samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_samples_feature_id'), ['feature_id'], unique=False)

    op.create_table('evaluation_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('model_version', sa.String(length=200), nullable=False),
    sa.Column('variant', sa.String(length=120), nullable=True),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('passed', sa.Integer(), nullable=False),
    sa.Column('posted_by', sa.String(length=320), nullable=False),
    sa.Column('posted_at', app.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['dataset_versions.id'], name=op.f('fk_evaluation_runs_version_id_dataset_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_runs'))
    )
    with op.batch_alter_table('evaluation_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluation_runs_version_id'), ['version_id'], unique=False)

    op.create_table('review_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('department', sa.String(length=200), nullable=True),
    sa.Column('needs_second', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_review_items_event_id_events')),
    sa.ForeignKeyConstraint(['sample_id'], ['review_samples.id'], name=op.f('fk_review_items_sample_id_review_samples')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_items')),
    sa.UniqueConstraint('sample_id', 'event_id', name=op.f('uq_review_items_sample_id_event_id'))
    )
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_items_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_items_sample_id'), ['sample_id'], unique=False)

    op.create_table('review_labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=320), nullable=False),
    sa.Column('label', sa.String(length=20), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('fix', sa.Text(), nullable=True),
    sa.Column('labelled_at', app.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("label IN ('correct', 'corrected', 'wrong', 'not_assessable')", name=op.f('ck_review_labels_label')),
    sa.CheckConstraint('round IN (1, 2)', name=op.f('ck_review_labels_round')),
    sa.ForeignKeyConstraint(['item_id'], ['review_items.id'], name=op.f('fk_review_labels_item_id_review_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_labels')),
    sa.UniqueConstraint('item_id', 'reviewer', name=op.f('uq_review_labels_item_id_reviewer')),
    sa.UniqueConstraint('item_id', 'round', name=op.f('uq_review_labels_item_id_round'))
    )
    with op.batch_alter_table('review_labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_labels_item_id'), ['item_id'], unique=False)

    op.create_table('dataset_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('label_id', sa.Integer(), nullable=True),
    sa.Column('stage_position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_dataset_items_event_id_events')),
    sa.ForeignKeyConstraint(['label_id'], ['review_labels.id'], name=op.f('fk_dataset_items_label_id_review_labels')),
    sa.ForeignKeyConstraint(['version_id'], ['dataset_versions.id'], name=op.f('fk_dataset_items_version_id_dataset_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dataset_items')),
    sa.UniqueConstraint('version_id', 'event_id', name=op.f('uq_dataset_items_version_id_event_id'))
    )
    with op.batch_alter_table('dataset_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_items_version_id'), ['version_id'], unique=False)

    op.create_table('evaluation_results',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['dataset_items.id'], name=op.f('fk_evaluation_results_item_id_dataset_items')),
    sa.ForeignKeyConstraint(['run_id'], ['evaluation_runs.id'], name=op.f('fk_evaluation_results_run_id_evaluation_runs')),
    sa.PrimaryKeyConstraint('run_id', 'item_id', name=op.f('pk_evaluation_results'))
    )


def downgrade() -> None:
    op.drop_table('evaluation_results')
    with op.batch_alter_table('dataset_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_items_version_id'))

    op.drop_table('dataset_items')
    with op.batch_alter_table('review_labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_labels_item_id'))

    op.drop_table('review_labels')
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_items_sample_id'))
        batch_op.drop_index(batch_op.f('ix_review_items_event_id'))

    op.drop_table('review_items')
    with op.batch_alter_table('evaluation_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluation_runs_version_id'))

    op.drop_table('evaluation_runs')
    with op.batch_alter_table('review_samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_samples_feature_id'))

    op.drop_table('review_samples')
    with op.batch_alter_table('dataset_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_versions_dataset_id'))

    op.drop_table('dataset_versions')
    op.drop_table('datasets')
