"""common/database.py: the backend and the gateway open SQLite the same way - every transaction
holds the write lock from its first statement (BEGIN IMMEDIATE), so two count-then-write
transactions cannot both count before either writes - and each keeps its own naming convention
and Alembic version table."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from backend import db as backend_db
from bot.gateway import db as gateway_db
from common import database


@pytest.mark.parametrize("service", [backend_db, gateway_db], ids=["backend", "gateway"])
async def test_a_reading_transaction_already_holds_the_write_lock(tmp_path, service):
    path = tmp_path / "lock.db"
    engine = service.create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE counter (n INTEGER)"))
        async with engine.begin() as connection:
            # only a read so far; under a deferred BEGIN no lock would be held yet
            assert (await connection.execute(text("SELECT count(*) FROM counter"))).scalar() == 0
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
        # once committed, another writer gets the lock at once
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        finally:
            other.close()
    finally:
        await engine.dispose()


def test_each_service_keeps_its_constraint_names_and_version_table():
    assert backend_db.Base.metadata.naming_convention["uq"] == database.FIRST_COLUMN_NAMING["uq"]
    assert gateway_db.Base.metadata.naming_convention["uq"] == database.NAMING_CONVENTION["uq"]
    assert backend_db.Base.metadata is not gateway_db.Base.metadata
    assert (backend_db.VERSION_TABLE, gateway_db.VERSION_TABLE) == (
        "alembic_version", "gateway_alembic_version"
    )
