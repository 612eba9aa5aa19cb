"""outbox: later retry rounds for messages whose vendor stays unavailable

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storeops.db.base

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_messages') as batch:
        batch.add_column(sa.Column('rounds', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('not_before', storeops.db.base.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('failing_since', storeops.db.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox_messages') as batch:
        batch.drop_column('failing_since')
        batch.drop_column('not_before')
        batch.drop_column('rounds')
