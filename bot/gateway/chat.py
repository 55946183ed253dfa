"""The one chat service behind both transports (REST API and socket.io).

A visitor message goes through ``submit`` (validate, count against the limits, store) and
``relay`` (send to Rasa, store the replies); every stored message and status change is
announced through the fan-out, so all of the visitor's tabs — on any gateway process — see it.

Texts are never logged. A secret (a PIN or code the assistant asked for) is stored and
announced masked; only ``relay`` gets the real value, to forward it to Rasa.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from bot.gateway import metrics
from bot.gateway.conversations import log_prefix, room_for
from bot.gateway.desk import Desk, DeskError, asks_for_handoff, message_event
from bot.gateway.errors import MAX_TEXT_LENGTH, MESSAGES, desk_error_message, rate_limit_message
from bot.gateway.fanout import FanOut
from bot.gateway.inbox import NluInbox
from bot.gateway.limits import Exceeded, Limit, RateLimiter
from bot.gateway.models import Delivery, Handling
from bot.gateway.rasa_client import RasaClient, RasaUnavailable
from bot.gateway.tickets import TicketRequest, TicketService
from bot.gateway.transcript import Accepted, StoredMessage, Transcript
from bot.understanding import TurnRecord, turn_metadata

logger = logging.getLogger("pomocnik.gateway")

CLIENT_MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_TITLE_LENGTH = 200
SESSION_SCOPE = "session_messages"
ADDRESS_SCOPE = "address_messages"
_LIMIT_CODES = {SESSION_SCOPE: "too_many_messages", ADDRESS_SCOPE: "too_many_messages_from_address"}


class Rejected(Exception):
    """The message was not taken (and not stored); ``message`` is Polish and user-facing."""

    def __init__(self, status: int, code: str, retry_after: int | None = None) -> None:
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.message = (
            rate_limit_message(code, retry_after) if retry_after is not None else MESSAGES[code]
        )
        super().__init__(code)

    def as_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.retry_after is not None:
            error["retry_after"] = self.retry_after
        return error


@dataclass(frozen=True)
class Submitted:
    accepted: Accepted
    # True when the caller must relay the message to Rasa now (new, or a failed one retried).
    relay: bool
    # The client address it came from (``clients.client_address``): a ticket the visitor
    # leaves by typing counts against that address's limit.
    address: str = "-"

    @property
    def message(self) -> StoredMessage:
        return self.accepted.message


def clean_text(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise Rejected(422, "validation_error")
    text = raw.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise Rejected(422, "message_too_long")
    return text


def _carries_ticket(reply: dict[str, Any]) -> bool:
    custom = reply.get("custom")
    return isinstance(custom, dict) and isinstance(custom.get("ticket"), dict)


def ticket_typed(replies: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ticket the assistant collected by chat: ``custom: {"ticket": {"email"?, "phone"?,
    "question"}}`` (the same fields as the widget's ticket form), or None."""
    for reply in replies:
        if _carries_ticket(reply):
            return reply["custom"]["ticket"]
    return None


