"""Queries about one-time tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import Token, TokenPurpose


async def find_usable(
    session: AsyncSession, token_hash: str, purpose: TokenPurpose, now: datetime
) -> Token | None:
    return await session.scalar(
        select(Token).where(
            Token.token_hash == token_hash,
            Token.purpose == purpose,
            Token.consumed_at.is_(None),
            Token.expires_at > now,
        )
    )


async def count_issued_since(
    session: AsyncSession, account_id: int, purpose: TokenPurpose, since: datetime
) -> int:
    return await session.scalar(
        select(func.count(Token.id)).where(
            Token.account_id == account_id, Token.purpose == purpose, Token.created_at >= since
        )
    ) or 0
