"""The backend's database: the declarative base of its models, and what common/database.py
gives both services (engine, sessions, UTC datetimes, migrations)."""

from __future__ import annotations

from common.database import (
    FIRST_COLUMN_NAMING,
    UTCDateTime,
    create_engine,
    create_sessionmaker,
    declarative_base,
    utcnow,
)

# Alembic's version table: the default name (the gateway's has its own, so both can share one
# PostgreSQL database).
VERSION_TABLE = "alembic_version"

# The backend's first migrations named multi-column constraints after their first column.
Base = declarative_base(FIRST_COLUMN_NAMING)

# Primary keys are 32-bit INTEGER columns; a larger id from a URL can never exist and must not
# reach the driver (asyncpg rejects it with an error instead of finding nothing).
MAX_ID = 2**31 - 1


def is_valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


__all__ = [
    "Base",
    "MAX_ID",
    "UTCDateTime",
    "VERSION_TABLE",
    "create_engine",
    "create_sessionmaker",
    "is_valid_id",
    "utcnow",
]
