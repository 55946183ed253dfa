"""Alembic environment of the backend's migrations (common/database.py runs them)."""

from __future__ import annotations

from alembic import context

from backend import models  # noqa: F401  (registers every table on the metadata)
from backend.db import VERSION_TABLE, Base
from common.database import run_migrations

run_migrations(context, Base.metadata, VERSION_TABLE)
