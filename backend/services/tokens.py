"""Issue and consume single-use tokens."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import InvalidToken
from backend.models import Account, Token, TokenPurpose
from backend.repositories import tokens as token_queries
from backend.security.tokens import digest, new_token
from backend.services.clock import Clock


async def issue(
    session: AsyncSession, account: Account, purpose: TokenPurpose, ttl: timedelta, clock: Clock
) -> str:
    """Create a token and cancel any live one of the same purpose; returns the raw token."""
    # Lock the account row so concurrent issuers queue: otherwise both cancel nothing, both
    # insert, and the one-live-token index fails the second (PostgreSQL; SQLite already queues).
    await session.execute(select(Account.id).where(Account.id == account.id).with_for_update())
    now = clock()
    await session.execute(
        update(Token)
        .where(
            Token.account_id == account.id,
            Token.purpose == purpose,
            Token.consumed_at.is_(None),
        )
        .values(consumed_at=now, consumed_reason="replaced")
    )
    raw = new_token()
    session.add(
        Token(
            account_id=account.id,
            purpose=purpose,
            token_hash=digest(raw),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return raw


async def peek(session: AsyncSession, raw: str, purpose: TokenPurpose, clock: Clock) -> Token:
    """The usable token behind ``raw``, without consuming it (a GET of a link must not use it)."""
    token = await token_queries.find_usable(session, digest(raw), purpose, clock())
    if token is None:
        raise InvalidToken()
    return token


async def consume(session: AsyncSession, raw: str, purpose: TokenPurpose, clock: Clock) -> int:
    """Mark the token used and return its account id; exactly one concurrent caller wins."""
    now = clock()
    result = await session.execute(
        update(Token)
        .where(
            Token.token_hash == digest(raw),
            Token.purpose == purpose,
            Token.consumed_at.is_(None),
            Token.expires_at > now,
        )
        .values(consumed_at=now, consumed_reason="used")
        .returning(Token.account_id)
    )
    account_id = result.scalar_one_or_none()
    if account_id is None:
        raise InvalidToken()
    return account_id
