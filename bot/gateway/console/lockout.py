"""Failed console sign-ins, counted per e-mail address whether or not an adviser has it.

Five failures within 15 minutes, with no successful sign-in between, lock the address for 15
minutes from the fifth. Unknown addresses are counted exactly like advisers' ones, so the
lockout message never tells whether an address exists.

An attempt counts *before* its password is checked (``begin_attempt``: count and record in one
transaction, serialised per address — SQLite's BEGIN IMMEDIATE, a PostgreSQL advisory lock),
so a burst of simultaneous sign-ins gets at most five argon2 checks; a successful sign-in
then forgets the failures (``clear``).

The counts live in the shared ``rate_limit_counters`` table (scope ``agent_login_failure``,
the address only as SHA-256), one row per failure whose ``window_started_at`` holds the moment
that failure stops counting (the fifth one counts as all five, so the lock lasts its full 15
minutes). Every gateway process sees the same rows; the limiter's sweep removes them once
long expired.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.gateway.db import insert_for
from bot.gateway.models import RateLimitCounter

SCOPE = "agent_login_failure"
MAX_FAILURES = 5
LOCK = timedelta(minutes=15)


def address_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


async def locked_until(session: AsyncSession, email: str, now: datetime) -> datetime | None:
    """When the address may try again, or None if it is not locked."""
    count, until = (
        await session.execute(
            select(func.coalesce(func.sum(RateLimitCounter.hits), 0),
                   func.max(RateLimitCounter.window_started_at))
            .where(_rows_of(email), RateLimitCounter.window_started_at > now)
        )
    ).one()
    return until if count >= MAX_FAILURES else None


async def begin_attempt(session: AsyncSession, email: str, now: datetime) -> datetime | None:
    """Count one sign-in attempt as a failure before the password is checked.

    Returns when the address may try again if it is already locked (the attempt is refused and
    not counted), or None: the attempt may go on, and counts until a success clears it. Call
    inside the transaction that commits it; concurrent attempts at one address queue here."""
    await _serialise(session, email)
    until = await locked_until(session, email, now)
    if until is not None:
        return until
    await record_failure(session, email, now)
    return None


async def failures(session: AsyncSession, email: str, now: datetime) -> int:
    """The failures (attempts not followed by a success) that still count."""
    return await session.scalar(
        select(func.coalesce(func.sum(RateLimitCounter.hits), 0))
        .where(_rows_of(email), RateLimitCounter.window_started_at > now)
    )


async def _serialise(session: AsyncSession, email: str) -> None:
    """SQLite: every transaction already holds the write lock (BEGIN IMMEDIATE). PostgreSQL:
    a transaction-level advisory lock on the address, released at commit."""
    if session.bind.dialect.name == "postgresql":
        key = int.from_bytes(bytes.fromhex(address_key(email))[:8], "big", signed=True)
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


async def record_failure(session: AsyncSession, email: str, now: datetime) -> int:
    """Count one failure; returns the failures that still count (this one included)."""
    await _add(session, email, now + LOCK, 1)
    count = await session.scalar(
        select(func.coalesce(func.sum(RateLimitCounter.hits), 0))
        .where(_rows_of(email), RateLimitCounter.window_started_at > now)
    )
    if count >= MAX_FAILURES:
        # The newest row alone now holds the lock, so it lasts 15 minutes from this failure.
        await _add(session, email, now + LOCK, MAX_FAILURES)
    return count


async def clear(session: AsyncSession, email: str) -> None:
    """A successful sign-in (or an operator's password reset) forgets the failures."""
    await session.execute(delete(RateLimitCounter).where(_rows_of(email)))


async def _add(session: AsyncSession, email: str, expires: datetime, hits: int) -> None:
    await session.execute(
        insert_for(session)(RateLimitCounter)
        .values(scope=SCOPE, key_hash=address_key(email), window_started_at=expires, hits=hits)
        .on_conflict_do_update(
            index_elements=[RateLimitCounter.scope, RateLimitCounter.key_hash,
                            RateLimitCounter.window_started_at],
            set_={"hits": RateLimitCounter.hits + hits},
        )
    )


def _rows_of(email: str):
    return (RateLimitCounter.scope == SCOPE) & (RateLimitCounter.key_hash == address_key(email))
