"""Conversation review (``/agent/review``): conversations by how they went, and one of them
turn by turn with what the assistant understood (intent, confidence) and did (actions,
journeys). Every adviser may read it; pages are rendered on the server.

Outcomes of a conversation (any number of them at once):

- ``fallback`` — the assistant did not understand a visitor message (``nlu_fallback``);
- ``handoff`` — the visitor was handed to a person (asked, or the assistant offered);
- ``low_rating`` — rated ``inbox.LOW_RATING`` or less;
- ``not_completed`` — a journey (form) was cancelled, or the last turn left one open;
- ``ticket`` — the visitor left a ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sanic import Request
from sanic.response import HTTPResponse
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway.console.texts import (
    HANDLING_LABELS,
    INBOX_STATE_LABELS,
    JOURNEY_LABELS,
    OUTCOME_LABELS,
    form_label,
    intent_label,
)
from bot.gateway.console.web import agent_page, render
from bot.gateway.desk import DeskError
from bot.gateway.inbox import LOW_RATING
from bot.gateway.models import (
    Author,
    Conversation,
    InboxItem,
    InboxStatus,
    Message,
    Ticket,
    Turn,
)
from bot.understanding import FALLBACK_INTENT

PAGE_SIZE = 50
OUTCOMES = ("fallback", "handoff", "low_rating", "not_completed", "ticket")


@dataclass(frozen=True)
class ConversationOutcome:
    id: int
    created_at: datetime
    last_message_at: datetime
    visitor_messages: int
    rating: int | None
    handling: str
    outcomes: list[str]


@dataclass(frozen=True)
class ReviewTurn:
    """One transcript line; a visitor message the assistant answered has its turn."""

    id: int
    author: str
    text: str
    secret: bool
    at: datetime
    intent: str | None
    turn: Turn | None
    inbox_status: InboxStatus | None


def _outcome_columns():
    """Each outcome as a boolean SQL expression over ``Conversation``."""
    last_turn_form = (
        select(Turn.active_form)
        .where(Turn.conversation_id == Conversation.id)
        .order_by(Turn.message_id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return {
        "fallback": exists().where(Message.conversation_id == Conversation.id,
                                   Message.intent == FALLBACK_INTENT),
        "handoff": Conversation.handoffs_requested > 0,
        "low_rating": and_(Conversation.rating.is_not(None), Conversation.rating <= LOW_RATING),
        "not_completed": or_(
            exists().where(Turn.conversation_id == Conversation.id, Turn.journey_cancelled),
            last_turn_form.is_not(None),
        ),
        "ticket": exists().where(Ticket.conversation_id == Conversation.id),
    }


@dataclass
class ReviewRepository:
    sessions: async_sessionmaker[AsyncSession]

    async def conversations(
        self, outcome: str | None, page: int
    ) -> tuple[list[ConversationOutcome], bool]:
        """A page of conversations, most recently active first, and whether more follow."""
        columns = _outcome_columns()
        visitor_messages = (
            select(func.count(Message.id))
            .where(Message.conversation_id == Conversation.id, Message.author == Author.VISITOR)
            .scalar_subquery()
        )
        query = select(
            Conversation.id, Conversation.created_at, Conversation.last_message_at,
            visitor_messages, Conversation.rating, Conversation.handling,
            *(column.label(name) for name, column in columns.items()),
        )
        if outcome is not None:
            query = query.where(columns[outcome])
        query = (
            query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
        async with self.sessions() as session:
            rows = (await session.execute(query)).all()
        found = [
            ConversationOutcome(
                row.id, row.created_at, row.last_message_at, int(row[3] or 0), row.rating,
                row.handling.value, [name for name in OUTCOMES if getattr(row, name)],
            )
            for row in rows[:PAGE_SIZE]
        ]
        return found, len(rows) > PAGE_SIZE

    async def outcome_of(self, conversation_id: int) -> ConversationOutcome | None:
        columns = _outcome_columns()
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(Conversation,
                           *(column.label(name) for name, column in columns.items()))
                    .where(Conversation.id == conversation_id)
                )
            ).first()
            if row is None:
                return None
            count = await session.scalar(
                select(func.count(Message.id)).where(Message.conversation_id == conversation_id,
                                                     Message.author == Author.VISITOR)
            )
        conversation = row[0]
        return ConversationOutcome(
            conversation.id, conversation.created_at, conversation.last_message_at, count,
            conversation.rating, conversation.handling.value,
            [name for name in OUTCOMES if getattr(row, name)],
        )

    async def turns(self, conversation_id: int) -> list[ReviewTurn]:
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(Message, Turn, InboxItem.status)
                    .outerjoin(Turn, Turn.message_id == Message.id)
                    .outerjoin(InboxItem, InboxItem.message_id == Message.id)
                    .where(Message.conversation_id == conversation_id)
                    .order_by(Message.seq)
                )
            ).all()
        return [
            ReviewTurn(message.id, message.author.value, message.text, message.secret,
                       message.created_at, message.intent, turn,
                       InboxStatus(status) if status else None)
            for message, turn, status in rows
        ]


@agent_page
async def conversations(request: Request) -> HTTPResponse:
    raw = request.args.get("outcome", "")
    outcome = raw if raw in OUTCOMES else None
    page = _page(request.args.get("page", "1"))
    repository = ReviewRepository(request.app.ctx.sessions)
    rows, more = await repository.conversations(outcome, page)
    return render(request, "console/review.html", rows=rows, outcome=outcome or "",
                  outcomes=OUTCOME_LABELS, page=page, more=more, handling=HANDLING_LABELS)


@agent_page
async def conversation(request: Request, conversation_id: int) -> HTTPResponse:
    repository = ReviewRepository(request.app.ctx.sessions)
    summary = await repository.outcome_of(conversation_id)
    if summary is None:
        raise DeskError(404, "review_conversation_not_found")
    return render(
        request,
        "console/review_conversation.html",
        summary=summary,
        turns=await repository.turns(conversation_id),
        outcomes=OUTCOME_LABELS,
        handling=HANDLING_LABELS,
        inbox_states=INBOX_STATE_LABELS,
        intent_label=intent_label,
        journey_steps=journey_steps,
    )


def journey_steps(turn: Turn) -> list[str]:
    """"reset hasła: rozpoczęta", …, and the journey still open if it did not start here."""
    steps = [f"{form_label(j['form'])}: {JOURNEY_LABELS[j['outcome']]}" for j in turn.journeys]
    if turn.active_form and turn.active_form not in {j["form"] for j in turn.journeys}:
        steps.append(f"w toku: {form_label(turn.active_form)}")
    return steps


def _page(raw: str) -> int:
    return int(raw) if raw.isdigit() and 0 < int(raw) <= 10_000 else 1
