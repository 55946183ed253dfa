"""Queries about counted attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import RateLimitHit


async def hits_since(
    session: AsyncSession, scope: str, key_hash: str, since: datetime
) -> tuple[int, datetime | None]:
    """How many hits the key has in the window, and when the oldest of them happened."""
    count, oldest = (
        await session.execute(
            select(func.count(RateLimitHit.id), func.min(RateLimitHit.created_at)).where(
                RateLimitHit.scope == scope,
                RateLimitHit.key_hash == key_hash,
                RateLimitHit.created_at >= since,
            )
        )
    ).one()
    return count, oldest
