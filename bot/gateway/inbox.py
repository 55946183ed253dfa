"""The NLU inbox: visitor messages the assistant may have misunderstood, for editors to turn
into training examples (the console's ``/agent/nlu``; ``make nlu-inbox-export`` writes them
to ``data/nlu/inbox/<date>.yml``).

A typed visitor message enters the inbox (one row per message, its reasons accumulate) when:

- the assistant fell back (``nlu_fallback``): ``fallback``;
- the classifier's best intent had a confidence below ``Settings.nlu_inbox_confidence``:
  ``low_confidence``;
- the assistant handed the visitor to a person after it: ``handoff`` — the latest of the last
  ``HANDOFF_LOOKBACK`` visitor messages that was not conversation control (a greeting, yes/no,
  the request for a person itself), i.e. what the visitor wanted before giving up;
- the conversation was rated ``LOW_RATING`` or less: ``low_rating`` — every message of it the
  assistant answered, conversation control left out.

Button payloads (``/intent{…}``) are not typed text, and messages stored with a masked secret
(``••••``, ``[hasło usunięte]``) are left out: what the visitor typed is gone, so they cannot
become training examples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway.desk import AgentRef, DeskError
from bot.gateway.models import Author, InboxItem, InboxStatus, Message, Turn
from bot.gateway.transcript import StoredMessage
from bot.understanding import TurnRecord
from bot.redaction import DIGIT_MASK, PASSWORD_REDACTED_TEXT

FALLBACK, LOW_CONFIDENCE, HANDOFF, LOW_RATING_REASON = (
    "fallback", "low_confidence", "handoff", "low_rating"
)
LOW_RATING = 2  # of 5
HANDOFF_LOOKBACK = 3
LOW_RATING_MESSAGES = 10
OUT_OF_SCOPE = "out_of_scope"
MAX_ENTITIES = 20
# Intents that steer the conversation rather than say what the visitor needs.
CONVERSATION_CONTROL = frozenset({
    "greet", "goodbye", "thanks", "affirm", "deny", "stop", "done", "check_presence",
    "bot_challenge", "human_handoff", "support_contact", "leave_ticket", "handoff_returned",
})
# Decisions stay open to a change of mind until the export took them.
OPEN = (InboxStatus.WAITING, InboxStatus.LABELLED, InboxStatus.SKIPPED)
# Characters around an entity: a span must start and end on a word boundary (Rasa's
# tokenizer would otherwise misalign it).
BOUNDARY = set(" \t\n.,;:!?\"'()[]{}«»„”")


def learnable(text: str, secret: bool) -> bool:
    """Typed by the visitor and stored whole: a possible training example."""
    return (
        not secret
        and bool(text.strip())
        and not text.startswith("/")
        and DIGIT_MASK not in text
        and PASSWORD_REDACTED_TEXT not in text
    )


@dataclass(frozen=True)
class InboxEntry:
    """One inbox row with its message and what the assistant made of it."""

    id: int
    status: InboxStatus
    reasons: list[str]
    text: str
    conversation_id: int
    at: datetime
    intent: str | None  # what the dialogue acted on (may be nlu_fallback)
    predicted_intent: str | None
    confidence: float | None
    label: str | None  # the editor's intent
    entities: list[dict[str, Any]]
    export_note: str | None


@dataclass(frozen=True)
class Vocabulary:
    """What an editor may choose: the trained domain's intents and entities."""

    intents: frozenset[str]
    entities: frozenset[str]


