"""Rasa's tracker as its HTTP API returns it, for the HTTP stubs of Rasa.

Like the real server, every message the stub received becomes a ``user`` event carrying the
message's metadata (the gateway finds its turn by ``pomocnik_turn``), followed by the events
of what the assistant did. What the stub "understood" of a text is ``parse_data`` (Rasa's
shape: ``intent``, ``intent_ranking``); the default is the tracker's ``latest_message``.
"""

from __future__ import annotations

from typing import Any


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
