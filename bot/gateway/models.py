"""The gateway's tables: conversations, their transcript, and shared rate-limit counters."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.gateway.db import Base, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    # Plain strings (no native ENUM types) so SQLite and PostgreSQL share one migration.
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class Author(enum.StrEnum):
    """Who wrote a transcript message."""

    VISITOR = "visitor"
    BOT = "bot"
    AGENT = "agent"  # a human adviser (agent console, later)
    SYSTEM = "system"  # the gateway itself: handoff and queue notices (later)


class Delivery(enum.StrEnum):
    """Where a visitor's message stands; bot, agent and system messages have none."""

    PENDING = "pending"  # stored, the assistant has not answered yet
    ANSWERED = "answered"  # the assistant's replies (possibly none) are stored
    FAILED = "failed"  # the assistant could not be reached; the visitor may send it again


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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateLimitCounter(Base):
    """Hits of one key in one fixed window; every gateway process counts in the same row."""

    __tablename__ = "rate_limit_counters"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Keys are conversation ids and IP addresses: only their SHA-256 is kept.
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(primary_key=True, index=True)
    hits: Mapped[int] = mapped_column(default=0)
