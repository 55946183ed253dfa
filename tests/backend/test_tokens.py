"""Token lifecycle against a real database: single use, expiry, replacement, concurrency."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.db import create_engine, create_sessionmaker
from backend.demo_data import load_demo_data
from backend.errors import InvalidToken
from backend.models import Account, Token, TokenPurpose
from backend.security.tokens import digest
from backend.services import tokens

RESET = TokenPurpose.PASSWORD_RESET
HOUR = timedelta(hours=1)


@pytest.fixture
async def sessions(settings):
    await load_demo_data(settings)
    engine = create_engine(settings.database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def account(sessions):
    async with sessions() as session:
        return await session.scalar(select(Account))


async def issue(sessions, account, clock):
    async with sessions.begin() as session:
        return await tokens.issue(session, account, RESET, HOUR, clock)


async def consume(sessions, raw, clock):
    async with sessions.begin() as session:
        return await tokens.consume(session, raw, RESET, clock)


async def test_token_has_256_bits_and_only_its_hash_is_stored(sessions, account, clock):
    raw = await issue(sessions, account, clock)
    assert len(raw) >= 43  # 32 bytes, URL-safe base64
    async with sessions() as session:
        stored = (await session.scalars(select(Token))).one()
    assert stored.token_hash == digest(raw)
    assert raw not in (stored.token_hash, str(stored.id))


async def test_single_use(sessions, account, clock):
    raw = await issue(sessions, account, clock)
    assert await consume(sessions, raw, clock) == account.id
    with pytest.raises(InvalidToken):
        await consume(sessions, raw, clock)


async def test_expires_after_ttl(sessions, account, clock):
    raw = await issue(sessions, account, clock)
    clock.advance(minutes=59)
    async with sessions() as session:
        await tokens.peek(session, raw, RESET, clock)
    clock.advance(minutes=1)
    with pytest.raises(InvalidToken):
        await consume(sessions, raw, clock)


async def test_reissue_cancels_the_old_token(sessions, account, clock):
    old = await issue(sessions, account, clock)
    new = await issue(sessions, account, clock)
    with pytest.raises(InvalidToken):
        await consume(sessions, old, clock)
    assert await consume(sessions, new, clock) == account.id


async def test_peek_does_not_consume(sessions, account, clock):
    raw = await issue(sessions, account, clock)
    for _ in range(3):
        async with sessions() as session:
            assert (await tokens.peek(session, raw, RESET, clock)).account_id == account.id
    assert await consume(sessions, raw, clock) == account.id


async def test_wrong_purpose_is_rejected(sessions, account, clock):
    raw = await issue(sessions, account, clock)
    async with sessions.begin() as session:
        with pytest.raises(InvalidToken):
            await tokens.consume(session, raw, TokenPurpose.ACTIVATION, clock)


async def test_twenty_concurrent_uses_succeed_exactly_once(sessions, account, clock):
    raw = await issue(sessions, account, clock)

    async def attempt():
        try:
            return await consume(sessions, raw, clock)
        except InvalidToken:
            return None

    results = await asyncio.gather(*(attempt() for _ in range(20)))
    assert results.count(account.id) == 1
    assert results.count(None) == 19
