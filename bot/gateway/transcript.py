"""The stored transcript: conversations and their messages in the gateway's database.

Every message gets the next ``seq`` of its conversation, handed out by bumping
``conversations.last_seq`` inside the writing transaction, so the numbers are gap-free,
commit in order and are the same for every gateway process. Clients ask for "everything after
seq N" to catch up after a reload or a dropped connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway.db import utcnow
from bot.gateway.messages import asks_for_secret
from bot.gateway.models import Author, Conversation, Delivery, Message, Turn
from bot.understanding import TurnRecord
from bot.redaction import redact

# What a masked value looks like everywhere it is shown or stored (never its length).
MASK = "••••"
HISTORY_LIMIT = 500


@dataclass(frozen=True)
class StoredMessage:
    id: int
    seq: int
    author: Author
    text: str
    secret: bool
    data: dict[str, Any]
    client_message_id: str | None
    delivery: Delivery | None
    created_at: datetime

    @classmethod
    def of(cls, row: Message) -> StoredMessage:
        return cls(
            id=row.id,
            seq=row.seq,
            author=Author(row.author),
            text=row.text,
            secret=row.secret,
            data=dict(row.data or {}),
            client_message_id=row.client_message_id,
            delivery=Delivery(row.delivery) if row.delivery else None,
            created_at=row.created_at,
        )

    def wire(self) -> dict[str, Any]:
        """The message as clients receive it (socket events and the history API)."""
        out: dict[str, Any] = {
            "seq": self.seq,
            "author": self.author.value,
            "text": self.text,
            "at": self.created_at.isoformat().replace("+00:00", "Z"),
        }
        if self.author is Author.VISITOR:
            out["status"] = self.delivery.value if self.delivery else Delivery.ANSWERED.value
            if self.client_message_id:
                out["cid"] = self.client_message_id
            if self.secret:
                out["secret"] = True
            elif self.data.get("title"):
                out["title"] = self.data["title"]
        else:
            out["buttons"] = list(self.data.get("buttons") or [])
            for key in ("image", "custom", "agent"):
                if key in self.data:
                    out[key] = self.data[key]
        return out

    def reply(self) -> dict[str, Any]:
        """A bot message in the REST API's reply format (``text``, ``buttons``, …)."""
        out: dict[str, Any] = {"text": self.text, "buttons": list(self.data.get("buttons") or [])}
        for key in ("image", "custom"):
            if key in self.data:
                out[key] = self.data[key]
        return out


@dataclass(frozen=True)
class Accepted:
    """A visitor message is in the transcript (now, or already before: ``duplicate``)."""

    conversation_id: int
    message: StoredMessage
    duplicate: bool


