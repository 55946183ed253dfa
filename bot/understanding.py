"""What the assistant did with one visitor message: its *turn*, summarised from Rasa's events.

Shared by Rasa's input channel (``bot/rasa_ext/channel.py``, Python 3.10), which computes the
summary of the turn it just ran and answers it with the bot's messages, and the gateway
(``bot/gateway``, Python 3.11), which reads it back: standard library only, no imports from the
gateway or Rasa, so there is one implementation of what a turn is.

The gateway marks every message it relays with ``{"pomocnik_turn": {"message": <row id>}}`` in
the Rasa metadata; Rasa keeps message metadata on the ``user`` event, so the turn of that message
is found exactly even when the visitor wrote again meanwhile. A turn is the ``user`` event and
every event after it up to the next ``user`` event.

Journeys are forms (``*_form`` loops). One ends ``completed`` when the form's own action closed
it (it filled every slot) and ``cancelled`` when another action did (``action_deactivate_loop``,
``action_cancel_company_form``, …). The two-stage fallback is a loop too, but not a journey.

A summary holds names and a confidence only (intents, actions, forms): never a slot value or a
message text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

TURN_METADATA_KEY = "pomocnik_turn"
FALLBACK_INTENT = "nlu_fallback"
LISTEN = "action_listen"
FORM_SUFFIX = "_form"
STARTED, COMPLETED, CANCELLED = "started", "completed", "cancelled"
OUTCOMES = (STARTED, COMPLETED, CANCELLED)
RESETS = ("restart", "session_started")  # events after which no loop is active
# The only events ``turn_of`` reads before the turn's ``user`` event (the loop open before it):
# a caller may leave every other earlier event out and gets the same summary.
CONTEXT_EVENTS = ("active_loop", *RESETS)
MAX_NAME_LENGTH = 64


@dataclass(frozen=True)
class TurnRecord:
    intent: str | None  # what the dialogue acted on (``nlu_fallback`` included)
    predicted_intent: str | None  # the classifier's best intent other than the fallback
    confidence: float | None  # its confidence
    actions: list[str] = field(default_factory=list)
    journeys: list[dict[str, str]] = field(default_factory=list)
    active_form: str | None = None  # the journey still open after the turn

    @property
    def fallback(self) -> bool:
        return self.intent == FALLBACK_INTENT

    @property
    def journey_cancelled(self) -> bool:
        return any(journey["outcome"] == CANCELLED for journey in self.journeys)

    def as_dict(self, message_id: int) -> dict[str, Any]:
        """The summary as JSON, as Rasa's channel answers it for the message ``message_id``."""
        return {
            "message": message_id,
            "intent": self.intent,
            "predicted_intent": self.predicted_intent,
            "confidence": self.confidence,
            "actions": list(self.actions),
            "journeys": [dict(journey) for journey in self.journeys],
            "active_form": self.active_form,
        }

    @classmethod
    def from_dict(cls, raw: Any, message_id: int) -> TurnRecord | None:
        """A summary read from the wire, or None unless it is well formed and of the message
        ``message_id``."""
        if not isinstance(raw, dict) or raw.get("message") != message_id:
            return None
        confidence = raw.get("confidence")
        actions, journeys = raw.get("actions"), raw.get("journeys")
        if not (
            all(_optional_name(raw.get(key)) for key in ("intent", "predicted_intent", "active_form"))
            and (confidence is None or _number(confidence))
            and isinstance(actions, list) and all(_name_ok(action) for action in actions)
            and isinstance(journeys, list) and all(_journey_ok(journey) for journey in journeys)
        ):
            return None
        return cls(
            intent=raw.get("intent"),
            predicted_intent=raw.get("predicted_intent"),
            confidence=float(confidence) if confidence is not None else None,
            actions=list(actions),
            journeys=[{"form": j["form"], "outcome": j["outcome"]} for j in journeys],
            active_form=raw.get("active_form"),
        )


def turn_metadata(message_id: int) -> dict[str, dict[str, int]]:
    """The marker the gateway adds to a relayed message's Rasa metadata."""
    return {TURN_METADATA_KEY: {"message": message_id}}


