"""returns

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storeops.db.base

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('return_policies',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('policy', storeops.db.base.JSONText(), nullable=False),
    sa.Column('updated_at', storeops.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_return_policies')),
    sa.UniqueConstraint('shop_id', name=op.f('uq_return_policies_shop_id'))
    )
    with op.batch_alter_table('return_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_return_policies_shop_id'), ['shop_id'], unique=False)

    op.create_table('return_requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('order_external_id', sa.String(length=64), nullable=False),
    sa.Column('order_name', sa.String(length=64), nullable=True),
    sa.Column('customer_external_id', sa.String(length=64), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('source_ref', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('condition', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('eligibility', storeops.db.base.JSONText(), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('refund_subtotal', sa.String(length=32), nullable=False),
    sa.Column('restocking_fee', sa.String(length=32), nullable=False),
    sa.Column('shipping_refund', sa.String(length=32), nullable=False),
    sa.Column('refund_total', sa.String(length=32), nullable=False),
    sa.Column('shopify_return_id', sa.String(length=128), nullable=True),
    sa.Column('shipbob_return_id', sa.String(length=32), nullable=True),
    sa.Column('rma', sa.String(length=50), nullable=True),
    sa.Column('fulfillment_center_id', sa.String(length=32), nullable=True),
    sa.Column('tracking_number', sa.String(length=64), nullable=True),
    sa.Column('shipbob_status', sa.String(length=32), nullable=True),
    sa.Column('refund_id', sa.String(length=128), nullable=True),
    sa.Column('received_at', storeops.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('refunded_at', storeops.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', storeops.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storeops.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storeops.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_return_requests')),
    sa.UniqueConstraint('shop_id', 'source', 'source_ref', name=op.f('uq_return_requests_shop_id_source_source_ref'))
    )
    with op.batch_alter_table('return_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_return_requests_customer_external_id'), ['customer_external_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_return_requests_order_external_id'), ['order_external_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_return_requests_shop_id'), ['shop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_return_requests_status'), ['status'], unique=False)

    op.create_table('return_lines',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('return_id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.String(length=64), nullable=False),
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.String(length=32), nullable=False),
    sa.Column('refund_amount', sa.String(length=32), nullable=False),
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['return_id'], ['return_requests.id'],
                            name=op.f('fk_return_lines_return_id_return_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_return_lines'))
    )
    with op.batch_alter_table('return_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_return_lines_return_id'), ['return_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_return_lines_shop_id'), ['shop_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('return_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_return_lines_shop_id'))
        batch_op.drop_index(batch_op.f('ix_return_lines_return_id'))

    op.drop_table('return_lines')
    with op.batch_alter_table('return_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_return_requests_status'))
        batch_op.drop_index(batch_op.f('ix_return_requests_shop_id'))
        batch_op.drop_index(batch_op.f('ix_return_requests_order_external_id'))
        batch_op.drop_index(batch_op.f('ix_return_requests_customer_external_id'))

    op.drop_table('return_requests')
    with op.batch_alter_table('return_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_return_policies_shop_id'))

    op.drop_table('return_policies')
