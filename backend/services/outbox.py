"""Queue e-mails in the caller's transaction; the sender delivers them after commit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backend.mail.builders import EmailContent
from backend.models import OutboxMessage
from backend.services.clock import Clock


def queue(session: AsyncSession, content: EmailContent, clock: Clock) -> None:
    now = clock()
    session.add(
        OutboxMessage(
            kind=content.kind,
            to_address=content.to_address,
            subject=content.subject,
            text_body=content.text_body,
            html_body=content.html_body,
            created_at=now,
            next_attempt_at=now,
        )
    )