def marked_message(metadata: Any) -> int | None:
    """The gateway's message id in a message's metadata (``turn_metadata``), or None."""
    marker = metadata.get(TURN_METADATA_KEY) if isinstance(metadata, Mapping) else None
    message = marker.get("message") if isinstance(marker, Mapping) else None
    return message if isinstance(message, int) and not isinstance(message, bool) else None


def turn_of(events: Any, message_id: int) -> TurnRecord | None:
    """The turn of the visitor message ``message_id`` in a conversation's events (Rasa's
    event dicts, oldest first); None if absent. Of the events before the message only
    ``CONTEXT_EVENTS`` are read."""
    if not isinstance(events, Sequence) or isinstance(events, (str, bytes)):
        return None
    events = [event for event in events if isinstance(event, Mapping)]
    start = _user_event_index(events, message_id)
    if start is None:
        return None
    end = next(
        (i for i in range(start + 1, len(events)) if events[i].get("event") == "user"),
        len(events),
    )
    intent, predicted, confidence = _understood(events[start].get("parse_data"))
    actions, journeys, active_form = _what_ran(events[:start], events[start + 1 : end])
    return TurnRecord(intent, predicted, confidence, actions, journeys, active_form)


def _user_event_index(events: list[Mapping[str, Any]], message_id: int) -> int | None:
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") == "user" and marked_message(event.get("metadata")) == message_id:
            return index
    return None


def _understood(parse_data: Any) -> tuple[str | None, str | None, float | None]:
    if not isinstance(parse_data, Mapping):
        return None, None, None
    intent = _name(parse_data.get("intent"))
    ranking = [
        item for item in parse_data.get("intent_ranking") or []
        if isinstance(item, Mapping) and _name(item) and _name(item) != FALLBACK_INTENT
    ]
    best = ranking[0] if ranking else (
        parse_data.get("intent") if intent != FALLBACK_INTENT else None
    )
    confidence = best.get("confidence") if isinstance(best, Mapping) else None
    if not _number(confidence):
        confidence = None
    return intent, _name(best), float(confidence) if confidence is not None else None


def _name(item: Any) -> str | None:
    name = item.get("name") if isinstance(item, Mapping) else None
    return name[:MAX_NAME_LENGTH] if isinstance(name, str) and name else None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _name_ok(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _optional_name(value: Any) -> bool:
    return value is None or _name_ok(value)


def _journey_ok(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and _name_ok(value.get("form"))
        and value.get("outcome") in OUTCOMES
    )


def _what_ran(
    before: list[Mapping[str, Any]], turn: list[Mapping[str, Any]]
) -> tuple[list[str], list[dict[str, str]], str | None]:
    """Actions in the turn, journeys started/ended in it and the form open after it."""
    loop = _loop_after(before)
    actions: list[str] = []
    journeys: list[dict[str, str]] = []
    running: str | None = None  # the action whose events follow
    for event in turn:
        kind = event.get("event")
        if kind == "action":
            running = event.get("name") if isinstance(event.get("name"), str) else None
            if running and running != LISTEN:
                actions.append(running)
        elif kind == "active_loop":
            name = event.get("name") if isinstance(event.get("name"), str) else None
            if name and name != loop and name.endswith(FORM_SUFFIX):
                journeys.append({"form": name, "outcome": STARTED})
            elif name is None and loop and loop.endswith(FORM_SUFFIX):
                outcome = COMPLETED if running == loop else CANCELLED
                journeys.append({"form": loop, "outcome": outcome})
            loop = name
        elif kind in RESETS:
            loop = None
    active = loop if loop and loop.endswith(FORM_SUFFIX) else None
    return actions, journeys, active


def _loop_after(events: list[Mapping[str, Any]]) -> str | None:
    loop = None
    for event in events:
        if event.get("event") == "active_loop":
            loop = event.get("name") if isinstance(event.get("name"), str) else None
        elif event.get("event") in RESETS:
            loop = None
    return loop