@dataclass
class NluInbox:
    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    confidence_threshold: float

    # ------------------------------------------------------------------ collecting

    async def consider_turn(
        self, conversation_id: int, message: StoredMessage, turn: TurnRecord, handoff: bool
    ) -> None:
        """After the assistant answered the visitor's ``message`` (its turn is recorded)."""
        additions: list[tuple[int, str]] = []
        if learnable(message.text, message.secret):
            if turn.fallback:
                additions.append((message.id, FALLBACK))
            elif turn.confidence is not None and turn.confidence < self.confidence_threshold:
                additions.append((message.id, LOW_CONFIDENCE))
        if handoff:
            wanted = await self._what_was_wanted(conversation_id, message.seq)
            if wanted is not None:
                additions.append((wanted, HANDOFF))
        await self._add(additions)

    async def note_low_rating(self, conversation_id: int, score: int) -> None:
        """The visitor rated the conversation; a low rating sends its messages to the inbox."""
        if score > LOW_RATING:
            return
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(Message.id, Message.text, Message.secret)
                    .where(Message.conversation_id == conversation_id,
                           Message.author == Author.VISITOR,
                           Message.intent.is_not(None),
                           Message.intent.not_in(CONVERSATION_CONTROL))
                    .order_by(Message.seq.desc())
                    .limit(LOW_RATING_MESSAGES)
                )
            ).all()
        await self._add([(row.id, LOW_RATING_REASON) for row in rows
                         if learnable(row.text, row.secret)])

    async def _what_was_wanted(self, conversation_id: int, handed_over_seq: int) -> int | None:
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(Message.id, Message.text, Message.secret, Message.intent)
                    .where(Message.conversation_id == conversation_id,
                           Message.author == Author.VISITOR,
                           Message.seq <= handed_over_seq)
                    .order_by(Message.seq.desc())
                    .limit(HANDOFF_LOOKBACK)
                )
            ).all()
        for row in rows:
            if row.intent not in CONVERSATION_CONTROL and learnable(row.text, row.secret):
                return row.id
        return None

    async def _add(self, additions: list[tuple[int, str]]) -> None:
        if not additions:
            return
        for attempt in range(2):
            try:
                await self._add_once(additions)
                return
            except IntegrityError:
                if attempt:  # another process added the same message first: merge into its row
                    raise

    async def _add_once(self, additions: list[tuple[int, str]]) -> None:
        async with self.sessions.begin() as session:
            for message_id, reason in additions:
                item = await session.scalar(
                    select(InboxItem).where(InboxItem.message_id == message_id)
                )
                if item is None:
                    session.add(InboxItem(message_id=message_id, reasons=[reason],
                                          status=InboxStatus.WAITING, entities=[],
                                          created_at=self.clock()))
                    await session.flush()
                elif reason not in item.reasons:
                    item.reasons = [*item.reasons, reason]

    # ------------------------------------------------------------------ reading

    async def count(self, status: InboxStatus = InboxStatus.WAITING) -> int:
        async with self.sessions() as session:
            return await session.scalar(
                select(func.count(InboxItem.id)).where(InboxItem.status == status)
            )

    async def entries(self, status: InboxStatus | None, limit: int) -> list[InboxEntry]:
        """Oldest first (``None``: every status, newest decisions first)."""
        query = _entry_query()
        if status is None:
            query = query.order_by(InboxItem.id.desc())
        else:
            query = query.where(InboxItem.status == status).order_by(InboxItem.id)
        async with self.sessions() as session:
            rows = (await session.execute(query.limit(limit))).all()
        return [_entry(row) for row in rows]

    async def entry(self, item_id: int) -> InboxEntry:
        async with self.sessions() as session:
            row = (await session.execute(_entry_query().where(InboxItem.id == item_id))).first()
        if row is None:
            raise DeskError(404, "inbox_item_not_found")
        return _entry(row)

    # ------------------------------------------------------------------ deciding

    async def label(
        self,
        item_id: int,
        editor: AgentRef,
        intent: Any,
        entities: Any,
        vocabulary: Vocabulary,
    ) -> int:
        """The editor's intent (and entities) for the message; the same text waiting in other
        rows gets the same answer. Returns how many rows were labelled."""
        if not isinstance(intent, str) or intent not in vocabulary.intents:
            raise DeskError(422, "inbox_intent_unknown")
        async with self.sessions.begin() as session:
            item, text = await self._open_item(session, item_id)
            spans = clean_entities(entities, text, vocabulary.entities)
            same_text = (
                await session.scalars(
                    select(InboxItem)
                    .join(Message, Message.id == InboxItem.message_id)
                    .where(Message.text == text, InboxItem.status == InboxStatus.WAITING,
                           InboxItem.id != item.id)
                )
            ).all()
            for row in (item, *same_text):
                self._decide(row, editor, InboxStatus.LABELLED, intent, spans)
            return 1 + len(same_text)

    async def skip(self, item_id: int, editor: AgentRef) -> None:
        """"Pomiń": not a training example."""
        async with self.sessions.begin() as session:
            item, _ = await self._open_item(session, item_id)
            self._decide(item, editor, InboxStatus.SKIPPED, None, [])

    async def reopen(self, item_id: int) -> None:
        """Undo a decision the export has not taken yet."""
        async with self.sessions.begin() as session:
            item, _ = await self._open_item(session, item_id)
            item.status = InboxStatus.WAITING
            item.intent, item.entities, item.export_note = None, [], None
            item.decided_by_id = item.decided_at = None

    async def _open_item(self, session: AsyncSession, item_id: int) -> tuple[InboxItem, str]:
        row = (
            await session.execute(
                select(InboxItem, Message.text)
                .join(Message, Message.id == InboxItem.message_id)
                .where(InboxItem.id == item_id)
            )
        ).first()
        if row is None:
            raise DeskError(404, "inbox_item_not_found")
        item, text = row
        if item.status not in OPEN:
            raise DeskError(409, "inbox_item_exported")
        return item, text

    def _decide(
        self,
        item: InboxItem,
        editor: AgentRef,
        status: InboxStatus,
        intent: str | None,
        entities: list[dict[str, Any]],
    ) -> None:
        item.status = status
        item.intent = intent
        item.entities = entities
        item.export_note = None  # a note of an earlier export no longer applies
        item.decided_by_id = editor.id
        item.decided_at = self.clock()