@dataclass
class Transcript:
    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime] = field(default=utcnow)

    async def add_visitor_message(
        self, session_id: str, text: str, client_message_id: str | None, title: str | None
    ) -> Accepted:
        """Store the visitor's message, its secrets masked (all of it when the assistant asked
        for a secret; otherwise what ``bot.redaction.redact`` finds: passwords, PINs, codes).

        A message whose ``client_message_id`` is already stored is not stored again: the
        stored one comes back with ``duplicate=True``.
        """
        for attempt in range(2):
            try:
                return await self._add_visitor_message(session_id, text, client_message_id, title)
            except IntegrityError:
                # Another process stored the same client message id first: take its row.
                if attempt or client_message_id is None:
                    raise
        raise AssertionError("unreachable")

    async def _add_visitor_message(
        self, session_id: str, text: str, client_message_id: str | None, title: str | None
    ) -> Accepted:
        async with self.sessions.begin() as session:
            conversation_id = await _conversation_id(session, session_id, self.clock())
            if client_message_id is not None:
                existing = await session.scalar(
                    select(Message).where(
                        Message.conversation_id == conversation_id,
                        Message.client_message_id == client_message_id,
                    )
                )
                if existing is not None:
                    return Accepted(conversation_id, StoredMessage.of(existing), duplicate=True)
            seq, expects_secret = await _next_seq(session, conversation_id, self.clock())
            # The answer to "enter the PIN / the code" is stored as MASK (never its length);
            # a button payload (/intent{...}) is not that answer.
            secret = expects_secret and not text.startswith("/")
            # Every other text, payloads included, is stored with its secrets masked: passwords
            # in any phrasing, PINs, codes, IDs volunteered unasked (bot/redaction.py).
            stored_text = MASK if secret else redact(text).text
            if expects_secret:
                await session.execute(
                    update(Conversation)
                    .where(Conversation.id == conversation_id)
                    .values(expects_secret=False)
                )
            row = Message(
                conversation_id=conversation_id,
                seq=seq,
                author=Author.VISITOR,
                text=stored_text,
                secret=secret,
                data={"title": title} if title and not secret else {},
                client_message_id=client_message_id,
                delivery=Delivery.PENDING,
                created_at=self.clock(),
            )
            session.add(row)
            await session.flush()
            return Accepted(conversation_id, StoredMessage.of(row), duplicate=False)

    async def add_replies(
        self, conversation_id: int, visitor_message_id: int, replies: list[dict[str, Any]]
    ) -> list[StoredMessage]:
        """Store the assistant's replies to a visitor message and mark it answered."""
        async with self.sessions.begin() as session:
            stored = []
            for reply in replies:
                seq, _ = await _next_seq(session, conversation_id, self.clock())
                row = Message(
                    conversation_id=conversation_id,
                    seq=seq,
                    author=Author.BOT,
                    text=reply.get("text") or "",
                    data={k: reply[k] for k in ("buttons", "image", "custom") if k in reply},
                    reply_to_id=visitor_message_id,
                    created_at=self.clock(),
                )
                session.add(row)
                stored.append(row)
            if asks_for_secret(replies):
                await session.execute(
                    update(Conversation)
                    .where(Conversation.id == conversation_id)
                    .values(expects_secret=True)
                )
            await session.execute(
                update(Message)
                .where(Message.id == visitor_message_id)
                .values(delivery=Delivery.ANSWERED)
            )
            await session.flush()
            return [StoredMessage.of(row) for row in stored]

    async def add_message(
        self, conversation_id: int, author: Author, text: str, data: dict[str, Any] | None = None
    ) -> StoredMessage:
        """Store an adviser's message or a gateway notice (never a visitor's)."""
        async with self.sessions.begin() as session:
            seq, _ = await _next_seq(session, conversation_id, self.clock())
            row = Message(
                conversation_id=conversation_id,
                seq=seq,
                author=author,
                text=text,
                data=data or {},
                created_at=self.clock(),
            )
            session.add(row)
            await session.flush()
            return StoredMessage.of(row)

    async def mark_answered(self, visitor_message_id: int) -> StoredMessage:
        """An adviser holds the conversation: the message reached them (no assistant reply)."""
        async with self.sessions.begin() as session:
            row = await session.get_one(Message, visitor_message_id)
            row.delivery = Delivery.ANSWERED
            await session.flush()
            return StoredMessage.of(row)

    async def record_turn(self, visitor_message_id: int, turn: TurnRecord) -> None:
        """What the assistant understood and did with a visitor message (a relay retried
        after a timeout records its latest turn)."""
        async with self.sessions.begin() as session:
            message = await session.get_one(Message, visitor_message_id)
            message.intent = turn.intent
            await session.merge(Turn(
                message_id=visitor_message_id,
                conversation_id=message.conversation_id,
                predicted_intent=turn.predicted_intent,
                confidence=turn.confidence,
                actions=turn.actions,
                journeys=turn.journeys,
                active_form=turn.active_form,
                journey_cancelled=turn.journey_cancelled,
            ))

    async def conversation_id(self, session_id: str) -> int:
        """The conversation's row id (created if the visitor has not written yet)."""
        async with self.sessions.begin() as session:
            return await _conversation_id(session, session_id, self.clock())

    async def find(self, session_id: str, client_message_id: str) -> Accepted | None:
        """The stored message with this client id, if the visitor sent it before."""
        async with self.sessions() as session:
            row = await session.scalar(
                select(Message)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Conversation.session_id == session_id,
                    Message.client_message_id == client_message_id,
                )
            )
        if row is None:
            return None
        return Accepted(row.conversation_id, StoredMessage.of(row), duplicate=True)

    async def get(self, message_id: int) -> StoredMessage:
        async with self.sessions() as session:
            return StoredMessage.of(await session.get_one(Message, message_id))

    async def retry_failed(self, visitor_message_id: int) -> StoredMessage | None:
        """Claim a failed message for another relay (None if someone else claimed it)."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Message)
                .where(Message.id == visitor_message_id, Message.delivery == Delivery.FAILED)
                .values(delivery=Delivery.PENDING)
            )
            if result.rowcount != 1:
                return None
            return StoredMessage.of(await session.get_one(Message, visitor_message_id))

    async def mark_failed(self, visitor_message_id: int) -> StoredMessage:
        async with self.sessions.begin() as session:
            row = await session.get_one(Message, visitor_message_id)
            row.delivery = Delivery.FAILED
            await session.flush()
            return StoredMessage.of(row)

    async def history(self, session_id: str, after_seq: int = 0) -> list[StoredMessage]:
        """The conversation's messages after ``after_seq`` (the newest ``HISTORY_LIMIT``)."""
        conversation = select(Conversation.id).where(Conversation.session_id == session_id)
        return await self._messages(Message.conversation_id == conversation.scalar_subquery(),
                                    after_seq)

    async def messages_of(self, conversation_id: int, after_seq: int = 0) -> list[StoredMessage]:
        """``history`` by the conversation's row id (the advisers' console)."""
        return await self._messages(Message.conversation_id == conversation_id, after_seq)

    async def _messages(self, belongs, after_seq: int) -> list[StoredMessage]:
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    select(Message)
                    .where(belongs, Message.seq > after_seq)
                    .order_by(Message.seq.desc())
                    .limit(HISTORY_LIMIT)
                )
            ).all()
        return [StoredMessage.of(row) for row in reversed(rows)]

    async def replies_to(self, visitor_message_id: int) -> list[StoredMessage]:
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    select(Message)
                    .where(Message.reply_to_id == visitor_message_id)
                    .order_by(Message.seq)
                )
            ).all()
        return [StoredMessage.of(row) for row in rows]


async def _conversation_id(session: AsyncSession, session_id: str, now: datetime) -> int:
    """The conversation's row id, creating the row on its first message."""
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    await session.execute(
        insert(Conversation)
        .values(session_id=session_id, last_seq=0, expects_secret=False, created_at=now,
                last_message_at=now)
        .on_conflict_do_nothing(index_elements=[Conversation.session_id])
    )
    return await session.scalar(
        select(Conversation.id).where(Conversation.session_id == session_id)
    )


async def _next_seq(session: AsyncSession, conversation_id: int, now: datetime) -> tuple[int, bool]:
    """Bump the conversation's counter (this locks its row until commit)."""
    row = (
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(last_seq=Conversation.last_seq + 1, last_message_at=now)
            .returning(Conversation.last_seq, Conversation.expects_secret)
        )
    ).one()
    return row.last_seq, row.expects_secret
