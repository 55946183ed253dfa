"""Sliding-window limits kept in the database, so every backend replica sees the same counts.

There is one way to use a limit: ``acquire`` (or ``RateLimit.acquire`` for a single key). Inside the
caller's transaction it

1. serialises on every (scope, key) it names: on PostgreSQL with ``pg_advisory_xact_lock`` on a
   64-bit hash of scope and key, taken in ascending order so two requests naming the same keys can
   never deadlock; on SQLite every transaction already starts with ``BEGIN IMMEDIATE`` (see
   ``backend/db.py``), which holds the database's single write lock;
2. counts the hits of each key inside its window and refuses with ``LimitReached`` (carrying the
   seconds to wait) when any of them is at its limit;
3. otherwise records one hit per counted key.

Call it *before* anything expensive or revealing (argon2, looking the account up) and commit: the
attempt is then counted while it runs, so parallel requests cannot slip past the limit. Whoever
needs to uncount a successful attempt calls ``Acquired.release`` or ``RateLimit.clear``.

Keys (addresses, licence IDs, networks, conversations) are stored only as their SHA-256 digest.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend import metrics
from backend.models import RateLimitHit
from backend.repositories import rate_limits
from backend.security.tokens import digest
from backend.services.clock import Clock

Claim = tuple["RateLimit", str]

logger = logging.getLogger("pomocnik.backend")

# The window of every limit defined, by scope: a hit older than the longest one is read by no
# count any more, and the periodic purge deletes it.
_WINDOWS: dict[str, timedelta] = {}


class LimitReached(Exception):
    """A key is at its limit; ``limit`` says which one, ``retry_after`` how many seconds to wait."""

    def __init__(self, limit: RateLimit, retry_after: int) -> None:
        super().__init__(f"{limit.scope} limit reached; retry after {retry_after}s")
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True)
class Acquired:
    """The hits one ``acquire`` recorded, and per claim the key's hits in its window with this
    one (``hits[i] == limit`` of claim i: the next attempt will be refused)."""

    hit_ids: tuple[int, ...]
    hits: tuple[int, ...] = ()

    async def release(self, session: AsyncSession) -> None:
        """Uncount exactly these hits (an attempt that turned out fine)."""
        if self.hit_ids:
            await session.execute(delete(RateLimitHit).where(RateLimitHit.id.in_(self.hit_ids)))


@dataclass(frozen=True)
class RateLimit:
    scope: str
    limit: int
    window: timedelta
    # False for a limit that turns nobody away (an alarm's threshold, or its once-per-window
    # mark): reaching it is not counted as a refusal in the metrics.
    refuses: bool = True

    def __post_init__(self) -> None:
        _WINDOWS[self.scope] = max(self.window, _WINDOWS.get(self.scope, self.window))
        if self.refuses:  # exported at 0 from the start: the first refusal shows as an increase
            metrics.RATE_LIMIT_REFUSALS.labels(self.scope)

    async def acquire(self, session: AsyncSession, key: str, clock: Clock) -> Acquired:
        """Count one hit for ``key`` or raise ``LimitReached``; see ``acquire``."""
        return await acquire(session, clock, (self, key))

    async def clear(self, session: AsyncSession, key: str) -> None:
        """Forget every hit of ``key`` (a success that forgives earlier failures)."""
        await session.execute(
            delete(RateLimitHit).where(
                RateLimitHit.scope == self.scope, RateLimitHit.key_hash == key_hash(key)
            )
        )


async def acquire(
    session: AsyncSession, clock: Clock, *claims: Claim, checks: Iterable[Claim] = ()
) -> Acquired:
    """Atomically check every claim (and every ``checks`` entry), then count one hit per claim.

    ``checks`` are limits that refuse like claims but are not counted (a lock set elsewhere).
    The first refusing entry, checks first and then claims in the given order, is the one raised.
    """
    checks = tuple(checks)
    entries = [(limit, key_hash(key)) for limit, key in (*checks, *claims)]
    await _serialise(session, {(limit.scope, hashed) for limit, hashed in entries})
    now = clock()
    counts = []
    for limit, hashed in entries:
        count, oldest = await rate_limits.hits_since(session, limit.scope, hashed, now - limit.window)
        if count >= limit.limit and oldest is not None:
            if limit.refuses:
                metrics.RATE_LIMIT_REFUSALS.labels(limit.scope).inc()
            retry_after = max(1, math.ceil((oldest + limit.window - now).total_seconds()))
            raise LimitReached(limit, retry_after)
        counts.append(count)
    rows = [
        RateLimitHit(scope=limit.scope, key_hash=hashed, created_at=now)
        for limit, hashed in entries[len(checks):]
    ]
    session.add_all(rows)
    await session.flush()
    return Acquired(tuple(row.id for row in rows), tuple(n + 1 for n in counts[len(checks):]))


async def count(session: AsyncSession, limit: RateLimit, key: str, clock: Clock) -> int:
    """Hits of ``key`` inside the window (for messages and alarms; never to decide admission)."""
    hits, _ = await rate_limits.hits_since(
        session, limit.scope, key_hash(key), clock() - limit.window
    )
    return hits


async def tally(session: AsyncSession, limit: RateLimit, key: str, clock: Clock) -> int:
    """Record a hit that refuses nothing and return the window's count, this hit included.

    For alarms only (a threshold that warns, never blocks); admission always goes through
    ``acquire``.
    """
    session.add(RateLimitHit(scope=limit.scope, key_hash=key_hash(key), created_at=clock()))
    await session.flush()
    return await count(session, limit, key, clock)


def key_hash(key: str) -> str:
    return digest(key.strip().lower())


def lock_id(scope: str, hashed_key: str) -> int:
    """The signed 64-bit advisory-lock number of one (scope, key)."""
    raw = hashlib.sha256(f"{scope}\x00{hashed_key}".encode()).digest()[:8]
    return int.from_bytes(raw, "big", signed=True)


async def serialise(session: AsyncSession, claims: Iterable[Claim]) -> None:
    """Only the serialisation step of ``acquire``: until the caller's transaction ends, nobody
    else counts or records hits for these keys (for counters that are not sliding windows)."""
    await _serialise(session, {(limit.scope, key_hash(key)) for limit, key in claims})


async def _serialise(session: AsyncSession, keys: set[tuple[str, str]]) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # Ascending order everywhere: two transactions wanting the same locks cannot deadlock.
        for number in sorted({lock_id(scope, hashed) for scope, hashed in keys}):
            await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": number})
    elif dialect == "sqlite":
        # backend/db.py starts every SQLite transaction with BEGIN IMMEDIATE; make sure this one
        # has begun (and so holds the write lock) before counting.
        await session.connection()
    else:  # pragma: no cover - the backend runs on SQLite and PostgreSQL only
        raise RuntimeError(f"no rate-limit serialisation for {dialect}")


@dataclass(frozen=True)
class Requester:
    """Who asks for something on whose behalf, as the calling service reports it.

    Limits count per conversation and per client network. Without them the caller's own name is
    the bucket, so a caller that reports nothing shares one bucket for everything it asks.
    """

    conversation: str
    network: str

    @classmethod
    def of(cls, caller: str, conversation: str | None = None, network: str | None = None) -> Requester:
        fallback = f"caller:{caller}"
        # Prefixes keep a reported value from ever naming another kind of bucket.
        return cls(
            conversation=f"conversation:{conversation}" if conversation else fallback,
            network=f"network:{network}" if network else fallback,
        )


def longest_window() -> timedelta:
    """The longest window of any limit defined (what the purge must keep)."""
    return max(_WINDOWS.values())


async def purge_expired(
    session: AsyncSession, clock: Clock, older_than: timedelta | None = None
) -> int:
    """Delete the hits older than ``older_than`` (default: the longest window of any limit),
    which no count reads any more; returns how many went."""
    if older_than is None and not _WINDOWS:
        return 0  # no limit defined: nothing can be known to be expired
    cutoff = clock() - (older_than or longest_window())
    result = await session.execute(delete(RateLimitHit).where(RateLimitHit.created_at < cutoff))
    return result.rowcount or 0


async def purge_forever(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, interval_seconds: float
) -> None:
    """Purge expired hits now and then every ``interval_seconds`` until cancelled, so the table
    holds only what the windows can still count. Every replica may run it: the delete is
    idempotent. A failed round is logged and retried at the next interval."""
    while True:
        try:
            async with sessions() as session, session.begin():
                purged = await purge_expired(session, clock)
            if purged:
                logger.info("rate limits: purged %d expired hits", purged)
        except Exception:
            logger.exception("rate limits: purging expired hits failed")
        await asyncio.sleep(interval_seconds)
