"""advisers desk: agents, sessions, tickets, handoff state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 17:05:51.336266
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

import bot.gateway.db


revision = "0002"
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing conversations get defaults for the new NOT NULL columns.
    op.create_table('agents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', bot.gateway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disabled_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('email', name=op.f('uq_agents_email'))
    )
    op.create_table('agent_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_sessions_agent_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_agent_sessions_token_hash'))
    )
    with op.batch_alter_table('agent_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_sessions_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_agent_sessions_last_seen_at'), ['last_seen_at'], unique=False)

    op.create_table('tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('contact_email', sa.String(length=320), nullable=True),
    sa.Column('contact_phone', sa.String(length=20), nullable=True),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('transcript', sa.JSON(), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('open', 'answered', 'closed', name='ticketstatus', native_enum=False, length=16), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['answered_by_id'], ['agents.id'], name=op.f('fk_tickets_answered_by_id_agents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_tickets_conversation_id_conversations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tickets_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_status'), ['status'], unique=False)

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handling', sa.Enum('assistant', 'queued', 'agent', 'closed', name='handling', native_enum=False, length=16), nullable=False, server_default='assistant'))
        batch_op.add_column(sa.Column('agent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('queued_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('taken_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('handoffs_requested', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('handoffs_taken', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('account_email', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('account_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('account_organisation', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('rating', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rating_comment', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('rated_at', bot.gateway.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_conversations_handling'), ['handling'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_conversations_agent_id_agents'), 'agents', ['agent_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intent', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_messages_intent'), ['intent'], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_intent'))
        batch_op.drop_column('intent')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_conversations_agent_id_agents'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_conversations_handling'))
        batch_op.drop_column('rated_at')
        batch_op.drop_column('rating_comment')
        batch_op.drop_column('rating')
        batch_op.drop_column('account_organisation')
        batch_op.drop_column('account_name')
        batch_op.drop_column('account_email')
        batch_op.drop_column('handoffs_taken')
        batch_op.drop_column('handoffs_requested')
        batch_op.drop_column('taken_at')
        batch_op.drop_column('queued_at')
        batch_op.drop_column('agent_id')
        batch_op.drop_column('handling')

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_status'))
        batch_op.drop_index(batch_op.f('ix_tickets_created_at'))
        batch_op.drop_index(batch_op.f('ix_tickets_conversation_id'))

    op.drop_table('tickets')
    with op.batch_alter_table('agent_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_sessions_last_seen_at'))
        batch_op.drop_index(batch_op.f('ix_agent_sessions_agent_id'))

    op.drop_table('agent_sessions')
    op.drop_table('agents')
    # ### end Alembic commands ###
