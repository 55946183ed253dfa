"""Rasa's REST channel and tracker API as an HTTP stub (``StubRasa``).

The webhook answers by the message's text (``replies_by_message``, anything else gets
``reply_body`` with ``reply_status``); ``GET /`` answers ``root_status``. Like the real server's
tracker, every message the stub received becomes a ``user`` event carrying the message's
metadata (the gateway finds its turn by ``pomocnik_turn``), followed by the events of what the
assistant did. What the stub "understood" of a text is ``parse_data`` (Rasa's
shape: ``intent``, ``intent_ranking``); the default is the tracker's ``latest_message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.http_stub import StubRequest, StubService

# A visitor asking for a person, and the assistant's answer with the handoff payload.
HANDOFF_TEXT = "Chcę rozmawiać z konsultantem"
HANDOFF_REPLY = [
    {"recipient_id": "x", "text": "Już łączę z konsultantem."},
    {"recipient_id": "x", "custom": {"handoff": {"requested": True}}},
]


def parse_data(intent: str, confidence: float, *also: tuple[str, float]) -> dict[str, Any]:
    """``parse_data`` of a message classified as ``intent``; a confidence under 0.4 makes it
    Rasa's fallback (``nlu_fallback`` first, the real guess next in the ranking)."""
    ranking = [{"name": intent, "confidence": confidence},
               *({"name": name, "confidence": score} for name, score in also)]
    if confidence < 0.4:
        fallback = {"name": "nlu_fallback", "confidence": 0.4}
        return {"intent": fallback, "intent_ranking": [fallback, *ranking], "entities": []}
    return {"intent": ranking[0], "intent_ranking": ranking, "entities": []}


def tracker_with_events(
    tracker: dict[str, Any],
    messages: list[dict[str, Any]],
    understood: dict[str, dict[str, Any]] | None = None,
    turn_events: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """``tracker`` plus ``events`` for the webhook bodies ``messages`` (one conversation's)."""
    default = tracker.get("latest_message") or {}
    events: list[dict[str, Any]] = [{"event": "action", "name": "action_session_start"},
                                    {"event": "session_started"},
                                    {"event": "action", "name": "action_listen"}]
    for body in messages:
        text = body.get("message")
        events.append({"event": "user", "text": text,
                       "parse_data": (understood or {}).get(text, default),
                       "metadata": body.get("metadata") or {}})
        events.extend((turn_events or {}).get(text, []))
        events.append({"event": "action", "name": "action_listen"})
    return {**tracker, "events": events}


def sender_of(path: str) -> str:
    """The conversation id in ``/conversations/<id>/tracker?…``."""
    return path.split("/")[2].split("?")[0]


@dataclass
class StubRasa(StubService):
    """Stands in for Rasa's REST channel and the tracker of its HTTP API; tests set the reply
    before calling. ``async with StubRasa(...) as rasa`` or ``start()`` / ``stop()``."""

    reply_status: int = 200
    reply_body: Any = field(default_factory=list)
    # Replies for particular message texts (anything else gets reply_body).
    replies_by_message: dict[str, Any] = field(default_factory=dict)
    root_status: int = 200
    # GET /conversations/<id>/tracker answers this (Rasa's shape, trimmed) plus the events.
    tracker: dict[str, Any] = field(default_factory=dict)
    # What the stub "understood" of particular texts, and the events after them; others get
    # the tracker's latest_message and no actions.
    understood: dict[str, Any] = field(default_factory=dict)
    turn_events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def webhook_requests(self) -> list[StubRequest]:
        return [r for r in self.requests if r.path == "/webhooks/rest/webhook"]

    @property
    def delay_seconds(self) -> float:
        return self.http.delay_seconds

    @delay_seconds.setter
    def delay_seconds(self, seconds: float) -> None:
        self.http.delay_seconds = seconds

    def respond(self, request: StubRequest) -> tuple[int, Any]:
        if request.path == "/":
            return self.root_status, b"Hello from Rasa: 3.6.21"
        if request.method == "GET" and request.path.startswith("/conversations/"):
            sender = sender_of(request.path)
            sent = [r.json() for r in self.webhook_requests if r.json().get("sender") == sender]
            return 200, tracker_with_events(self.tracker, sent, self.understood, self.turn_events)
        message = (request.json() or {}).get("message")
        if message in self.replies_by_message:
            return 200, self.replies_by_message[message]
        return self.reply_status, self.reply_body
