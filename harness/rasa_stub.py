"""Rasa's gateway channel (``bot/rasa_ext/channel.py``) and tracker API as an HTTP stub
(``StubRasa``).

The webhook (``POST /webhooks/pomocnik/webhook``) answers by the message's text
(``replies_by_message``, anything else gets ``reply_body`` with ``reply_status``): a list of bot
messages is answered as the channel does, ``{"messages": [...], "turn": <summary>}``, anything
else as it is (to play a broken Rasa); ``GET /`` answers ``root_status``. Like the real server's
tracker, every message the stub received becomes a ``user`` event carrying the message's
metadata, followed by the events of what the assistant did; the ``turn`` of a message marked
``pomocnik_turn`` is ``bot.understanding.turn_of`` of those events, as the channel computes it
(``turn_summaries = False``: ``turn`` is null, as when Rasa could not summarise). What the stub
"understood" of a text is ``parse_data`` (Rasa's shape: ``intent``, ``intent_ranking``); the
default is the tracker's ``latest_message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.understanding import marked_message, turn_of
from harness.http_stub import StubRequest, StubService

WEBHOOK = "/webhooks/pomocnik/webhook"

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
    """Stands in for Rasa's gateway channel and the tracker of its HTTP API; tests set the reply
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
    # False: the webhook answers ``"turn": null`` (the summary failed, or an older channel).
    turn_summaries: bool = True

    @property
    def webhook_requests(self) -> list[StubRequest]:
        return [r for r in self.requests if r.path == WEBHOOK]

    @property
    def tracker_requests(self) -> list[StubRequest]:
        """Reads of a conversation's tracker (``GET /conversations/<id>/tracker``)."""
        return [r for r in self.requests if r.path.startswith("/conversations/")]

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
            return 200, self._tracker_of(sender_of(request.path))
        body = request.json() or {}
        message = body.get("message")
        if message in self.replies_by_message:
            status, reply = 200, self.replies_by_message[message]
        else:
            status, reply = self.reply_status, self.reply_body
        if request.path != WEBHOOK or status != 200 or not isinstance(reply, list):
            return status, reply
        return 200, {"messages": reply, "turn": self._turn(body)}

    def _tracker_of(self, sender: Any) -> dict[str, Any]:
        sent = [r.json() for r in self.webhook_requests if r.json().get("sender") == sender]
        return tracker_with_events(self.tracker, sent, self.understood, self.turn_events)

    def _turn(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The channel's summary of this message's turn (the request is already recorded)."""
        message_id = marked_message(body.get("metadata"))
        if not self.turn_summaries or message_id is None:
            return None
        events = self._tracker_of(body.get("sender"))["events"]
        turn = turn_of(events, message_id)
        return turn.as_dict(message_id) if turn is not None else None
