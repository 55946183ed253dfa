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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway import metrics
from bot.gateway.db import utcnow
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
        """Count one hit for each (limit, key) in order; stop at the first limit exceeded.

        A hit over a limit still counts (a client that keeps sending stays blocked until the
        window ends), but the checks after it are not counted.
        """
        now = self.clock()
        window = _window_start(now)
        for limit, key in checks:
            hits = await self._increment(limit.scope, _hash(key), window)
            if hits > limit.per_minute:
                metrics.refused(limit.scope)
                remaining = (window + WINDOW - now).total_seconds()
                return Exceeded(limit.scope, max(1, math.ceil(remaining)))
        return None

    async def _increment(self, scope: str, key_hash: str, window: datetime) -> int:
        async with self.sessions.begin() as session:
            dialect = session.bind.dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = insert(RateLimitCounter).values(
                scope=scope, key_hash=key_hash, window_started_at=window, hits=1
            )
            statement = statement.on_conflict_do_update(
                index_elements=[
                    RateLimitCounter.scope,
                    RateLimitCounter.key_hash,
                    RateLimitCounter.window_started_at,
                ],
                set_={"hits": RateLimitCounter.hits + 1},
            ).returning(RateLimitCounter.hits)
            return (await session.execute(statement)).scalar_one()

    async def sweep(self) -> int:
        """Delete counters of windows long past; returns how many rows went."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(RateLimitCounter).where(
                    RateLimitCounter.window_started_at < self.clock() - KEEP
                )
            )
            return result.rowcount or 0


def _window_start(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
