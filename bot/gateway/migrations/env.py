"""Alembic environment of the gateway's migrations (common/database.py runs them)."""

from __future__ import annotations

from alembic import context

from bot.gateway import models  # noqa: F401  (registers every table on the metadata)
from bot.gateway.db import VERSION_TABLE, Base
from common.database import run_migrations

run_migrations(context, Base.metadata, VERSION_TABLE)
