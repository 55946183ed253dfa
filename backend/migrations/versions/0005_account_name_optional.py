"""accounts.name optional: an invited person has no name until the activation page asks for it

Existing rows keep their names. On SQLite the column change rebuilds the table; the migration
runner keeps foreign keys off meanwhile (common/database.py), so no membership, token or grant
of an account is cascaded away. The downgrade gives a nameless account its e-mail address as the
name (what every text shows for it anyway) before the column is required again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 23:00:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.alter_column('name', existing_type=sa.String(length=200), nullable=True)


def downgrade() -> None:
    op.execute(sa.text("UPDATE accounts SET name = email WHERE name IS NULL"))
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.alter_column('name', existing_type=sa.String(length=200), nullable=False)
