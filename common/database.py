"""How the backend and the gateway open, shape and migrate their databases.

Each service owns its own database (backend/db.py, bot/gateway/db.py) and its own Alembic
migrations; what they must do the same way is here, once:

- the engine: on SQLite, WAL, a busy timeout, foreign keys, and every transaction started with
  ``BEGIN IMMEDIATE`` (both services count-then-write under concurrency: rate limits, sequence
  numbers; a deferred BEGIN would let two transactions count before either writes);
- timezone-aware UTC datetimes on every database, and the declarative base that maps them;
- Alembic: the configuration, the upgrade, the head and current revision, and the body of each
  service's ``migrations/env.py``.

Constraint names come from a naming convention that each service passes to ``declarative_base``:
the names its first migrations created must keep matching (see ``FIRST_COLUMN_NAMING``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Explicit constraint names keep the migrations identical on SQLite and PostgreSQL. A name carries
# every column of a multi-column index or constraint ("ix_messages_conversation_id_id").
NAMING_CONVENTION: Mapping[str, str] = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# The backend's first migrations named multi-column constraints after their first column only
# ("uq_memberships_organisation_id" for organisation_id + account_id); its metadata keeps that
# convention so the models and the migrated schema agree.
FIRST_COLUMN_NAMING: Mapping[str, str] = {
    **NAMING_CONVENTION,
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use timezone-aware UTC values")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def declarative_base(naming_convention: Mapping[str, str]) -> type[DeclarativeBase]:
    """A service's declarative base: its own metadata, datetimes mapped to ``UTCDateTime``."""

    class Base(DeclarativeBase):
        metadata = MetaData(naming_convention=dict(naming_convention))
        type_annotation_map = {datetime: UTCDateTime}

    return Base


# --- the engine --------------------------------------------------------------------------------


def create_engine(database_url: str) -> AsyncEngine:
    # A pre-ping (a SELECT 1 at every checkout) finds server connections that were dropped
    # (a PostgreSQL restart); a SQLite file has no server, and through aiosqlite the ping costs
    # three thread round trips per transaction.
    sqlite = is_sqlite(database_url)
    engine = create_async_engine(
        database_url,
        pool_pre_ping=not sqlite,
        # SQLite: _rollback_if_open instead of the pool's ROLLBACK on every return.
        pool_reset_on_return=None if sqlite else "rollback",
    )
    if sqlite:
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        event.listen(engine.sync_engine, "reset", _rollback_if_open)
    return engine


def _configure_sqlite(dbapi_connection, _record) -> None:
    # WAL lets readers run beside the writer; busy_timeout makes writers queue instead of failing.
    # The driver's own transaction handling is switched off (aiosqlite passes this to sqlite3) so
    # the "begin" listener below decides how every transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection) -> None:
    # Every transaction takes SQLite's write lock up front. Rate limits count and then record a
    # hit: under a deferred BEGIN two transactions could both count before either writes. It also
    # makes read-then-write transactions (a sequence number, a counter) queue behind busy_timeout
    # instead of failing with "database is locked" when the read lock cannot be upgraded.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _rollback_if_open(_dbapi_connection, record, reset_state) -> None:
    # A connection goes back to the pool after its transaction committed or rolled back nearly
    # always; the pool's usual ROLLBACK on return would then be one more aiosqlite thread round
    # trip for nothing. sqlite3 knows whether a transaction is still open (read without the
    # thread), so only then is it rolled back. A connection being garbage collected (not
    # asyncio-safe) is closed by the pool instead.
    if reset_state.asyncio_safe and record.driver_connection.in_transaction:
        record.dbapi_connection.rollback()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


def ensure_sqlite_directory(database_url: str) -> None:
    """Create the folder of a SQLite database file (SQLite creates the file, not the folder)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


# --- migrations --------------------------------------------------------------------------------


def alembic_config(migrations: Path, database_url: str) -> Config:
    """Alembic's configuration for the migrations in ``migrations`` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(migrations: Path, database_url: str) -> None:
    """Upgrade to the newest schema; safe to run again and from several processes."""
    ensure_sqlite_directory(database_url)
    command.upgrade(alembic_config(migrations, database_url), "head")


def head_revision(migrations: Path) -> str:
    return ScriptDirectory.from_config(alembic_config(migrations, "sqlite://")).get_current_head()


async def current_revision(engine: AsyncEngine, version_table: str) -> str | None:
    """The schema version of the database behind an async engine (None when empty)."""

    def read(connection: Connection) -> str | None:
        context = MigrationContext.configure(connection, opts={"version_table": version_table})
        return context.get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


def _foreign_keys_off(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    """Refuse to commit a migration that left a row pointing at nothing (keys were off)."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migration left rows that break foreign keys: {broken[:5]}")


def run_migrations(context: Any, metadata: MetaData, version_table: str) -> None:
    """The body of a service's migrations/env.py: offline (SQL script) or online, on a connection
    the caller passed in ``config.attributes["connection"]`` or on the service's engine (SQLite
    with batch mode, so ALTERs work, and foreign keys off while a table is rebuilt - checked
    before the commit)."""
    config = context.config
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "version_table": version_table,
    }

    def run(connection: Connection) -> None:
        sqlite = connection.dialect.name == "sqlite"
        context.configure(
            connection=connection,
            render_as_batch=sqlite,
            compare_type=True,
            **options,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                _check_foreign_keys(connection)

    async def run_async() -> None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        if engine.dialect.name == "sqlite":
            # A batch migration rebuilds a table (create a copy, DROP the original, rename the
            # copy). With foreign keys on, SQLite's DROP deletes the rows first and fires every
            # ON DELETE CASCADE / SET NULL pointing at them - memberships, tokens, grants would
            # be gone after a column of `accounts` changes. SQLite's documented procedure: keys
            # off for the change (set per connection, before any transaction), then
            # `foreign_key_check` before the commit (see _check_foreign_keys).
            event.listen(engine.sync_engine, "connect", _foreign_keys_off)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(run)
        finally:
            await engine.dispose()

    if context.is_offline_mode():
        url = config.get_main_option("sqlalchemy.url")
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
    elif config.attributes.get("connection") is not None:
        run(config.attributes["connection"])
    else:
        asyncio.run(run_async())
