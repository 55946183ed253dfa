"""licences packages devices grants

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 12:02:38.925512
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

import backend.db


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotent_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotent_responses')),
    sa.UniqueConstraint('scope', 'key', name=op.f('uq_idempotent_responses_scope'))
    )
    with op.batch_alter_table('idempotent_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotent_responses_created_at'), ['created_at'], unique=False)

    op.create_table('packages',
    sa.Column('code', sa.Enum('green', 'silver', 'gold', name='packagecode', native_enum=False, length=32), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('yearly_price_net_grosze', sa.Integer(), nullable=False),
    sa.Column('vat_percent', sa.Integer(), nullable=False),
    sa.Column('offer_database', sa.Boolean(), nullable=False),
    sa.Column('business_card', sa.Boolean(), nullable=False),
    sa.Column('portal_promotion', sa.Boolean(), nullable=False),
    sa.Column('invoicing_days', sa.Integer(), nullable=True),
    sa.Column('document_exchange_limit', sa.Integer(), nullable=True),
    sa.Column('document_exchange_trial_days', sa.Integer(), nullable=True),
    sa.Column('backup_gb', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_packages'))
    )
    # The price list from the iKsięgowość24 registration page (net prices; 23% VAT added on top).
    packages = sa.table(
        "packages",
        *(sa.column(name) for name in (
            "code", "name", "position", "yearly_price_net_grosze", "vat_percent", "offer_database",
            "business_card", "portal_promotion", "invoicing_days", "document_exchange_limit",
            "document_exchange_trial_days", "backup_gb",
        )),
    )
    op.bulk_insert(packages, [
        {"code": "green", "name": "zielony", "position": 1, "yearly_price_net_grosze": 0,
         "vat_percent": 23, "offer_database": True, "business_card": True, "portal_promotion": True,
         "invoicing_days": 90, "document_exchange_limit": 10, "document_exchange_trial_days": 90,
         "backup_gb": 0},
        {"code": "silver", "name": "srebrny", "position": 2, "yearly_price_net_grosze": 29900,
         "vat_percent": 23, "offer_database": True, "business_card": True, "portal_promotion": True,
         "invoicing_days": None, "document_exchange_limit": 100, "document_exchange_trial_days": None,
         "backup_gb": 5},
        {"code": "gold", "name": "złoty", "position": 3, "yearly_price_net_grosze": 79900,
         "vat_percent": 23, "offer_database": True, "business_card": True, "portal_promotion": True,
         "invoicing_days": None, "document_exchange_limit": None, "document_exchange_trial_days": None,
         "backup_gb": 30},
    ])
    op.create_table('comarch_licences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comarch_id', sa.String(length=20), nullable=False),
    sa.Column('pin_hash', sa.String(length=200), nullable=False),
    sa.Column('nip', sa.String(length=10), nullable=False),
    sa.Column('holder_name', sa.String(length=200), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_comarch_licences_organisation_id_organisations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comarch_licences')),
    sa.UniqueConstraint('comarch_id', name=op.f('uq_comarch_licences_comarch_id')),
    sa.UniqueConstraint('organisation_id', name=op.f('uq_comarch_licences_organisation_id'))
    )
    op.create_table('document_exchanges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('exchanged_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_document_exchanges_organisation_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_exchanges'))
    )
    with op.batch_alter_table('document_exchanges', schema=None) as batch_op:
        batch_op.create_index('ix_document_exchanges_org_time', ['organisation_id', 'exchanged_at'], unique=False)

    op.create_table('mobile_devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('platform', sa.String(length=20), nullable=False),
    sa.Column('device_token_hash', sa.String(length=64), nullable=False),
    sa.Column('app_pin_hash', sa.String(length=200), nullable=True),
    sa.Column('biometrics_enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_mobile_devices_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mobile_devices')),
    sa.UniqueConstraint('account_id', name=op.f('uq_mobile_devices_account_id')),
    sa.UniqueConstraint('device_token_hash', name=op.f('uq_mobile_devices_device_token_hash'))
    )
    op.create_table('subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('package_code', sa.Enum('green', 'silver', 'gold', name='packagecode', native_enum=False, length=32), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('trial_until', sa.Date(), nullable=True),
    sa.Column('pending_package_code', sa.Enum('green', 'silver', 'gold', name='packagecode', native_enum=False, length=32), nullable=True),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_subscriptions_organisation_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['package_code'], ['packages.code'], name=op.f('fk_subscriptions_package_code_packages')),
    sa.ForeignKeyConstraint(['pending_package_code'], ['packages.code'], name=op.f('fk_subscriptions_pending_package_code_packages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    sa.UniqueConstraint('organisation_id', name=op.f('uq_subscriptions_organisation_id'))
    )
    op.create_table('verification_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('grant_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_verification_grants_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_grants')),
    sa.UniqueConstraint('grant_hash', name=op.f('uq_verification_grants_grant_hash'))
    )
    with op.batch_alter_table('verification_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verification_grants_account_id'), ['account_id'], unique=False)

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nip', sa.String(length=10), nullable=True))

    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('payload', sa.JSON(), nullable=False, server_default='{}'))



def downgrade() -> None:
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_column('payload')
        batch_op.drop_column('attempts')

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('nip')

    with op.batch_alter_table('verification_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verification_grants_account_id'))

    op.drop_table('verification_grants')
    op.drop_table('subscriptions')
    op.drop_table('mobile_devices')
    with op.batch_alter_table('document_exchanges', schema=None) as batch_op:
        batch_op.drop_index('ix_document_exchanges_org_time')

    op.drop_table('document_exchanges')
    op.drop_table('comarch_licences')
    op.drop_table('packages')
    with op.batch_alter_table('idempotent_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotent_responses_created_at'))

    op.drop_table('idempotent_responses')
