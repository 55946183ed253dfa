"""Operator commands: python -m backend.cli migrate | seed | revision -m "message" """

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from backend.settings import Settings
from common import database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    return database.alembic_config(MIGRATIONS, database_url)


def migrate(database_url: str) -> None:
    database.migrate(MIGRATIONS, database_url)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m backend.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create or upgrade the database schema")
    sub.add_parser("seed", help="load the demo data (idempotent)")
    revision = sub.add_parser("revision", help="autogenerate a new migration")
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args()

    settings = Settings.from_env()
    if args.command == "migrate":
        migrate(settings.database_url)
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
