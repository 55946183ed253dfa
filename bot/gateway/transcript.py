"""The stored transcript: conversations and their messages in the gateway's database.

Every message gets the next ``seq`` of its conversation, handed out by bumping
``conversations.last_seq`` inside the writing transaction, so the numbers are gap-free,
commit in order and are the same for every gateway process. Clients ask for "everything after
seq N" to catch up after a reload or a dropped connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway.db import insert_for, utcnow
from bot.gateway.limits import Exceeded
from bot.gateway.messages import asks_for_secret
from bot.gateway.models import Author, Conversation, Delivery, Message, Turn
from bot.understanding import TurnRecord
from bot.redaction import redact

# Counts a new visitor message against the limits in the transaction that stores it; a limit
# exceeded leaves the message out.
Admit = Callable[[AsyncSession], Awaitable[Exceeded | None]]

# What a masked value looks like everywhere it is shown or stored (never its length).
MASK = "••••"
HISTORY_LIMIT = 500
# What a bot message keeps of the assistant's reply besides its text.
REPLY_DATA = ("buttons", "image", "custom")


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
        self,
        session_id: str,
        text: str,
        client_message_id: str | None,
        title: str | None,
        admit: Admit,
    ) -> Accepted | Exceeded:
        """Store the visitor's message, its secrets masked (all of it when the assistant asked
        for a secret; otherwise what ``bot.redaction.redact`` finds: passwords, PINs, codes).

        A message whose ``client_message_id`` is already stored is not stored again: the
        stored one comes back with ``duplicate=True``. Otherwise ``admit`` (the limits) counts
        the message in the same transaction, so a re-send is never counted; when it answers a
        limit exceeded, that comes back instead, the count committed and nothing stored.
        """
        for attempt in range(2):
            try:
                return await self._add_visitor_message(
                    session_id, text, client_message_id, title, admit
                )
            except IntegrityError:
                # Another process stored the same client message id first: take its row.
                if attempt or client_message_id is None:
                    raise
        raise AssertionError("unreachable")

    async def _add_visitor_message(
        self,
        session_id: str,
        text: str,
        client_message_id: str | None,
        title: str | None,
        admit: Admit,
    ) -> Accepted | Exceeded:
        async with self.sessions.begin() as session:
            if client_message_id is not None:
                known = await _find(session, session_id, client_message_id)
                if known is not None:
                    return known
            exceeded = await admit(session)
            if exceeded is not None:
                return exceeded
            conversation_id, seq, expects_secret = await _claim_seq(
                session, session_id, self.clock()
            )
            # The answer to "enter the PIN / the code" is stored as MASK (never its length);
            # a button payload (/intent{...}) is not that answer.
            secret = expects_secret and not text.startswith("/")
            if expects_secret:
                await session.execute(
                    update(Conversation)
                    .where(Conversation.id == conversation_id)
                    .values(expects_secret=False)
                )
            message = StoredMessage(
                id=0,
                seq=seq,
                author=Author.VISITOR,
                # Every other text, payloads included, is stored with its secrets masked:
                # passwords in any phrasing, PINs, codes, IDs volunteered unasked
                # (bot/redaction.py).
                text=MASK if secret else redact(text).text,
                secret=secret,
                data={"title": title} if title and not secret else {},
                client_message_id=client_message_id,
                delivery=Delivery.PENDING,
                created_at=self.clock(),
            )
            message = await _insert(session, conversation_id, [message])
            return Accepted(conversation_id, message[0], duplicate=False)

    async def add_replies(
        self, conversation_id: int, visitor_message: StoredMessage, replies: list[dict[str, Any]]
    ) -> tuple[list[StoredMessage], StoredMessage]:
        """Store the assistant's replies to a visitor message and mark it answered; returns
        the stored replies and the answered visitor message."""
        async with self.sessions.begin() as session:
            stored: list[StoredMessage] = []
            if replies:
                # One bump hands out the replies' seqs; the PIN/code flag goes with it.
                changes: dict[str, Any] = {
                    "last_seq": Conversation.last_seq + len(replies),
                    "last_message_at": self.clock(),
                }
                if asks_for_secret(replies):
                    changes["expects_secret"] = True
                last_seq = await session.scalar(
                    update(Conversation)
                    .where(Conversation.id == conversation_id)
                    .values(changes)
                    .returning(Conversation.last_seq)
                )
                first_seq = last_seq - len(replies) + 1
                stored = await _insert(
                    session,
                    conversation_id,
                    [
                        StoredMessage(
                            id=0,
                            seq=first_seq + index,
                            author=Author.BOT,
                            text=reply.get("text") or "",
                            secret=False,
                            data={k: reply[k] for k in REPLY_DATA if k in reply},
                            client_message_id=None,
                            delivery=None,
                            created_at=self.clock(),
                        )
                        for index, reply in enumerate(replies)
                    ],
                    reply_to_id=visitor_message.id,
                )
            await session.execute(
                update(Message)
                .where(Message.id == visitor_message.id)
                .values(delivery=Delivery.ANSWERED)
            )
        return stored, replace(visitor_message, delivery=Delivery.ANSWERED)

    async def add_message(
        self, conversation_id: int, author: Author, text: str, data: dict[str, Any] | None = None
    ) -> StoredMessage:
        """Store an adviser's message or a gateway notice (never a visitor's)."""
        async with self.sessions.begin() as session:
            seq, _ = await _next_seq(session, conversation_id, self.clock())
            message = StoredMessage(
                id=0,
                seq=seq,
                author=author,
                text=text,
                secret=False,
                data=data or {},
                client_message_id=None,
                delivery=None,
                created_at=self.clock(),
            )
            return (await _insert(session, conversation_id, [message]))[0]

    async def mark_answered(self, visitor_message_id: int) -> StoredMessage:
        """An adviser holds the conversation: the message reached them (no assistant reply)."""
        async with self.sessions.begin() as session:
            row = await session.get_one(Message, visitor_message_id)
            row.delivery = Delivery.ANSWERED
            await session.flush()
            return StoredMessage.of(row)

    async def record_turn(
        self, conversation_id: int, visitor_message_id: int, turn: TurnRecord
    ) -> None:
        """What the assistant understood and did with a visitor message (a relay retried
        after a timeout records its latest turn)."""
        values = {
            "conversation_id": conversation_id,
            "predicted_intent": turn.predicted_intent,
            "confidence": turn.confidence,
            "actions": turn.actions,
            "journeys": turn.journeys,
            "active_form": turn.active_form,
            "journey_cancelled": turn.journey_cancelled,
        }
        async with self.sessions.begin() as session:
            await session.execute(
                update(Message).where(Message.id == visitor_message_id).values(intent=turn.intent)
            )
            await session.execute(
                insert_for(session)(Turn)
                .values(message_id=visitor_message_id, **values)
                .on_conflict_do_update(index_elements=[Turn.message_id], set_=values)
            )

    async def conversation_id(self, session_id: str) -> int:
        """The conversation's row id (created if the visitor has not written yet)."""
        async with self.sessions.begin() as session:
            return await _conversation_id(session, session_id, self.clock())

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


