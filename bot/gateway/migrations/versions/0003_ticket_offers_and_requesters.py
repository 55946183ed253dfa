"""tickets only where the assistant offered one; who asked, for the ticket limits

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 09:40:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

import bot.gateway.db


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ticket_offered_at", bot.gateway.db.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requester_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_tickets_requester_hash"), ["requester_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_requester_hash"))
        batch_op.drop_column("requester_hash")

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("ticket_offered_at")
