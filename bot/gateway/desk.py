"""The advisers' desk: handoff to a person, the queue, and the conversation's return to the
assistant.

A conversation is handled by the assistant, waits in the queue, is held by one adviser, or
was closed by one (``models.Handling``). Every change is one conditional UPDATE, so two
advisers (on any gateway process) can never take the same conversation, and every change
leaves a notice in the transcript (author ``system``) that the widget and the console show.
Notices carry ``custom.handoff.state`` (``queued`` / ``agent`` / ``assistant`` / ``closed``
/ ``unavailable``) and may carry ``custom.offer`` (``ticket`` / ``rating``) for the widget.

Who is available: an adviser whose console sent a heartbeat within ``PRESENCE_WINDOW``.
Whether a person is offered at all: business hours (``hours.BusinessHours``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway import metrics
from bot.gateway.conversations import log_prefix, room_for
from bot.gateway.fanout import FanOut
from bot.gateway.hours import BusinessHours
from bot.gateway.models import AgentSession, Author, Conversation, Handling, Message
from bot.gateway.rasa_client import RasaClient, RasaUnavailable
from bot.gateway.transcript import StoredMessage, Transcript
from common.contacts import CONTACTS

if TYPE_CHECKING:  # the inbox's errors are the desk's: it imports this module
    from bot.gateway.inbox import NluInbox

logger = logging.getLogger("pomocnik.gateway")

PRESENCE_WINDOW = timedelta(seconds=90)
MAX_COMMENT = 1000
DESK_ROOM = "desk"  # every console listens here for queue changes
SUPPORT_PHONE = CONTACTS.phone
SUPPORT_EMAIL = CONTACTS.support_email
# Sent to Rasa when an adviser lets go, so the assistant knows what happened.
RETURN_INTENT = "/handoff_returned"
CONTACT_LINES = (
    f"Możesz zadzwonić pod numer {SUPPORT_PHONE} albo napisać na {SUPPORT_EMAIL}. "
    "Możesz też zostawić tutaj zgłoszenie – konsultant odpowie na podany e-mail lub telefon."
)


class DeskError(Exception):
    """A desk operation that cannot be done; ``code`` is in ``errors.MESSAGES``."""

    def __init__(
        self, status: int, code: str, retry_after: int | None = None, **fields: Any
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        # Seconds until the refusal no longer holds (limits); fills in the message's {wait}.
        self.retry_after = retry_after
        # Other placeholders of the message (e.g. {limit}).
        self.fields = fields


@dataclass(frozen=True)
class AgentRef:
    id: int
    name: str


@dataclass(frozen=True)
class QueueEntry:
    conversation_id: int
    queued_at: datetime
    account_name: str | None
    last_text: str


def message_event(session_id: str, message: StoredMessage, conversation_id: int) -> dict[str, Any]:
    return {
        "room": room_for(session_id),
        "type": "message",
        "conversation_id": conversation_id,
        "message": message.wire(),
    }


def asks_for_handoff(replies: list[dict[str, Any]]) -> bool:
    """True when the assistant's replies carry ``custom: {"handoff": {"requested": true}}``."""
    return any(
        isinstance(reply.get("custom"), dict)
        and isinstance(reply["custom"].get("handoff"), dict)
        and reply["custom"]["handoff"].get("requested") is True
        for reply in replies
    )