async def _find(session: AsyncSession, session_id: str, client_message_id: str) -> Accepted | None:
    """The stored message with this client id, if the visitor sent it before."""
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


async def _claim_seq(
    session: AsyncSession, session_id: str, now: datetime
) -> tuple[int, int, bool]:
    """The conversation's row id (the row is created with its first message), the next seq
    and whether the assistant asked for a secret: one upsert that bumps ``last_seq`` (and
    locks the row until commit)."""
    row = (
        await session.execute(
            insert_for(session)(Conversation)
            .values(session_id=session_id, last_seq=1, expects_secret=False, created_at=now,
                    last_message_at=now)
            .on_conflict_do_update(
                index_elements=[Conversation.session_id],
                set_={"last_seq": Conversation.last_seq + 1, "last_message_at": now},
            )
            .returning(Conversation.id, Conversation.last_seq, Conversation.expects_secret)
        )
    ).one()
    return row.id, row.last_seq, row.expects_secret


async def _insert(
    session: AsyncSession,
    conversation_id: int,
    messages: list[StoredMessage],
    reply_to_id: int | None = None,
) -> list[StoredMessage]:
    """Insert messages (one statement); returns them with their row ids. The ids are matched
    by seq (unique in the conversation): asking for them in the order of the rows would make
    SQLAlchemy insert one row per statement on SQLite."""
    returned = await session.execute(
        insert(Message).returning(Message.seq, Message.id),
        [
            {
                "conversation_id": conversation_id,
                "seq": message.seq,
                "author": message.author,
                "text": message.text,
                "secret": message.secret,
                "data": message.data,
                "client_message_id": message.client_message_id,
                "delivery": message.delivery,
                "reply_to_id": reply_to_id,
                "created_at": message.created_at,
            }
            for message in messages
        ],
    )
    ids = dict(returned.tuples().all())
    return [replace(message, id=ids[message.seq]) for message in messages]


async def _conversation_id(session: AsyncSession, session_id: str, now: datetime) -> int:
    """The conversation's row id, creating the row on its first message."""
    await session.execute(
        insert_for(session)(Conversation)
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
