"""the NLU inbox, what the assistant did in each turn, advisers who may edit training data

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 12:47:42.084790
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

import bot.gateway.db


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('waiting', 'labelled', 'skipped', 'exported', 'duplicate', 'refused', name='inboxstatus', native_enum=False, length=16), nullable=False),
    sa.Column('intent', sa.String(length=64), nullable=True),
    sa.Column('entities', sa.JSON(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('exported_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('export_note', sa.String(length=200), nullable=True),
    sa.Column('created_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['agents.id'], name=op.f('fk_inbox_items_decided_by_id_agents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_inbox_items_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_items')),
    sa.UniqueConstraint('message_id', name=op.f('uq_inbox_items_message_id'))
    )
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_items_status'), ['status'], unique=False)

    op.create_table('turns',
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('predicted_intent', sa.String(length=64), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('journeys', sa.JSON(), nullable=False),
    sa.Column('active_form', sa.String(length=64), nullable=True),
    sa.Column('journey_cancelled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_turns_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_turns_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_turns'))
    )
    with op.batch_alter_table('turns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_turns_conversation_id'), ['conversation_id'], unique=False)

    with op.batch_alter_table('agents', schema=None) as batch_op:
        # Existing advisers are not editors until an operator says so (agent-add --editor).
        batch_op.add_column(
            sa.Column('editor', sa.Boolean(), nullable=False, server_default=sa.false())
        )



def downgrade() -> None:
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_column('editor')

    with op.batch_alter_table('turns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_turns_conversation_id'))

    op.drop_table('turns')
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_items_status'))

    op.drop_table('inbox_items')
