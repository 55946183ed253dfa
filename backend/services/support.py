"""Support-ticket e-mails for the chat gateway: a ticket opened outside advisers' hours is
confirmed to the customer ("ticket_received"), and the advisers' answer is sent the same way
("ticket_answered"). The gateway owns the tickets; the backend only queues the e-mails.

At most ``TICKET_EMAILS`` per recipient address per hour (the gateway is trusted, but a loop or a
flood of tickets must not turn the backend into a mailer for one inbox).
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from backend.deps import Deps
from backend.errors import RateLimited
from backend.mail import support_emails
from backend.services import audit, outbox
from backend.services.rate_limit import LimitReached, RateLimit

TICKET_EMAILS = RateLimit("ticket_email", limit=10, window=timedelta(hours=1))


class TicketEmailKind(StrEnum):
    RECEIVED = "ticket_received"
    ANSWERED = "ticket_answered"


class TicketEmailLimit(RateLimited):
    code = "ticket_email_limit"
    template = (
        f"Na ten adres wysłano już {TICKET_EMAILS.limit} wiadomości o zgłoszeniach w ciągu "
        "ostatniej godziny. Spróbuj ponownie za {minutes} min."
    )


class SupportService:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._sessions = deps.sessions
        self._clock = deps.clock

    async def send_ticket_email(
        self,
        kind: TicketEmailKind,
        *,
        to_address: str,
        ticket_number: str,
        answer: str | None = None,
    ) -> None:
        # No customer text in these e-mails: the address came from a chat visitor and nobody
        # verified it (the answer is the adviser's own text).
        if kind == TicketEmailKind.ANSWERED:
            if answer is None:
                raise ValueError("a ticket_answered e-mail needs the answer")
            content = support_emails.ticket_answered(
                to_address=to_address, ticket_number=ticket_number, answer=answer
            )
        else:
            content = support_emails.ticket_received(
                to_address=to_address, ticket_number=ticket_number
            )
        async with self._sessions.begin() as session:
            try:
                await TICKET_EMAILS.acquire(session, to_address, self._clock)
            except LimitReached as refused:
                raise TicketEmailLimit(refused.retry_after) from None
            outbox.queue(session, content, self._clock)
            audit.record(
                session, self._clock, actor="chat_gateway", action="ticket_email_queued",
                account_id=None, kind=kind.value, ticket_number=ticket_number,
            )
        self._deps.mail_queued()