def clean_entities(raw: Any, text: str, known: frozenset[str]) -> list[dict[str, Any]]:
    """Entity spans as an editor marked them: ``[{"start", "end", "entity"}]`` inside the text,
    on word boundaries, not overlapping, of entities the domain knows; else 422."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_ENTITIES:
        raise DeskError(422, "inbox_entities_invalid")
    spans = []
    for span in raw:
        if not isinstance(span, dict):
            raise DeskError(422, "inbox_entities_invalid")
        start, end, entity = span.get("start"), span.get("end"), span.get("entity")
        if not (_index(start) and _index(end) and 0 <= start < end <= len(text)
                and isinstance(entity, str) and entity in known
                and _on_word_boundaries(text, start, end)):
            raise DeskError(422, "inbox_entities_invalid")
        spans.append({"start": start, "end": end, "entity": entity})
    spans.sort(key=lambda span: span["start"])
    if any(a["end"] > b["start"] for a, b in zip(spans, spans[1:])):
        raise DeskError(422, "inbox_entities_invalid")
    return spans


def _index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _on_word_boundaries(text: str, start: int, end: int) -> bool:
    value = text[start:end]
    return (
        value == value.strip() and value.strip(" .,;:!?\"'") == value
        and (start == 0 or text[start - 1] in BOUNDARY)
        and (end == len(text) or text[end] in BOUNDARY)
    )


def _entry_query():
    return (
        select(InboxItem, Message.text, Message.conversation_id, Message.created_at,
               Message.intent, Turn.predicted_intent, Turn.confidence)
        .join(Message, Message.id == InboxItem.message_id)
        .outerjoin(Turn, Turn.message_id == InboxItem.message_id)
    )


def _entry(row) -> InboxEntry:
    item, text, conversation_id, at, intent, predicted, confidence = row
    return InboxEntry(
        id=item.id, status=InboxStatus(item.status), reasons=list(item.reasons or []), text=text,
        conversation_id=conversation_id, at=at, intent=intent, predicted_intent=predicted,
        confidence=confidence, label=item.intent, entities=list(item.entities or []),
        export_note=item.export_note,
    )
