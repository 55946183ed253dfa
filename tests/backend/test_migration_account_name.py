"""Migration 0005 (accounts.name optional) on a database that already holds data: SQLite, or
PostgreSQL with TEST_DATABASE_URL (tests/support/databases.py). Nothing of an account is lost on
the way up (on SQLite the table is rebuilt: its memberships, tokens and audit rows must not be
cascaded away), and the way down gives a nameless account its e-mail as the name."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import insert, select, update

from backend.cli import alembic_config
from backend.db import Base, create_engine
from tests.support.databases import fresh_database

BEFORE = "0004"
AFTER = "0005"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
TABLES = Base.metadata.tables


def _migrate_to(revision: str):
    def migrate(url: str) -> None:
        command.upgrade(alembic_config(url), revision)

    return migrate


async def _to(url: str, revision: str, *, down: bool = False) -> None:
    config = alembic_config(url)
    step = command.downgrade if down else command.upgrade
    await asyncio.to_thread(step, config, revision)


async def _seed(url: str) -> None:
    """An owner with a company, a membership, a live token and an audit row (all pointing at
    the account by foreign keys with ON DELETE CASCADE / SET NULL)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(TABLES["accounts"]), [
                {"id": 1, "email": "jan@firma.pl", "name": "Jan Kowalski", "password_hash": "h",
                 "state": "active", "cloud_login_activated": True, "created_at": NOW,
                 "updated_at": NOW},
                {"id": 2, "email": "ewa@firma.pl", "name": "Ewa Lis", "password_hash": None,
                 "state": "pending_activation", "cloud_login_activated": False,
                 "created_at": NOW, "updated_at": NOW},
            ])
            await connection.execute(insert(TABLES["organisations"]).values(
                id=1, name="Majama", kind="company", nip=None, created_at=NOW
            ))
            await connection.execute(insert(TABLES["memberships"]), [
                {"id": 1, "organisation_id": 1, "account_id": 1, "role": "owner",
                 "created_at": NOW},
                {"id": 2, "organisation_id": 1, "account_id": 2, "role": "employee",
                 "created_at": NOW},
            ])
            await connection.execute(insert(TABLES["tokens"]).values(
                id=1, account_id=2, purpose="invitation", token_hash="a" * 64, created_at=NOW,
                expires_at=NOW + timedelta(days=7), attempts=0, payload={"membership_id": 2},
            ))
            await connection.execute(insert(TABLES["audit_events"]).values(
                id=1, occurred_at=NOW, actor="test", action="member_added", account_id=2,
                details={},
            ))
    finally:
        await engine.dispose()


async def _snapshot(url: str) -> dict[str, list[tuple]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            accounts = TABLES["accounts"]
            return {
                "accounts": [tuple(row) for row in await connection.execute(
                    select(accounts.c.id, accounts.c.email, accounts.c.name, accounts.c.state)
                    .order_by(accounts.c.id)
                )],
                "memberships": [tuple(row) for row in await connection.execute(
                    select(TABLES["memberships"].c.id, TABLES["memberships"].c.account_id)
                    .order_by(TABLES["memberships"].c.id)
                )],
                "tokens": [tuple(row) for row in await connection.execute(
                    select(TABLES["tokens"].c.id, TABLES["tokens"].c.account_id)
                )],
                "audit": [tuple(row) for row in await connection.execute(
                    select(TABLES["audit_events"].c.id, TABLES["audit_events"].c.account_id)
                )],
            }
    finally:
        await engine.dispose()


async def _set_name(url: str, account_id: int, name: str | None) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            accounts = TABLES["accounts"]
            await connection.execute(
                update(accounts).where(accounts.c.id == account_id).values(name=name)
            )
    finally:
        await engine.dispose()


@pytest.fixture
async def url_at_0004(tmp_path):
    async with fresh_database(tmp_path, migrate=_migrate_to(BEFORE)) as url:
        yield url


async def test_upgrade_keeps_every_account_and_what_points_at_it(url_at_0004):
    await _seed(url_at_0004)
    before = await _snapshot(url_at_0004)

    await _to(url_at_0004, AFTER)

    assert await _snapshot(url_at_0004) == before
    assert before["memberships"] == [(1, 1), (2, 2)] and before["tokens"] == [(1, 2)]
    # and now an account may have no name
    await _set_name(url_at_0004, 2, None)
    assert (await _snapshot(url_at_0004))["accounts"][1] == (2, "ewa@firma.pl", None,
                                                             "pending_activation")


async def test_a_name_is_still_required_before_the_upgrade(url_at_0004):
    await _seed(url_at_0004)
    with pytest.raises(Exception, match="(?i)null"):
        await _set_name(url_at_0004, 2, None)


async def test_downgrade_names_a_nameless_account_by_its_email(url_at_0004):
    await _seed(url_at_0004)
    await _to(url_at_0004, AFTER)
    await _set_name(url_at_0004, 2, None)

    await _to(url_at_0004, BEFORE, down=True)

    after = await _snapshot(url_at_0004)
    assert after["accounts"] == [
        (1, "jan@firma.pl", "Jan Kowalski", "active"),
        (2, "ewa@firma.pl", "ewa@firma.pl", "pending_activation"),
    ]
    assert after["memberships"] == [(1, 1), (2, 2)]
    assert after["tokens"] == [(1, 2)] and after["audit"] == [(1, 2)]
    # up again: the head schema, the same rows
    await _to(url_at_0004, "head")
    assert (await _snapshot(url_at_0004))["memberships"] == [(1, 1), (2, 2)]
