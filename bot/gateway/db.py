"""The gateway's database: the declarative base of its models, and what common/database.py
gives both services (engine, sessions, UTC datetimes, migrations).

The gateway owns its own database (``GATEWAY_DATABASE_URL``; SQLite ``var/gateway.db`` by
default, PostgreSQL for several gateway processes on several hosts). It never shares tables
with the backend; Alembic keeps its version in ``gateway_alembic_version`` so both can even
live in one PostgreSQL database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from common.database import (
    NAMING_CONVENTION,
    UTCDateTime,
    create_engine,
    create_sessionmaker,
    declarative_base,
    utcnow,
)

VERSION_TABLE = "gateway_alembic_version"

Base = declarative_base(NAMING_CONVENTION)


def insert_for(session: AsyncSession) -> Any:
    """The INSERT of the session's dialect, the one with ``on_conflict_do_update`` (an upsert:
    counters, the conversation row, the turn record)."""
    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert

__all__ = [
    "Base", "UTCDateTime", "VERSION_TABLE", "create_engine", "create_sessionmaker", "insert_for",
    "utcnow",
]
