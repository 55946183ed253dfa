"""The console API's JSON shapes (no queries here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.gateway.console.queries import ConversationCard, Held
from bot.gateway.console.texts import (
    HANDLING_LABELS,
    INBOX_REASON_LABELS,
    INBOX_STATE_LABELS,
    SLOT_LABELS,
    entity_label,
    form_label,
    intent_label,
)
from bot.gateway.desk import QueueEntry
from bot.gateway.inbox import InboxEntry
from bot.gateway.transcript import StoredMessage


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def queue_entry(entry: QueueEntry) -> dict[str, Any]:
    return {
        "conversation_id": entry.conversation_id,
        "queued_at": iso(entry.queued_at),
        "account_name": entry.account_name,
        "last_text": entry.last_text,
    }


def held(conversation: Held) -> dict[str, Any]:
    return {
        "conversation_id": conversation.conversation_id,
        "taken_at": iso(conversation.taken_at),
        "account_name": conversation.account_name,
        "last_text": conversation.last_text,
    }


def conversation(
    card: ConversationCard,
    messages: list[StoredMessage],
    insight: dict[str, Any] | None,
    agent_id: int,
) -> dict[str, Any]:
    """Everything the desk's centre and right columns show. Never the visitor's session id
    (it is their bearer credential)."""
    row = card.row
    return {
        "conversation": {
            "id": row.id,
            "handling": row.handling.value,
            "handling_label": HANDLING_LABELS[row.handling.value],
            "agent_name": card.agent_name,
            "mine": row.agent_id == agent_id,
            "created_at": iso(row.created_at),
            "queued_at": iso(row.queued_at),
            "taken_at": iso(row.taken_at),
            "rating": row.rating,
            "rating_comment": row.rating_comment,
        },
        "messages": [message.wire() for message in messages],
        "identity": identity(card, insight),
        "intents": [
            {"intent": seen.intent, "label": intent_label(seen.intent), "text": seen.text,
             "at": iso(seen.at)}
            for seen in card.intents
        ],
        "insight": _insight(insight),
    }


def identity(card: ConversationCard, insight: dict[str, Any] | None) -> dict[str, Any]:
    """Who the visitor is: the signed-in account, else whom the assistant verified."""
    row = card.row
    if row.account_email:
        return {"source": "account", "verified": True, "name": row.account_name,
                "email": row.account_email, "organisation": row.account_organisation}
    slots = (insight or {}).get("slots") or {}
    if slots.get("verified_email") or slots.get("verified_name"):
        return {"source": "assistant", "verified": True, "name": slots.get("verified_name"),
                "email": slots.get("verified_email"), "organisation": None}
    return {"source": None, "verified": False, "name": None, "email": None, "organisation": None}


def _insight(insight: dict[str, Any] | None) -> dict[str, Any] | None:
    if insight is None:
        return None
    slots = dict(insight.get("slots") or {})
    return {
        "intent": insight.get("intent"),
        "intent_label": intent_label(insight.get("intent")),
        "active_form": insight.get("active_form"),
        "form_label": form_label(form) if (form := insight.get("active_form")) else None,
        "slots": slots,
        "slot_labels": {name: SLOT_LABELS.get(name, name) for name in slots},
    }


def inbox_item(entry: InboxEntry) -> dict[str, Any]:
    """An NLU inbox message: what the assistant made of it and the editor's answer."""
    return {
        "id": entry.id,
        "status": entry.status.value,
        "status_label": INBOX_STATE_LABELS[entry.status.value],
        "text": entry.text,
        "reasons": [{"code": reason, "label": INBOX_REASON_LABELS.get(reason, reason)}
                    for reason in entry.reasons],
        "conversation_id": entry.conversation_id,
        "at": iso(entry.at),
        "intent": {"name": entry.intent, "label": intent_label(entry.intent)},
        "predicted": {
            "name": entry.predicted_intent,
            "label": intent_label(entry.predicted_intent),
            "confidence": entry.confidence,
        },
        "label": {
            "intent": entry.label,
            "intent_label": intent_label(entry.label),
            "entities": [
                {**span, "label": entity_label(span["entity"]),
                 "value": entry.text[span["start"]:span["end"]]}
                for span in entry.entities
            ],
        } if entry.label else None,
        "export_note": entry.export_note,
    }