@dataclass
class ChatService:
    transcript: Transcript
    limiter: RateLimiter
    rasa: RasaClient
    fanout: FanOut
    desk: Desk
    inbox: NluInbox
    tickets: TicketService
    session_limit: Limit
    address_limit: Limit
    _tasks: set[asyncio.Task] = field(default_factory=set)

    async def submit(
        self,
        session_id: str,
        raw_text: Any,
        *,
        address: str,
        client_message_id: Any = None,
        title: Any = None,
    ) -> Submitted:
        """Validate, count and store a visitor's message; raises ``Rejected``."""
        text = clean_text(raw_text)
        if client_message_id is not None and not (
            isinstance(client_message_id, str) and CLIENT_MESSAGE_ID.fullmatch(client_message_id)
        ):
            raise Rejected(422, "invalid_client_message_id")
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE_LENGTH:
            title = None
        checks = [(self.session_limit, session_id), (self.address_limit, address)]
        taken = await self.transcript.add_visitor_message(
            session_id,
            text,
            client_message_id,
            title,
            admit=lambda session: self.limiter.count(session, checks),
        )
        if isinstance(taken, Exceeded):
            logger.info(
                "message refused conv=%s limit=%s retry_after=%ss",
                log_prefix(session_id),
                taken.scope,
                taken.retry_after_seconds,
            )
            raise Rejected(429, _LIMIT_CODES[taken.scope], taken.retry_after_seconds)
        if taken.duplicate:  # a re-send after a reconnect: never counted twice
            return await self._resubmitted(session_id, taken, address)
        await self._announce_message(session_id, taken.conversation_id, taken.message)
        return Submitted(taken, relay=True, address=address)

    async def _resubmitted(self, session_id: str, accepted: Accepted, address: str) -> Submitted:
        if accepted.message.delivery is Delivery.FAILED:
            retried = await self.transcript.retry_failed(accepted.message.id)
            if retried is not None:
                await self._announce_status(session_id, retried)
                return Submitted(
                    Accepted(accepted.conversation_id, retried, True), relay=True, address=address
                )
        return Submitted(accepted, relay=False, address=address)

    async def relay(
        self,
        session_id: str,
        submitted: Submitted,
        text: str,
        metadata: dict[str, Any] | None = None,
    ) -> list[StoredMessage]:
        """Send the visitor's message to Rasa and store its replies; raises ``RasaUnavailable``.

        ``text`` is what the visitor typed (the real value of a secret, which the transcript
        only holds masked); Rasa's sender id is the conversation id. ``metadata`` is only ever
        what the gateway itself knows (a signed-in visitor's verified identity, the client's
        network: ``clients.client_metadata``), never what the visitor sent.
        While an adviser holds the conversation the message goes to them, not to Rasa.
        """
        started = time.perf_counter()
        try:
            stored, outcome = await self._relay(session_id, submitted, text, metadata)
        except RasaUnavailable:
            metrics.turn_finished("assistant_unavailable", started)
            raise
        except Exception:
            metrics.turn_finished("error", started)
            raise
        metrics.turn_finished(outcome, started)
        return stored

    async def _relay(
        self,
        session_id: str,
        submitted: Submitted,
        text: str,
        metadata: dict[str, Any] | None,
    ) -> tuple[list[StoredMessage], str]:
        """``relay``'s work; also says how the turn ended (``metrics.TURN_OUTCOMES``)."""
        message = submitted.message
        conversation_id = submitted.accepted.conversation_id
        handling = await self.desk.handling(conversation_id)
        if handling is Handling.AGENT:
            await self._announce_status(session_id, await self.transcript.mark_answered(message.id))
            return [], "adviser"
        if handling is Handling.CLOSED:
            await self.desk.reopen_if_closed(conversation_id)
        # The turn marker: Rasa's channel answers what the turn of this message did.
        metadata = {**(metadata or {}), **turn_metadata(message.id)}
        try:
            answer = await self.rasa.send_message(session_id, text.strip(), metadata)
        except RasaUnavailable as exc:
            logger.warning("rasa unavailable conv=%s reason=%s", log_prefix(session_id), exc)
            failed = await self.transcript.mark_failed(message.id)
            await self._announce_status(session_id, failed, error="assistant_unavailable")
            raise
        # A ticket typed in the chat (actions/support.py, ActionLeaveTicket): the contact and
        # the question go into the ticket, not into the transcript as a bot message.
        typed_ticket = ticket_typed(answer.messages)
        replies = [reply for reply in answer.messages if not _carries_ticket(reply)]
        stored, answered = await self.transcript.add_replies(conversation_id, message, replies)
        for reply in stored:
            await self._announce_message(session_id, conversation_id, reply)
        await self._announce_status(session_id, answered)
        handoff = asks_for_handoff(replies)
        if handoff:
            # The desk's notice (queued, or nobody now: the next opening, phone and a ticket)
            # is part of the answer on every channel: the socket gets it from the fan-out,
            # the JSON API from this list.
            notice = await self.desk.request_handoff(session_id, conversation_id)
            if notice is not None:
                stored = [*stored, notice]
        if typed_ticket is not None:
            stored = [*stored, await self._file_ticket(session_id, submitted, typed_ticket)]
        if answer.turn is not None:
            self._in_background(
                self._record_turn(conversation_id, message, answer.turn, handoff), session_id,
                "turn",
            )
        else:  # the turn failed before Rasa saved it, or a Rasa without the gateway's channel
            logger.info("no turn summary from rasa conv=%s", log_prefix(session_id))
        return stored, "answered"

    async def _file_ticket(
        self, session_id: str, submitted: Submitted, typed: dict[str, Any]
    ) -> StoredMessage:
        """The ticket the visitor typed, filed like one from the widget's form: the answer is
        its confirmation, or the refusal in Polish (not offered, a limit, a bad contact)."""
        try:
            _, confirmation = await self.tickets.create(
                session_id, TicketRequest.parse(typed), submitted.address
            )
        except DeskError as refused:
            return await self.desk.notice(
                session_id,
                submitted.accepted.conversation_id,
                desk_error_message(refused),
                {"ticket": {"refused": refused.code}},
            )
        return confirmation

    async def _record_turn(
        self, conversation_id: int, message: StoredMessage, turn: TurnRecord, handoff: bool
    ) -> None:
        """What the assistant understood and did (Rasa's channel answered it with the reply),
        for the advisers, the statistics, the conversation review, the NLU inbox and the
        metrics. Best effort, after the answer: a failure is logged, the answer stands."""
        if turn.fallback:
            metrics.FALLBACKS.inc()
        await self.transcript.record_turn(conversation_id, message.id, turn)
        await self.inbox.consider_turn(conversation_id, message, turn, handoff)

    def relay_in_background(
        self,
        session_id: str,
        submitted: Submitted,
        text: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """``relay`` as a task: the socket acknowledges at once; the outcome is announced."""

        async def run() -> None:
            try:
                await self.relay(session_id, submitted, text, metadata)
            except RasaUnavailable:
                pass  # stored as failed and announced
            except Exception:
                logger.exception("relay failed conv=%s", log_prefix(session_id))
                try:
                    failed = await self.transcript.mark_failed(submitted.message.id)
                    await self._announce_status(session_id, failed, error="internal_error")
                except Exception:
                    logger.exception("marking a failed relay failed conv=%s", log_prefix(session_id))

        self._in_background(run(), session_id, "relay")

    def _in_background(self, work: Any, session_id: str, what: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                logger.exception("%s failed conv=%s", what, log_prefix(session_id))

        task = asyncio.create_task(guarded(), name=f"pomocnik-{what}-{log_prefix(session_id)}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float) -> None:
        """Let relays in flight finish (on shutdown); cancel what is left after ``timeout``."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def history(self, session_id: str, after_seq: int = 0) -> list[StoredMessage]:
        return await self.transcript.history(session_id, after_seq)

    async def replies_to(self, message: StoredMessage) -> list[StoredMessage]:
        return await self.transcript.replies_to(message.id)

    async def _announce_message(
        self, session_id: str, conversation_id: int, message: StoredMessage
    ) -> None:
        await self.fanout.publish(message_event(session_id, message, conversation_id))

    async def _announce_status(
        self, session_id: str, message: StoredMessage, error: str | None = None
    ) -> None:
        event: dict[str, Any] = {
            "room": room_for(session_id),
            "type": "status",
            "seq": message.seq,
            "cid": message.client_message_id,
            "status": message.delivery.value if message.delivery else None,
        }
        if error is not None:
            event["error"] = {"code": error, "message": MESSAGES[error]}
        await self.fanout.publish(event)
