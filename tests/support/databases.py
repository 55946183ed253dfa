"""A fresh, migrated database per test: SQLite by default, PostgreSQL when TEST_DATABASE_URL is set.

The backend's tests use it as it is; the gateway's pass their own migrations and let the gateway
migrate SQLite itself when it starts (as it does in production)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from backend.cli import migrate as migrate_backend


@asynccontextmanager
async def fresh_database(
    tmp_path: Path,
    *,
    migrate: Callable[[str], None] = migrate_backend,
    sqlite_file: str = "backend.db",
    migrate_sqlite: bool = True,
    prefix: str = "pomocnik_test",
) -> AsyncIterator[str]:
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        url = f"sqlite+aiosqlite:///{tmp_path / sqlite_file}"
        if migrate_sqlite:
            await asyncio.to_thread(migrate, url)
        yield url
        return
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(migrate, url)
        yield url
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
