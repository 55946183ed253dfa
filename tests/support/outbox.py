"""Waiting for the backend's outbox to deliver everything queued."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.models import OutboxMessage
from tests.support.waiting import eventually


async def mail_settled(sessions, timeout: float = 30.0) -> None:
    """Return once no queued e-mail is left unsent in the database behind ``sessions``.

    A test that makes the backend queue e-mail waits for it before the backend stops: stopping
    right after a notify can hang the shared outbox sender on Python 3.11 (its asyncio.wait_for
    may swallow the cancellation); see the report on backend/mail/sender.py."""

    async def all_sent() -> bool:
        async with sessions() as session:
            pending = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
            )
        return pending == 0

    await eventually(all_sent, timeout=timeout)
