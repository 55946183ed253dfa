"""Operator commands: python -m backend.cli migrate | check | seed | revision -m "message"

``check`` exits with 1 unless the database schema is the newest (a Kubernetes init container
waits on it while the migration Job runs, deploy/jobs/migrate.yaml); it never creates anything.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from backend.settings import Settings
from common import database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    return database.alembic_config(MIGRATIONS, database_url)


def migrate(database_url: str) -> None:
    database.migrate(MIGRATIONS, database_url)


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(database_url: str) -> str | None:
    """The schema version of the database (None when it has none yet)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        if not Path(url.database).exists():
            return None  # do not create an empty file just to look
    from backend.db import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m backend.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create or upgrade the database schema")
    sub.add_parser("check", help="exit with 1 unless the database schema is the newest")
    sub.add_parser("seed", help="load the demo data (idempotent)")
    revision = sub.add_parser("revision", help="autogenerate a new migration")
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args()

    settings = Settings.from_env()
    if args.command == "migrate":
        migrate(settings.database_url)
    elif args.command == "check":
        current, head = asyncio.run(current_revision(settings.database_url)), head_revision()
        if current != head:
            print(f"backend: database schema is {current or 'empty'}, newest is {head}")
            sys.exit(1)
        print(f"backend: database schema is current ({head})")
    elif args.command == "seed":
        from backend.demo_data import load_demo_data

        asyncio.run(load_demo_data(settings))
    elif args.command == "revision":
        database.ensure_sqlite_directory(settings.database_url)
        command.revision(
            alembic_config(settings.database_url), message=args.message, autogenerate=True
        )


if __name__ == "__main__":
    main()
