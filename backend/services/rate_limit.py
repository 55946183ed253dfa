"""Sliding-window limits kept in the database, so every backend replica sees the same counts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import RateLimitHit
from backend.repositories import rate_limits
from backend.security.tokens import digest
from backend.services.clock import Clock


@dataclass(frozen=True)
class RateLimit:
    scope: str
    limit: int
    window: timedelta

    async def retry_after(self, session: AsyncSession, key: str, clock: Clock) -> int | None:
        """Seconds until the key may try again, or None while it is under the limit."""
        now = clock()
        count, oldest = await rate_limits.hits_since(
            session, self.scope, _key_hash(key), now - self.window
        )
        if count < self.limit or oldest is None:
            return None
        return max(1, math.ceil((oldest + self.window - now).total_seconds()))

    def hit(self, session: AsyncSession, key: str, clock: Clock) -> None:
        session.add(RateLimitHit(scope=self.scope, key_hash=_key_hash(key), created_at=clock()))

    async def clear(self, session: AsyncSession, key: str) -> None:
        await session.execute(
            delete(RateLimitHit).where(
                RateLimitHit.scope == self.scope, RateLimitHit.key_hash == _key_hash(key)
            )
        )


def _key_hash(key: str) -> str:
    return digest(key.strip().lower())


async def purge_expired(session: AsyncSession, older_than: timedelta, clock: Clock) -> None:
    await session.execute(delete(RateLimitHit).where(RateLimitHit.created_at < clock() - older_than))
