"""outbox: lease owner and a stable Message-ID, for several senders on one database

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 16:30:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('message_id', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('message_id')
        batch_op.drop_column('lease_token')
