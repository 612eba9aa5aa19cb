"""support: tickets, triage results, replies

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storeops.db.base

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('support_replies',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('gorgias_ticket_id', sa.String(length=32), nullable=False),
    sa.Column('message_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('template', sa.String(length=32), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('facts', storeops.db.base.JSONText(), nullable=False),
    sa.Column('grounding', storeops.db.base.JSONText(), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=True),
    sa.Column('gorgias_message_id', sa.String(length=32), nullable=True),
    sa.Column('decision_id', sa.Integer(), nullable=True),
    sa.Column('created_at', storeops.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', storeops.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_replies')),
    sa.UniqueConstraint('shop_id', 'gorgias_ticket_id', 'message_id', 'kind',
                        name=op.f('uq_support_replies_shop_id_gorgias_ticket_id_message_id_kind'))
    )
    with op.batch_alter_table('support_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_replies_gorgias_ticket_id'), ['gorgias_ticket_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_support_replies_shop_id'), ['shop_id'], unique=False)

    op.create_table('support_settings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('routing_rules', storeops.db.base.JSONText(), nullable=False),
    sa.Column('policy', storeops.db.base.JSONText(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', storeops.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_settings')),
    sa.UniqueConstraint('shop_id', name=op.f('uq_support_settings_shop_id'))
    )
    with op.batch_alter_table('support_settings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_settings_shop_id'), ['shop_id'], unique=False)

    op.create_table('support_tickets',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('gorgias_ticket_id', sa.String(length=32), nullable=False),
    sa.Column('customer_email', sa.String(length=320), nullable=True),
    sa.Column('gorgias_customer_id', sa.String(length=32), nullable=True),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('subject', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('intent', sa.String(length=64), nullable=True),
    sa.Column('triage', storeops.db.base.JSONText(), nullable=True),
    sa.Column('frustration', sa.Float(), nullable=True),
    sa.Column('urgency', sa.String(length=16), nullable=True),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('escalation_reason', sa.Text(), nullable=True),
    sa.Column('sla_due_at', storeops.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sla_breached_at', storeops.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_response_at', storeops.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('automated', sa.Boolean(), nullable=False),
    sa.Column('last_message_id', sa.String(length=32), nullable=True),
    sa.Column('messages_handled', sa.Integer(), nullable=False),
    sa.Column('opened_at', storeops.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', storeops.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storeops.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('shop_id', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_tickets')),
    sa.UniqueConstraint('shop_id', 'gorgias_ticket_id', name=op.f('uq_support_tickets_shop_id_gorgias_ticket_id'))
    )
    with op.batch_alter_table('support_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_tickets_customer_email'), ['customer_email'], unique=False)
        batch_op.create_index(batch_op.f('ix_support_tickets_shop_id'), ['shop_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_support_tickets_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('support_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_support_tickets_status'))
        batch_op.drop_index(batch_op.f('ix_support_tickets_shop_id'))
        batch_op.drop_index(batch_op.f('ix_support_tickets_customer_email'))

    op.drop_table('support_tickets')
    with op.batch_alter_table('support_settings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_support_settings_shop_id'))

    op.drop_table('support_settings')
    with op.batch_alter_table('support_replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_support_replies_shop_id'))
        batch_op.drop_index(batch_op.f('ix_support_replies_gorgias_ticket_id'))

    op.drop_table('support_replies')
