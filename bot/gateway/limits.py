"""Message limits that hold across gateway processes: fixed one-minute windows in the database.

Each hit is one upsert (``INSERT … ON CONFLICT DO UPDATE SET hits = hits + 1 RETURNING hits``)
on the row of (scope, SHA-256 of the key, window start), so two processes behind a load
balancer count in the same row. Keys (conversation ids, IP addresses) are stored hashed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway import metrics
from bot.gateway.db import insert_for, utcnow
from bot.gateway.models import RateLimitCounter

WINDOW = timedelta(minutes=1)
# Counters older than this are swept away.
KEEP = timedelta(minutes=10)


@dataclass(frozen=True)
class Limit:
    scope: str
    per_minute: int

    def __post_init__(self) -> None:
        metrics.refusal_scope(self.scope)


@dataclass(frozen=True)
class Exceeded:
    scope: str
    retry_after_seconds: int


@dataclass
class RateLimiter:
    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime] = field(default=utcnow)

    async def hit(self, checks: list[tuple[Limit, str]]) -> Exceeded | None:
        """Count one hit for each (limit, key) in order, in a transaction of its own; stop at
        the first limit exceeded.

        A hit over a limit still counts (a client that keeps sending stays blocked until the
        window ends), but the checks after it are not counted.
        """
        async with self.sessions.begin() as session:
            return await self.count(session, checks)

    async def count(
        self, session: AsyncSession, checks: list[tuple[Limit, str]]
    ) -> Exceeded | None:
        """``hit`` inside the caller's transaction (which must commit the hits even when a
        limit is exceeded): a visitor message is checked, counted and stored in one."""
        now = self.clock()
        window = _window_start(now)
        for limit, key in checks:
            hits = await _increment(session, limit.scope, _hash(key), window)
            if hits > limit.per_minute:
                metrics.refused(limit.scope)
                remaining = (window + WINDOW - now).total_seconds()
                return Exceeded(limit.scope, max(1, math.ceil(remaining)))
        return None

    async def sweep(self) -> int:
        """Delete counters of windows long past; returns how many rows went."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(RateLimitCounter).where(
                    RateLimitCounter.window_started_at < self.clock() - KEEP
                )
            )
            return result.rowcount or 0


async def _increment(session: AsyncSession, scope: str, key_hash: str, window: datetime) -> int:
    statement = (
        insert_for(session)(RateLimitCounter)
        .values(scope=scope, key_hash=key_hash, window_started_at=window, hits=1)
        .on_conflict_do_update(
            index_elements=[
                RateLimitCounter.scope,
                RateLimitCounter.key_hash,
                RateLimitCounter.window_started_at,
            ],
            set_={"hits": RateLimitCounter.hits + 1},
        )
        .returning(RateLimitCounter.hits)
    )
    return (await session.execute(statement)).scalar_one()


def _window_start(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
