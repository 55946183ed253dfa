"""What the assistant did with one visitor message, read from Rasa's tracker.

The gateway marks every message it relays with ``{"pomocnik_turn": {"message": <row id>}}``
in the Rasa metadata; Rasa keeps message metadata on the ``user`` event, so the turn of that
message is found exactly even when the visitor wrote again meanwhile. A turn is the ``user``
event and every event after it up to the next ``user`` event.

Journeys are forms (``*_form`` loops). One ends ``completed`` when the form's own action closed
it (it filled every slot) and ``cancelled`` when another action did (``action_deactivate_loop``,
``action_cancel_company_form``, …). The two-stage fallback is a loop too, but not a journey.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TURN_METADATA_KEY = "pomocnik_turn"
FALLBACK_INTENT = "nlu_fallback"
LISTEN = "action_listen"
FORM_SUFFIX = "_form"
STARTED, COMPLETED, CANCELLED = "started", "completed", "cancelled"
RESETS = ("restart", "session_started")  # events after which no loop is active


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


def turn_metadata(message_id: int) -> dict[str, dict[str, int]]:
    """The marker the gateway adds to a relayed message's Rasa metadata."""
    return {TURN_METADATA_KEY: {"message": message_id}}


def turn_of(tracker: Any, message_id: int) -> TurnRecord | None:
    """The turn of the visitor message ``message_id`` in a tracker with its events (Rasa's
    ``GET /conversations/<id>/tracker?include_events=AFTER_RESTART``); None if absent."""
    events = tracker.get("events") if isinstance(tracker, dict) else None
    if not isinstance(events, list):
        return None
    events = [event for event in events if isinstance(event, dict)]
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


def _user_event_index(events: list[dict[str, Any]], message_id: int) -> int | None:
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") != "user":
            continue
        marker = (event.get("metadata") or {}).get(TURN_METADATA_KEY)
        if isinstance(marker, dict) and marker.get("message") == message_id:
            return index
    return None


def _understood(parse_data: Any) -> tuple[str | None, str | None, float | None]:
    if not isinstance(parse_data, dict):
        return None, None, None
    intent = _name(parse_data.get("intent"))
    ranking = [
        item for item in parse_data.get("intent_ranking") or []
        if isinstance(item, dict) and _name(item) and _name(item) != FALLBACK_INTENT
    ]
    best = ranking[0] if ranking else (
        parse_data.get("intent") if intent != FALLBACK_INTENT else None
    )
    confidence = best.get("confidence") if isinstance(best, dict) else None
    if not isinstance(confidence, (int, float)) or isinstance(confidence, bool):
        confidence = None
    return intent, _name(best), float(confidence) if confidence is not None else None


def _name(item: Any) -> str | None:
    name = item.get("name") if isinstance(item, dict) else None
    return name[:64] if isinstance(name, str) and name else None


def _what_ran(
    before: list[dict[str, Any]], turn: list[dict[str, Any]]
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


def _loop_after(events: list[dict[str, Any]]) -> str | None:
    loop = None
    for event in events:
        if event.get("event") == "active_loop":
            loop = event.get("name") if isinstance(event.get("name"), str) else None
        elif event.get("event") in RESETS:
            loop = None
    return loop
