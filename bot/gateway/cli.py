"""Operator commands for the gateway's database.

    python -m bot.gateway.cli migrate                 # create or upgrade the schema (make db)
    python -m bot.gateway.cli revision -m "message"   # autogenerate a new migration
    python -m bot.gateway.cli check                   # exit 1 unless the schema is current
    python -m bot.gateway.cli agent-add --email anna@firma.pl --name Anna  # make agent-add
    python -m bot.gateway.cli agent-add --email anna@firma.pl --name Anna --editor
    python -m bot.gateway.cli agent-list
    python -m bot.gateway.cli agent-disable --email anna@firma.pl
    python -m bot.gateway.cli nlu-inbox-export        # make nlu-inbox-export

``agent-add`` reads the password from ``AGENT_PASSWORD`` if set, else asks twice; for an
existing address it sets the new password, unlocks and re-enables the adviser. ``--editor``
lets them label the NLU inbox, ``--no-editor`` takes that away; without either an existing
adviser keeps what they had. ``nlu-inbox-export`` writes the labelled inbox messages to
``data/nlu/inbox/<date>.yml`` (``bot.gateway.nlu_export``).

The database is ``GATEWAY_DATABASE_URL`` (SQLite ``var/gateway.db`` by default).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from bot.domain_files import DOMAIN_DIR
from bot.gateway.db import VERSION_TABLE, create_engine, create_sessionmaker, utcnow
from bot.gateway.domain import DomainError, load_domain
from bot.gateway.settings import PROJECT_ROOT, Settings, SettingsError
from common import database
from common.database import is_sqlite

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    return database.alembic_config(MIGRATIONS, database_url)


def migrate(database_url: str) -> None:
    """Upgrade to the newest schema; safe to run again and from several processes."""
    database.migrate(MIGRATIONS, database_url)


def head_revision() -> str:
    return database.head_revision(MIGRATIONS)


async def current_revision(engine) -> str | None:
    """The schema version of the database behind an async engine (None when empty)."""
    return await database.current_revision(engine, VERSION_TABLE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.gateway.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create or upgrade the gateway's database schema")
    sub.add_parser("check", help="exit with 1 unless the schema is the newest")
    revision = sub.add_parser("revision", help="autogenerate a new migration")
    revision.add_argument("-m", "--message", required=True)
    add = sub.add_parser("agent-add", help="add an adviser, or reset their password and unlock")
    add.add_argument("--email", required=True)
    add.add_argument("--name", required=True, help="the first name visitors see")
    add.add_argument("--editor", action=argparse.BooleanOptionalAction, default=None,
                     help="may label the NLU inbox (default: unchanged; new advisers: no)")
    sub.add_parser("agent-list", help="list the advisers")
    disable = sub.add_parser("agent-disable", help="stop an adviser signing in")
    disable.add_argument("--email", required=True)
    export = sub.add_parser("nlu-inbox-export",
                            help="write the labelled NLU inbox messages as Rasa training data")
    export.add_argument("--data", type=Path, default=PROJECT_ROOT / "data",
                        help="the training data to deduplicate against (default: data)")
    export.add_argument("--out", type=Path, default=PROJECT_ROOT / "data" / "nlu" / "inbox",
                        help="where <date>.yml goes (default: data/nlu/inbox)")
    export.add_argument("--domain", type=Path, default=DOMAIN_DIR,
                        help="the directory of domain files (default: domain/)")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        migrate(settings.database_url)
        print("gateway: database schema is up to date")
    elif args.command == "check":
        async def check() -> str | None:
            url = make_url(settings.database_url)
            if is_sqlite(settings.database_url) and not Path(url.database or "").exists():
                return None  # do not create an empty file just to look
            engine = create_engine(settings.database_url)
            try:
                return await current_revision(engine)
            finally:
                await engine.dispose()

        current, head = asyncio.run(check()), head_revision()
        if current != head:
            print(f"gateway: database schema is {current or 'empty'}, newest is {head}")
            return 1
        print(f"gateway: database schema is current ({head})")
    elif args.command.startswith("agent-"):
        if is_sqlite(settings.database_url):
            migrate(settings.database_url)  # `make agent-add` may come before `make run`
        return asyncio.run(agent_command(settings, args))
    elif args.command == "nlu-inbox-export":
        if is_sqlite(settings.database_url):
            migrate(settings.database_url)
        return asyncio.run(export_command(settings, args))
    elif args.command == "revision":
        database.ensure_sqlite_directory(settings.database_url)
        command.revision(
            alembic_config(settings.database_url), message=args.message, autogenerate=True
        )
    return 0


async def agent_command(settings: Settings, args: argparse.Namespace) -> int:
    """agent-add / agent-list / agent-disable on a migrated database."""
    from bot.gateway.console import agents

    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    try:
        if args.command == "agent-add":
            created = await agents.add_or_reset(
                sessions, args.email, args.name, read_password(), utcnow(), editor=args.editor
            )
            print(f"gateway: adviser {'added' if created else 'updated and unlocked'}")
        elif args.command == "agent-list":
            for row in await agents.list_agents(sessions):
                state = "disabled" if row.disabled_at else (
                    "locked" if row.locked_until and row.locked_until > utcnow() else "active")
                role = "editor" if row.editor else "adviser"
                print(f"{row.email}\t{row.display_name}\t{state}\t{role}\t"
                      f"last login: {row.last_login_at or 'never'}")
        elif not await agents.disable(sessions, args.email, utcnow()):
            print("gateway: no adviser with that e-mail", file=sys.stderr)
            return 1
        else:
            print("gateway: adviser disabled, their sessions ended")
    except agents.InvalidAgent as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    return 0


async def export_command(settings: Settings, args: argparse.Namespace) -> int:
    """nlu-inbox-export on a migrated database."""
    from bot.gateway.nlu_export import export_inbox

    try:
        domain = load_domain(args.domain)
    except DomainError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    engine = create_engine(settings.database_url)
    try:
        report = await export_inbox(create_sessionmaker(engine), args.data, args.out, domain,
                                    warsaw_today(), utcnow)
    finally:
        await engine.dispose()
    where = f" to {report.path}" if report.path else ""
    print(f"gateway: {report.written} new example(s) written{where}; "
          f"{report.duplicates} already in the training data; {report.refused} refused "
          f"(a secret or a masked value); {report.kept} left to relabel (no longer in the domain)")
    for conflict in report.conflicts:
        print(f"gateway: conflict, not written: {conflict}")
    return 0


def warsaw_today() -> date:
    return datetime.now(ZoneInfo("Europe/Warsaw")).date()


def read_password() -> str:
    """AGENT_PASSWORD if set (scripts), else asked twice without echo."""
    if os.environ.get("AGENT_PASSWORD"):
        return os.environ["AGENT_PASSWORD"]
    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("Repeat the password: ") != first:
        raise SystemExit("gateway: the passwords differ")
    return first


if __name__ == "__main__":
    sys.exit(main())
