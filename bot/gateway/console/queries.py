"""What the desk shows beside ``Desk.queue``: the adviser's own conversations, one
conversation's row and what the assistant understood in it. Queries only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway.models import Agent, Author, Conversation, Handling, Message

RECENT_INTENTS = 10


@dataclass(frozen=True)
class Held:
    conversation_id: int
    taken_at: datetime | None
    account_name: str | None
    last_text: str


@dataclass(frozen=True)
class IntentSeen:
    intent: str
    text: str
    at: datetime


@dataclass(frozen=True)
class ConversationCard:
    row: Conversation
    agent_name: str | None  # who holds (or closed) it
    intents: list[IntentSeen]


async def held_by(sessions: async_sessionmaker[AsyncSession], agent_id: int) -> list[Held]:
    """Conversations the adviser holds now, longest-held first."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Conversation.id, Conversation.taken_at, Conversation.account_name,
                       _last_visitor_text())
                .where(Conversation.handling == Handling.AGENT, Conversation.agent_id == agent_id)
                .order_by(Conversation.taken_at, Conversation.id)
            )
        ).all()
    return [Held(row[0], row[1], row[2], row[3] or "") for row in rows]


async def card(
    sessions: async_sessionmaker[AsyncSession], conversation_id: int
) -> ConversationCard | None:
    async with sessions() as session:
        row = await session.get(Conversation, conversation_id)
        if row is None:
            return None
        agent_name = (
            await session.scalar(select(Agent.display_name).where(Agent.id == row.agent_id))
            if row.agent_id is not None
            else None
        )
        seen = (
            await session.execute(
                select(Message.intent, Message.text, Message.created_at)
                .where(Message.conversation_id == conversation_id, Message.intent.is_not(None))
                .order_by(Message.seq.desc())
                .limit(RECENT_INTENTS)
            )
        ).all()
    return ConversationCard(row, agent_name, [IntentSeen(*item) for item in seen])


def _last_visitor_text():
    return (
        select(Message.text)
        .where(Message.conversation_id == Conversation.id, Message.author == Author.VISITOR)
        .order_by(Message.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
