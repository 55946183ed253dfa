"""The gateway's own database: Alembic migrations, `python -m bot.gateway.cli`, start-up checks."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from bot.gateway.app import SchemaOutdated, prepare_database
from bot.gateway.cli import migrate
from bot.gateway.db import VERSION_TABLE, Base, create_engine
from bot.gateway.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "bot.gateway.cli", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


def test_cli_migrates_a_fresh_sqlite_database_and_checks_it(tmp_path):
    db_path = tmp_path / "sub" / "gateway.db"
    url = f"sqlite+aiosqlite:///{db_path}"

    before = run_cli("check", database_url=url)
    assert before.returncode == 1 and "schema is empty" in before.stdout

    migrated = run_cli("migrate", database_url=url)
    assert migrated.returncode == 0, migrated.stderr
    assert run_cli("migrate", database_url=url).returncode == 0  # again: nothing to do
    assert run_cli("check", database_url=url).returncode == 0

    query = "SELECT name FROM sqlite_master WHERE type='table'"
    tables = {row[0] for row in sqlite3.connect(db_path).execute(query)}
    assert {"conversations", "messages", "rate_limit_counters", VERSION_TABLE} <= tables
    # The backend's version table name stays free: both may share one PostgreSQL database.
    assert "alembic_version" not in tables


async def test_migrations_match_the_models(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    await asyncio.to_thread(migrate, url)
    engine = create_engine(url)

    def differences(connection):
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []
    await engine.dispose()


def test_default_database_is_under_var():
    assert Settings().database_url == f"sqlite+aiosqlite:///{REPO_ROOT / 'var' / 'gateway.db'}"


async def test_sqlite_is_migrated_when_the_gateway_starts(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'gateway.db'}"
    settings = Settings(database_url=url)
    engine = create_engine(url)
    try:
        await prepare_database(settings, engine)
        await prepare_database(settings, engine)  # a second process starting: no change
    finally:
        await engine.dispose()
    assert run_cli("check", database_url=url).returncode == 0


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL (TEST_DATABASE_URL)"
)
async def test_postgresql_must_be_migrated_before_the_gateway_starts(database_url):
    # The fixture's database is migrated; an empty one is refused.
    settings = Settings(database_url=database_url)
    engine = create_engine(database_url)
    try:
        await prepare_database(settings, engine)  # migrated: fine
        async with engine.begin() as connection:
            await connection.execute(text(f"DELETE FROM {VERSION_TABLE}"))
        with pytest.raises(SchemaOutdated, match="python -m bot.gateway.cli migrate"):
            await prepare_database(settings, engine)
    finally:
        await engine.dispose()