@dataclass
class Desk:
    sessions: async_sessionmaker[AsyncSession]
    transcript: Transcript
    fanout: FanOut
    hours: BusinessHours
    rasa: RasaClient
    clock: Callable[[], datetime]
    inbox: NluInbox

    # ------------------------------------------------------------------ visitor side

    async def handling(self, conversation_id: int) -> Handling:
        async with self.sessions() as session:
            return Handling(await session.scalar(
                select(Conversation.handling).where(Conversation.id == conversation_id)
            ))

    async def reopen_if_closed(self, conversation_id: int) -> None:
        """A visitor writing after an adviser closed: the assistant answers again."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.handling == Handling.CLOSED)
                .values(handling=Handling.ASSISTANT, agent_id=None)
            )

    async def request_handoff(self, session_id: str, conversation_id: int) -> StoredMessage | None:
        """The assistant handed the visitor over: queue them, or say when people are back.

        Returns the notice told to the visitor (None when an adviser already holds the
        conversation), so every channel can put it into its reply."""
        now = self.clock()
        async with self.sessions.begin() as session:
            conversation = await session.get_one(Conversation, conversation_id)
            conversation.handoffs_requested += 1
            handling = conversation.handling
        if handling is Handling.AGENT:
            metrics.HANDOFFS.labels("with_adviser").inc()
            return None
        if handling is Handling.QUEUED:
            metrics.HANDOFFS.labels("already_queued").inc()
            position = await self._position(conversation_id)
            return await self.notice(
                session_id, conversation_id, _queued_text(position, again=True),
                {"handoff": {"state": "queued", "position": position}},
            )
        if not self.hours.is_open():
            metrics.HANDOFFS.labels("after_hours").inc()
            return await self._unavailable(session_id, conversation_id, after_hours=True)
        if not await self.agents_available():
            metrics.HANDOFFS.labels("no_adviser").inc()
            return await self._unavailable(session_id, conversation_id, after_hours=False)
        async with self.sessions.begin() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(handling=Handling.QUEUED, queued_at=now, agent_id=None)
            )
        position = await self._position(conversation_id)
        notice = await self.notice(session_id, conversation_id, _queued_text(position),
                                   {"handoff": {"state": "queued", "position": position}})
        logger.info("handoff queued conv=%s position=%s", log_prefix(session_id), position)
        metrics.HANDOFFS.labels("queued").inc()
        await self._desk_changed()
        return notice

    async def cancel_handoff(self, session_id: str) -> None:
        conversation_id = await self.transcript.conversation_id(session_id)
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.handling == Handling.QUEUED)
                .values(handling=Handling.ASSISTANT, queued_at=None)
            )
        if result.rowcount != 1:
            raise DeskError(409, "not_in_queue")
        await self.notice(
            session_id,
            conversation_id,
            "Anulowano oczekiwanie na konsultanta. Dalej rozmawiasz z asystentem.",
            {"handoff": {"state": "assistant"}},
        )
        await self._desk_changed()

    async def _unavailable(
        self, session_id: str, conversation_id: int, *, after_hours: bool
    ) -> StoredMessage:
        """Nobody can take the chat: say when people are back and offer a ticket. The offer is
        recorded first: ``TicketService`` takes tickets only from conversations offered one."""
        opening = self.hours.next_opening()
        async with self.sessions.begin() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(ticket_offered_at=self.clock())
            )
        if after_hours:
            when = self.hours.next_opening_text()
            text = (
                f"Konsultanci pracują {CONTACTS.hours_sentence} (poza "
                f"świętami). Teraz ich nie ma – będą dostępni {when}.\n{CONTACT_LINES}"
            )
        else:
            text = f"Teraz żaden konsultant nie jest dostępny na czacie.\n{CONTACT_LINES}"
        return await self.notice(
            session_id,
            conversation_id,
            text,
            {
                "handoff": {"state": "unavailable", "next_opening": opening.isoformat()},
                "offer": "ticket",
            },
        )

    async def record_identity(
        self, conversation_id: int, email: str, name: str, organisation: str | None
    ) -> None:
        """The visitor is signed in to the platform (verified with the backend)."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(account_email=email, account_name=name, account_organisation=organisation)
            )

    async def rate(self, session_id: str, score: Any, comment: Any) -> None:
        """The visitor's 1–5 rating of the conversation, once, with an optional comment."""
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise DeskError(422, "rating_invalid")
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
            raise DeskError(422, "rating_invalid")
        conversation_id = await self.transcript.conversation_id(session_id)
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.rating.is_(None))
                .values(rating=score, rating_comment=(comment or "").strip() or None,
                        rated_at=self.clock())
            )
        if result.rowcount != 1:
            raise DeskError(409, "already_rated")
        metrics.RATINGS.labels(str(score)).inc()
        await self.inbox.note_low_rating(conversation_id, score)
        await self.notice(session_id, conversation_id, "Dziękujemy za ocenę!",
                          {"rating": {"score": score}})

    # ------------------------------------------------------------------ advisers

    async def agents_available(self) -> bool:
        now = self.clock()
        async with self.sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(AgentSession)
                .where(
                    AgentSession.revoked_at.is_(None),
                    AgentSession.expires_at > now,
                    AgentSession.last_seen_at >= now - PRESENCE_WINDOW,
                )
            )
        return bool(count)

    async def queue(self) -> list[QueueEntry]:
        """Waiting conversations, longest-waiting first, with the visitor's last words."""
        last_visitor_text = (
            select(Message.text)
            .where(Message.conversation_id == Conversation.id, Message.author == Author.VISITOR)
            .order_by(Message.seq.desc())
            .limit(1)
            .scalar_subquery()
        )
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(Conversation.id, Conversation.queued_at, Conversation.account_name,
                           last_visitor_text)
                    .where(Conversation.handling == Handling.QUEUED)
                    .order_by(Conversation.queued_at, Conversation.id)
                )
            ).all()
        return [QueueEntry(row[0], row[1], row[2], row[3] or "") for row in rows]

    async def take(self, conversation_id: int, agent: AgentRef) -> None:
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.handling == Handling.QUEUED)
                .values(
                    handling=Handling.AGENT,
                    agent_id=agent.id,
                    taken_at=self.clock(),
                    handoffs_taken=Conversation.handoffs_taken + 1,
                )
            )
        if result.rowcount != 1:
            await self._session_id(conversation_id)  # 404 for an unknown conversation
            held = await self.handling(conversation_id) is Handling.AGENT
            raise DeskError(409, "conversation_already_taken" if held else "not_in_queue")
        metrics.HANDOFFS_TAKEN.inc()
        session_id = await self._session_id(conversation_id)
        await self.notice(
            session_id,
            conversation_id,
            f"Do rozmowy dołącza konsultant {agent.name}.",
            {"handoff": {"state": "agent", "agent": agent.name}},
        )
        await self._desk_changed()
        await self._announce_positions()

    async def reply(self, conversation_id: int, agent: AgentRef, text: str) -> StoredMessage:
        await self._held_by(conversation_id, agent)
        session_id = await self._session_id(conversation_id)
        message = await self.transcript.add_message(
            conversation_id, Author.AGENT, text, {"agent": agent.name}
        )
        await self.fanout.publish(message_event(session_id, message, conversation_id))
        return message

    async def hand_back(self, conversation_id: int, agent: AgentRef) -> None:
        """The adviser is done; the assistant answers again, told what happened."""
        await self._release(conversation_id, agent, Handling.ASSISTANT)
        session_id = await self._session_id(conversation_id)
        await self.notice(
            session_id,
            conversation_id,
            f"Rozmowa z konsultantem ({agent.name}) zakończona. Dalej pomoże Ci asystent Pomocnik.",
            {"handoff": {"state": "assistant"}},
        )
        await self._tell_assistant(session_id, conversation_id, "returned")

    async def close(self, conversation_id: int, agent: AgentRef) -> None:
        await self._release(conversation_id, agent, Handling.CLOSED)
        session_id = await self._session_id(conversation_id)
        await self.notice(
            session_id,
            conversation_id,
            f"Rozmowa z konsultantem ({agent.name}) zakończona. Dziękujemy! "
            "Jak oceniasz tę rozmowę?",
            {"handoff": {"state": "closed"}, "offer": "rating"},
        )
        await self._tell_assistant(session_id, conversation_id, "closed")

    async def _release(self, conversation_id: int, agent: AgentRef, to: Handling) -> None:
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Conversation)
                .where(
                    Conversation.id == conversation_id,
                    Conversation.handling == Handling.AGENT,
                    Conversation.agent_id == agent.id,
                )
                .values(handling=to, agent_id=None if to is Handling.ASSISTANT else agent.id)
            )
        if result.rowcount != 1:
            raise DeskError(409, "conversation_not_yours")
        await self._desk_changed()

    async def _held_by(self, conversation_id: int, agent: AgentRef) -> None:
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(Conversation.handling, Conversation.agent_id).where(
                        Conversation.id == conversation_id
                    )
                )
            ).one_or_none()
        if row is None:
            raise DeskError(404, "conversation_not_found")
        if row.handling is not Handling.AGENT or row.agent_id != agent.id:
            raise DeskError(409, "conversation_not_yours")

    async def _tell_assistant(self, session_id: str, conversation_id: int, outcome: str) -> None:
        """Rasa resets its handoff state; on a hand-back its greeting goes to the visitor."""
        try:
            answer = await self.rasa.send_message(
                session_id, RETURN_INTENT, metadata={"pomocnik_handoff": {"outcome": outcome}}
            )
        except RasaUnavailable as exc:
            logger.warning("telling rasa about the handback failed conv=%s reason=%s",
                           log_prefix(session_id), exc)
            return
        for reply in answer.messages:
            message = await self.transcript.add_message(
                conversation_id,
                Author.BOT,
                reply.get("text") or "",
                {k: reply[k] for k in ("buttons", "image", "custom") if k in reply},
            )
            await self.fanout.publish(message_event(session_id, message, conversation_id))

    # ------------------------------------------------------------------ helpers

    async def notice(
        self, session_id: str, conversation_id: int, text: str, custom: dict[str, Any]
    ) -> StoredMessage:
        """Store and announce a gateway notice in the visitor's conversation."""
        message = await self.transcript.add_message(
            conversation_id, Author.SYSTEM, text, {"custom": custom}
        )
        await self.fanout.publish(message_event(session_id, message, conversation_id))
        return message

    async def _session_id(self, conversation_id: int) -> str:
        async with self.sessions() as session:
            session_id = await session.scalar(
                select(Conversation.session_id).where(Conversation.id == conversation_id)
            )
        if session_id is None:
            raise DeskError(404, "conversation_not_found")
        return session_id

    async def _position(self, conversation_id: int) -> int:
        entries = await self.queue()
        ids = [entry.conversation_id for entry in entries]
        return ids.index(conversation_id) + 1 if conversation_id in ids else 0

    async def _announce_positions(self) -> None:
        """Everyone still waiting moves up: tell each of them their new place."""
        for position, entry in enumerate(await self.queue(), start=1):
            session_id = await self._session_id(entry.conversation_id)
            await self.fanout.publish(
                {"room": room_for(session_id), "type": "queue", "position": position}
            )

    async def _desk_changed(self) -> None:
        await self.fanout.publish({"room": DESK_ROOM, "type": "desk"})


def _queued_text(position: int, *, again: bool = False) -> str:
    if again:
        return f"Czekasz już na konsultanta – jesteś {position}. w kolejce."
    return (
        f"Łączę z konsultantem. Jesteś {position}. w kolejce – konsultant odezwie się tutaj. "
        "W międzyczasie możesz dalej pisać ze mną."
    )

