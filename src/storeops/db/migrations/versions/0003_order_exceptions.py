"""order exceptions queue, sweep cursors

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storeops.db.base

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('order_rule_sets',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('rules', storeops.db.base.JSONText(), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=True),
    sa.Column('updated_at', storeops.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_rule_sets')),
    sa.UniqueConstraint('shop_id', 'name', name=op.f('uq_order_rule_sets_shop_id_name'))
    )
    with op.batch_alter_table('order_rule_sets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_rule_sets_shop_id'), ['shop_id'], unique=False)

    op.create_table('order_exceptions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('order_external_id', sa.String(length=64), nullable=False),
    sa.Column('order_name', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('open_key', sa.String(length=100), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('context', storeops.db.base.JSONText(), nullable=False),
    sa.Column('opened_at', storeops.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sla_due_at', storeops.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('escalated_at', storeops.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', storeops.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.String(length=16), nullable=True),
    sa.Column('resolved_by', sa.String(length=128), nullable=True),
    sa.Column('resolution_note', sa.String(length=1000), nullable=True),
    sa.Column('updated_at', storeops.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_exceptions')),
    sa.UniqueConstraint('shop_id', 'open_key', name=op.f('uq_order_exceptions_shop_id_open_key'))
    )
    with op.batch_alter_table('order_exceptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_exceptions_order_external_id'), ['order_external_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_order_exceptions_shop_id'), ['shop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_exceptions_status'), ['status'], unique=False)

    op.create_table('sync_cursors',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('updated_at', storeops.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_cursors')),
    sa.UniqueConstraint('shop_id', 'name', name=op.f('uq_sync_cursors_shop_id_name'))
    )
    with op.batch_alter_table('sync_cursors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_cursors_shop_id'), ['shop_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('order_rule_sets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_rule_sets_shop_id'))

    op.drop_table('order_rule_sets')
    with op.batch_alter_table('order_exceptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_exceptions_status'))
        batch_op.drop_index(batch_op.f('ix_order_exceptions_shop_id'))
        batch_op.drop_index(batch_op.f('ix_order_exceptions_order_external_id'))

    op.drop_table('order_exceptions')
    with op.batch_alter_table('sync_cursors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_cursors_shop_id'))
    op.drop_table('sync_cursors')
