"""The gateway's tables: conversations and their transcript, what the assistant did with each
visitor message (turns), the advisers' desk (agents, their sessions, tickets), the NLU inbox and
shared rate-limit counters."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.gateway.db import Base, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    # Plain strings (no native ENUM types) so SQLite and PostgreSQL share one migration.
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class Author(enum.StrEnum):
    """Who wrote a transcript message."""

    VISITOR = "visitor"
    BOT = "bot"
    AGENT = "agent"  # a human adviser, from the agent console
    SYSTEM = "system"  # the gateway itself: handoff, queue, ticket and rating notices


class Delivery(enum.StrEnum):
    """Where a visitor's message stands; bot, agent and system messages have none."""

    PENDING = "pending"  # stored, the assistant has not answered yet
    ANSWERED = "answered"  # the assistant's replies (possibly none) are stored
    FAILED = "failed"  # the assistant could not be reached; the visitor may send it again


class Handling(enum.StrEnum):
    """Who answers the visitor now."""

    ASSISTANT = "assistant"  # Rasa answers
    QUEUED = "queued"  # waiting for an adviser; the assistant still answers meanwhile
    AGENT = "agent"  # an adviser holds the conversation; the assistant stays silent
    CLOSED = "closed"  # an adviser ended it; the next visitor message goes to the assistant


class InboxStatus(enum.StrEnum):
    """Where a message in the NLU inbox stands."""

    WAITING = "waiting"  # nobody has looked at it yet
    LABELLED = "labelled"  # an editor chose its intent (and entities); the next export takes it
    SKIPPED = "skipped"  # "pomiń": not a training example
    EXPORTED = "exported"  # written to data/nlu/inbox/<date>.yml
    DUPLICATE = "duplicate"  # the export found the same text in the training data already
    REFUSED = "refused"  # the export found a secret or a masked value in it: never written


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"  # an adviser answered by e-mail
    CLOSED = "closed"


class Conversation(Base):
    """One visitor's conversation; the row is created with its first message."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The signed id the visitor holds (their only credential) and Rasa's sender id.
    session_id: Mapped[str] = mapped_column(String(64), unique=True)
    # The last sequence number handed out; bumped under the row lock for every message.
    last_seq: Mapped[int] = mapped_column(default=0)
    # The assistant asked for a PIN or a code: the visitor's next message is stored masked.
    expects_secret: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    handling: Mapped[Handling] = mapped_column(
        _enum(Handling), default=Handling.ASSISTANT, index=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    queued_at: Mapped[datetime | None]
    taken_at: Mapped[datetime | None]
    # How many times the visitor asked for a person and how many times an adviser took over.
    handoffs_requested: Mapped[int] = mapped_column(default=0)
    handoffs_taken: Mapped[int] = mapped_column(default=0)
    # The account the visitor is signed in as (verified with the backend), for the advisers.
    account_email: Mapped[str | None] = mapped_column(String(320))
    account_name: Mapped[str | None] = mapped_column(String(200))
    account_organisation: Mapped[str | None] = mapped_column(String(300))
    rating: Mapped[int | None]
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None]
    # When the desk last offered this conversation a ticket (after hours, nobody at the desk):
    # the gateway takes a ticket only from a conversation that was offered one.
    ticket_offered_at: Mapped[datetime | None]


class Message(Base):
    """One line of a transcript, in ``seq`` order within its conversation."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        # A widget re-sends an unacknowledged message with the same id after a reconnect.
        UniqueConstraint("conversation_id", "client_message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    author: Mapped[Author] = mapped_column(_enum(Author))
    # Masked ("••••") when ``secret``: the real value only ever travels to Rasa.
    text: Mapped[str] = mapped_column(Text, default="")
    secret: Mapped[bool] = mapped_column(default=False)
    # Bot/agent extras: {"buttons": [...], "image": "...", "custom": {...}}; visitor: {"title"}.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    client_message_id: Mapped[str | None] = mapped_column(String(64))
    delivery: Mapped[Delivery | None] = mapped_column(_enum(Delivery))
    # A bot message answers this visitor message.
    reply_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    # What the assistant understood (visitor messages it answered), for advisers and statistics.
    intent: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Turn(Base):
    """What the assistant did with one visitor message, answered by Rasa's channel with the
    reply (``bot.understanding``). The intent it acted on is ``Message.intent``."""

    __tablename__ = "turns"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    # The classifier's best intent other than the fallback, and its confidence (for a fallback:
    # the guess that was not confident enough).
    predicted_intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    # The actions the assistant ran after the message, in order (``action_listen`` left out).
    actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Journeys (forms) in this turn: [{"form": "reset_password_form", "outcome": "started" |
    # "completed" | "cancelled"}], the form still open after it, and whether one was cancelled.
    journeys: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    active_form: Mapped[str | None] = mapped_column(String(64))
    journey_cancelled: Mapped[bool] = mapped_column(default=False)


class InboxItem(Base):
    """A visitor message worth a second look for the training data (the NLU inbox)."""

    __tablename__ = "inbox_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    # Why it is here: "fallback", "low_confidence", "handoff", "low_rating".
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[InboxStatus] = mapped_column(
        _enum(InboxStatus), default=InboxStatus.WAITING, index=True
    )
    # The editor's answer: the intent and the entities [{"start", "end", "entity"}] in the text.
    intent: Mapped[str | None] = mapped_column(String(64))
    entities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    exported_at: Mapped[datetime | None]
    # The file it was written to, or why the export did not write it.
    export_note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Agent(Base):
    """A support adviser who signs in to the console (created with ``make agent-add``)."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # The first name the visitor sees ("Do rozmowy dołącza konsultant Anna").
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    # May label the NLU inbox (``make agent-add … EDITOR=1``).
    editor: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentSession(Base):
    """A signed-in console: the cookie holds the raw token, only its SHA-256 is stored."""

    __tablename__ = "agent_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Sent back by the console in a header on every change (synchroniser token against CSRF).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # Heartbeats of an open console: an adviser counts as available while it is recent.
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    revoked_at: Mapped[datetime | None]


class Ticket(Base):
    """A question left for the advisers (after hours, or when nobody is at the desk)."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    # SHA-256 of the client address (IPv6: its /56) that sent the ticket, for the limits.
    requester_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    question: Mapped[str] = mapped_column(Text)
    # The transcript (masked) and what the assistant knew, as they were when the ticket came.
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[TicketStatus] = mapped_column(
        _enum(TicketStatus), default=TicketStatus.OPEN, index=True
    )
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    answered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    @property
    def number(self) -> str:
        return ticket_number(self.id)


def ticket_number(ticket_id: int) -> str:
    """The number people quote ("PM-000042"); not a credential, so it may be sequential."""
    return f"PM-{ticket_id:06d}"


class RateLimitCounter(Base):
    """Hits of one key in one fixed window; every gateway process counts in the same row."""

    __tablename__ = "rate_limit_counters"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Keys are conversation ids and IP addresses: only their SHA-256 is kept.
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(primary_key=True, index=True)
    hits: Mapped[int] = mapped_column(default=0)
