"""Queries behind the statistics page. Days are given as UTC ranges (the caller turns Warsaw
calendar days into them), so every database counts the same and no SQL date function is
needed. Conversations count by the day they started, tickets by the day they came,
ratings by the day they were given, intents by the day of the message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway.models import Author, Conversation, Message, Ticket
from bot.understanding import FALLBACK_INTENT

TOP = 10


@dataclass(frozen=True)
class DayRange:
    label: str  # e.g. "21.11"
    start: datetime
    end: datetime  # exclusive


@dataclass(frozen=True)
class DayCounts:
    label: str
    conversations: int
    taken: int  # conversations an adviser took at least once
    handoffs_requested: int
    handoffs_taken: int
    tickets: int


@dataclass(frozen=True)
class Ratings:
    count: int
    average: float | None


@dataclass
class StatsRepository:
    sessions: async_sessionmaker[AsyncSession]

    async def per_day(self, days: list[DayRange]) -> list[DayCounts]:
        """One row per day; one query per table, each day a column of conditional sums."""
        conversation_columns = []
        for day in days:
            on_day = _within(Conversation.created_at, day)
            conversation_columns += [
                _sum(on_day, 1),
                _sum(and_(on_day, Conversation.handoffs_taken > 0), 1),
                _sum(on_day, Conversation.handoffs_requested),
                _sum(on_day, Conversation.handoffs_taken),
            ]
        ticket_columns = [_sum(_within(Ticket.created_at, day), 1) for day in days]
        period = DayRange("", days[0].start, days[-1].end)
        async with self.sessions() as session:
            conversations = (
                await session.execute(
                    select(*conversation_columns).where(_within(Conversation.created_at, period))
                )
            ).one()
            tickets = (
                await session.execute(
                    select(*ticket_columns).where(_within(Ticket.created_at, period))
                )
            ).one()
        return [
            DayCounts(day.label, *(int(value or 0) for value in conversations[4 * i: 4 * i + 4]),
                      tickets=int(tickets[i] or 0))
            for i, day in enumerate(days)
        ]

    async def ratings(self, start: datetime, end: datetime) -> Ratings:
        async with self.sessions() as session:
            count, average = (
                await session.execute(
                    select(func.count(Conversation.rating), func.avg(Conversation.rating))
                    .where(Conversation.rated_at >= start, Conversation.rated_at < end)
                )
            ).one()
        return Ratings(int(count), float(average) if average is not None else None)

    async def top_intents(self, start: datetime, end: datetime) -> list[tuple[str, int]]:
        """What visitors asked most (the assistant understood), fallbacks left out."""
        count = func.count(Message.id)
        query = (
            select(Message.intent, count)
            .where(_visitor_between(start, end), Message.intent.is_not(None),
                   Message.intent != FALLBACK_INTENT)
            .group_by(Message.intent)
            .order_by(count.desc(), Message.intent)
            .limit(TOP)
        )
        return await self._pairs(query)

    async def top_fallbacks(self, start: datetime, end: datetime) -> list[tuple[str, int]]:
        """Texts the assistant did not understand, most frequent first (masked ones left out)."""
        count = func.count(Message.id)
        query = (
            select(Message.text, count)
            .where(_visitor_between(start, end), Message.intent == FALLBACK_INTENT,
                   Message.secret.is_(False))
            .group_by(Message.text)
            .order_by(count.desc(), Message.text)
            .limit(TOP)
        )
        return await self._pairs(query)

    async def _pairs(self, query) -> list[tuple[str, int]]:
        async with self.sessions() as session:
            return [(row[0], int(row[1])) for row in (await session.execute(query)).all()]


def _within(column, day: DayRange):
    return and_(column >= day.start, column < day.end)


def _sum(condition, value):
    return func.sum(case((condition, value), else_=0))


def _visitor_between(start: datetime, end: datetime):
    return and_(Message.author == Author.VISITOR, Message.created_at >= start,
                Message.created_at < end)
