"""Tickets: a question left for the advisers when nobody can take the chat.

The visitor gives an e-mail address or a phone number and the question; the ticket keeps a
copy of the (masked) transcript and what the assistant knew, so the adviser does not ask
again. A confirmation with the ticket's number and the adviser's answer go out by e-mail
through the backend's outbox.

The contact address is the visitor's word, never verified, so a ticket must not turn the
gateway into a mailer:

- a ticket is taken only from a conversation the desk offered one (after hours, or nobody at
  the desk: ``Conversation.ticket_offered_at``);
- limits: ``MAX_TICKETS_PER_CONVERSATION`` per conversation, ``PER_REQUESTER`` per client
  address (IPv6: its /56) and ``PER_CONTACT`` per e-mail address or phone number, counted
  and recorded in one transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-level
  advisory lock), so a burst of requests cannot slip past them;
- the confirmation e-mail carries the ticket's number and a neutral text, never the
  visitor's words (the adviser's answer later carries the adviser's text only).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway import metrics
from bot.gateway.backend_client import BackendClient, BackendRefused, BackendUnavailable
from bot.gateway.clients import requester_hash
from bot.gateway.conversations import log_prefix
from bot.gateway.desk import AgentRef, Desk, DeskError
from bot.gateway.models import Conversation, Ticket, TicketStatus
from bot.gateway.rasa_client import RasaClient
from bot.gateway.transcript import StoredMessage, Transcript
from bot.redaction import redact
from common.polish import normalise_phone

logger = logging.getLogger("pomocnik.gateway")

MAX_QUESTION_LENGTH = 2000
MAX_ANSWER_LENGTH = 5000
MAX_TICKETS_PER_CONVERSATION = 3


@dataclass(frozen=True)
class TicketLimit:
    limit: int
    window: timedelta


# A client address (IPv6: its /56) may leave 5 tickets an hour; one e-mail address or phone
# number gets at most 3 tickets a day, whoever sends them.
PER_REQUESTER = TicketLimit(5, timedelta(hours=1))
PER_CONTACT = TicketLimit(3, timedelta(hours=24))
# The limit behind each refusal, as counted in metrics.RATE_LIMIT_REFUSALS.
_REFUSAL_SCOPES = {
    "too_many_tickets": metrics.refusal_scope("tickets_per_conversation"),
    "too_many_tickets_from_address": metrics.refusal_scope("tickets_per_address"),
    "too_many_tickets_for_contact": metrics.refusal_scope("tickets_per_contact"),
}
# pg_advisory_xact_lock key serialising ticket creation on PostgreSQL ("pomocnik tickets").
_TICKETS_LOCK_KEY = 0x706F6D6F_7469636B


@dataclass(frozen=True)
class TicketRequest:
    email: str | None
    phone: str | None
    question: str

    @classmethod
    def parse(cls, body: dict[str, Any]) -> TicketRequest:
        """Validate what the widget's form sent; raises ``DeskError`` with a Polish message."""
        question = body.get("question")
        if not isinstance(question, str) or not question.strip():
            raise DeskError(422, "ticket_question_missing")
        if len(question.strip()) > MAX_QUESTION_LENGTH:
            raise DeskError(422, "ticket_question_too_long")
        email = _clean_email(body.get("email"))
        phone = _clean_phone(body.get("phone"))
        if email is None and phone is None:
            raise DeskError(422, "ticket_contact_missing")
        # Stored and shown to advisers: a password or PIN typed into the form is masked like
        # any visitor text of the transcript (bot/redaction.py).
        return cls(email, phone, redact(question.strip()).text)


def _clean_email(raw: Any) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str) or len(raw) > 320:
        raise DeskError(422, "ticket_email_invalid")
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise DeskError(422, "ticket_email_invalid") from None


def _clean_phone(raw: Any) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str) or len(raw) > 30:
        raise DeskError(422, "ticket_phone_invalid")
    phone = normalise_phone(raw)
    if phone is None:
        raise DeskError(422, "ticket_phone_invalid")
    return phone


