"""Queries about website login sessions (looked up by the SHA-256 of the token only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import LoginSession


async def get_live(session: AsyncSession, token_hash: str, now: datetime) -> LoginSession | None:
    return await session.scalar(
        select(LoginSession).where(
            LoginSession.token_hash == token_hash,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > now,
        )
    )


async def revoke(session: AsyncSession, token_hash: str, now: datetime) -> int | None:
    """Revoke one live session; the account it belonged to, or None if there was none."""
    result = await session.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == token_hash, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(LoginSession.account_id)
    )
    return result.scalar_one_or_none()


async def revoke_all(session: AsyncSession, account_id: int, now: datetime) -> None:
    await session.execute(
        update(LoginSession)
        .where(LoginSession.account_id == account_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
