"""The gateway's database: the declarative base of its models, and what common/database.py
gives both services (engine, sessions, UTC datetimes, migrations).

The gateway owns its own database (``GATEWAY_DATABASE_URL``; SQLite ``var/gateway.db`` by
default, PostgreSQL for several gateway processes on several hosts). It never shares tables
with the backend; Alembic keeps its version in ``gateway_alembic_version`` so both can even
live in one PostgreSQL database.
"""

from __future__ import annotations

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

__all__ = ["Base", "UTCDateTime", "VERSION_TABLE", "create_engine", "create_sessionmaker", "utcnow"]