def masked_email(address: str) -> str:
    """"j***@majafirma.pl": enough for the visitor to recognise, not to harvest."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


@dataclass
class TicketService:
    sessions: async_sessionmaker[AsyncSession]
    transcript: Transcript
    desk: Desk
    rasa: RasaClient
    backend: BackendClient | None
    clock: Callable[[], datetime]

    async def create(
        self, session_id: str, request: TicketRequest, address: str
    ) -> tuple[Ticket, StoredMessage]:
        """Store the ticket (within the limits), confirm it in the chat and by e-mail; returns
        the ticket and the confirmation posted in the chat.

        ``address`` is the client address (``clients.client_address``); raises ``DeskError``."""
        conversation_id = await self.transcript.conversation_id(session_id)
        requester = requester_hash(address)
        # A refusal costs no transcript copy and no call to Rasa; the check that counts is the
        # one repeated below, in the transaction that records the ticket.
        async with self.sessions() as session:
            await self._check_counted(session, conversation_id, requester, request, self.clock())
        history = await self.transcript.messages_of(conversation_id)
        context = await self._context(session_id, conversation_id)
        async with self.sessions.begin() as session:
            await self._serialise(session)
            now = self.clock()
            await self._check_counted(session, conversation_id, requester, request, now)
            ticket = Ticket(
                conversation_id=conversation_id,
                contact_email=request.email,
                contact_phone=request.phone,
                question=request.question,
                requester_hash=requester,
                transcript=[message.wire() for message in history],
                context=context,
                created_at=now,
            )
            session.add(ticket)
            await session.flush()
            session.expunge(ticket)
        metrics.TICKETS.labels("created").inc()
        mailed = await self._mail(ticket, "ticket_received")
        confirmation = await self.desk.notice(
            session_id,
            conversation_id,
            _confirmation_text(ticket, mailed, self.desk.hours.next_opening_text()),
            {"ticket": {"number": ticket.number}},
        )
        logger.info("ticket created conv=%s ticket=%s", log_prefix(session_id), ticket.number)
        return ticket, confirmation

    @staticmethod
    async def _serialise(session: AsyncSession) -> None:
        """Only one ticket is counted and recorded at a time, on every gateway process.

        SQLite's transactions already begin with BEGIN IMMEDIATE (``db._begin_immediate``);
        PostgreSQL gets a transaction-level advisory lock, released at commit or rollback."""
        if session.bind.dialect.name == "postgresql":
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _TICKETS_LOCK_KEY}
            )

    async def _check_counted(
        self,
        session: AsyncSession,
        conversation_id: int,
        requester: str,
        request: TicketRequest,
        now: datetime,
    ) -> None:
        """``_check_allowed``, counting a refusal by a limit in the metrics."""
        try:
            await self._check_allowed(session, conversation_id, requester, request, now)
        except DeskError as refused:
            if refused.code in _REFUSAL_SCOPES:
                metrics.refused(_REFUSAL_SCOPES[refused.code])
            raise

    async def _check_allowed(
        self,
        session: AsyncSession,
        conversation_id: int,
        requester: str,
        request: TicketRequest,
        now: datetime,
    ) -> None:
        offered = await session.scalar(
            select(Conversation.ticket_offered_at).where(Conversation.id == conversation_id)
        )
        if offered is None:
            raise DeskError(409, "ticket_not_offered")
        earlier = await session.scalar(
            select(func.count()).select_from(Ticket).where(
                Ticket.conversation_id == conversation_id
            )
        )
        if earlier >= MAX_TICKETS_PER_CONVERSATION:
            raise DeskError(429, "too_many_tickets", limit=MAX_TICKETS_PER_CONVERSATION)
        wait = await _retry_after(session, Ticket.requester_hash == requester, PER_REQUESTER, now)
        if wait is not None:
            raise DeskError(429, "too_many_tickets_from_address", retry_after=wait)
        contact = (
            Ticket.contact_email == request.email
            if request.email is not None
            else Ticket.contact_phone == request.phone
        )
        wait = await _retry_after(session, contact, PER_CONTACT, now)
        if wait is None and request.email is not None and request.phone is not None:
            wait = await _retry_after(session, Ticket.contact_phone == request.phone,
                                      PER_CONTACT, now)
        if wait is not None:
            raise DeskError(429, "too_many_tickets_for_contact", retry_after=wait)

    async def list(self, status: TicketStatus | None = None) -> list[Ticket]:
        query = select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(200)
        if status is not None:
            query = query.where(Ticket.status == status)
        async with self.sessions() as session:
            return list((await session.scalars(query)).all())

    async def get(self, ticket_id: int) -> Ticket:
        async with self.sessions() as session:
            ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise DeskError(404, "ticket_not_found")
        return ticket

    async def answer(self, ticket_id: int, agent: AgentRef, text: str) -> Ticket:
        """E-mail the adviser's answer to the visitor; the ticket counts as answered."""
        text = (text or "").strip() if isinstance(text, str) else ""
        if not text:
            raise DeskError(422, "ticket_answer_missing")
        if len(text) > MAX_ANSWER_LENGTH:
            raise DeskError(422, "ticket_answer_too_long")
        ticket = await self.get(ticket_id)
        if ticket.status is TicketStatus.CLOSED:
            raise DeskError(409, "ticket_closed")
        if ticket.contact_email is None:
            raise DeskError(409, "ticket_has_no_email")
        ticket.answer = text
        if not await self._mail(ticket, "ticket_answered"):
            raise DeskError(503, "ticket_email_failed")
        async with self.sessions.begin() as session:
            row = await session.get_one(Ticket, ticket_id)
            row.answer = text
            row.status = TicketStatus.ANSWERED
            row.answered_by_id = agent.id
            row.answered_at = self.clock()
            await session.flush()
            session.expunge(row)
        metrics.TICKETS.labels("answered").inc()
        return row

    async def close(self, ticket_id: int, agent: AgentRef) -> Ticket:
        async with self.sessions.begin() as session:
            row = await session.get(Ticket, ticket_id)
            if row is None:
                raise DeskError(404, "ticket_not_found")
            row.status = TicketStatus.CLOSED
            row.closed_at = self.clock()
            await session.flush()
            session.expunge(row)
        logger.info("ticket closed ticket=%s agent=%s", row.number, agent.id)
        metrics.TICKETS.labels("closed").inc()
        return row

    async def _context(self, session_id: str, conversation_id: int) -> dict[str, Any]:
        async with self.sessions() as session:
            conversation = await session.get_one(Conversation, conversation_id)
        context: dict[str, Any] = {}
        if conversation.account_email:
            context["account"] = {
                "email": conversation.account_email,
                "name": conversation.account_name,
                "organisation": conversation.account_organisation,
            }
        insight = await self.rasa.insight(session_id)
        if insight is not None:
            context["assistant"] = insight
        return context

    async def _mail(self, ticket: Ticket, kind: str) -> bool:
        if ticket.contact_email is None or self.backend is None:
            return False
        try:
            # Never the visitor's question: the address is unverified, and the platform's
            # mail must not carry a stranger's words to it.
            await self.backend.send_ticket_email(
                kind=kind,
                to=ticket.contact_email,
                ticket_number=ticket.number,
                answer=ticket.answer if kind == "ticket_answered" else None,
            )
        except (BackendUnavailable, BackendRefused) as exc:
            logger.warning("ticket e-mail not sent ticket=%s kind=%s reason=%s",
                           ticket.number, kind, exc)
            return False
        return True


async def _retry_after(
    session: AsyncSession, matches, limit: TicketLimit, now: datetime
) -> int | None:
    """Seconds until one more ticket matching ``matches`` fits in ``limit``; None if it fits."""
    created = list(
        (
            await session.scalars(
                select(Ticket.created_at)
                .where(matches, Ticket.created_at > now - limit.window)
                .order_by(Ticket.created_at.desc())
                .limit(limit.limit)
            )
        ).all()
    )
    if len(created) < limit.limit:
        return None
    # The oldest of the newest ``limit`` tickets leaves the window first.
    return max(1, math.ceil((created[-1] + limit.window - now).total_seconds()))


def _confirmation_text(ticket: Ticket, mailed: bool, next_opening: str) -> str:
    text = f"Dziękujemy! Przyjęliśmy zgłoszenie nr {ticket.number}."
    if mailed:
        text += f" Potwierdzenie wysłaliśmy na adres {masked_email(ticket.contact_email)}."
    if next_opening == "teraz":
        text += " Konsultant odpowie najszybciej, jak to możliwe."
    else:
        text += f" Konsultanci zajmą się nim {next_opening}."
    return text
