"""Reading the tracker Rasa sends to the action server, in one place for every area.

- ``latest_intent`` / ``latest_text``: what the latest user message said.
- ``slot_before_latest_message``: the value a slot had before the latest user message (what a
  mapping of that message may have overwritten).
- ``session_events`` / ``user_messages``: the events, and the visitor's messages, of the
  current conversation session.
- ``previous_answer``: the assistant's messages that answered the message before the latest one.
- ``latest_user_marker``: identifies the latest user message (idempotency keys of an operation
  that message confirmed).
- ``drop_slot_candidates``: removes slot candidates (the SlotSet events at the end of the
  tracker Rasa sends to a form's validator), so rasa_sdk does not validate them.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Text

from rasa_sdk import Tracker

# Events after which no slot keeps its value.
_RESETTING_EVENTS = ("restart", "session_started")


def latest_intent(tracker: Tracker) -> Optional[Text]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    name = intent.get("name") if isinstance(intent, dict) else None
    return name if isinstance(name, str) else None


def latest_text(tracker: Tracker) -> Text:
    text = (tracker.latest_message or {}).get("text")
    return text if isinstance(text, str) else ""


def latest_user_index(events: List[Dict[Text, Any]]) -> Optional[int]:
    """The index of the latest user event, None when the user has not spoken."""
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "user":
            return index
    return None


def slot_before_latest_message(tracker: Tracker, slot: Text) -> Any:
    """The slot's value before the latest user message (all events when there is none)."""
    events = list(tracker.events or [])
    end = latest_user_index(events)
    value: Any = None
    for event in events[: len(events) if end is None else end]:
        kind = event.get("event")
        if kind in _RESETTING_EVENTS:
            value = None
        elif kind == "slot" and event.get("name") == slot:
            value = event.get("value")
    return value


def action_before_latest_message(tracker: Tracker) -> Optional[Text]:
    """The last action (a response included) before the latest user message, listening and slot
    extraction left out; None when there is none since the message before it."""
    seen_user = False
    for event in reversed(tracker.events or []):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return None
            seen_user = True
        elif kind == "action" and seen_user:
            name = event.get("name")
            if name not in ("action_listen", "action_extract_slots"):
                return name if isinstance(name, str) else None
    return None


def previous_answer(tracker: Tracker) -> List[Dict[Text, Any]]:
    """The bot events between the message before the latest user message and the latest one
    (what the assistant answered last time), oldest first; [] when the user spoke only once."""
    answer: List[Dict[Text, Any]] = []
    user_messages_seen = 0
    for event in reversed(tracker.events or []):
        kind = event.get("event")
        if kind == "user":
            user_messages_seen += 1
            if user_messages_seen == 2:
                return answer
        elif kind == "bot" and user_messages_seen == 1:
            answer.insert(0, event)
    return []


def session_events(tracker: Tracker) -> List[Dict[Text, Any]]:
    """The events since the conversation session started (or was restarted), oldest first."""
    events = list(tracker.events or [])
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") in _RESETTING_EVENTS:
            return events[index + 1 :]
    return events


def user_messages(tracker: Tracker) -> List[Dict[Text, Any]]:
    """The visitor's messages (user events) of this conversation session, oldest first."""
    return [
        event
        for event in session_events(tracker)
        if event.get("event") == "user" and isinstance(event.get("text"), str)
    ]


def latest_user_marker(tracker: Tracker) -> Text:
    """Identifies the latest user message: its timestamp and position ("" before any)."""
    events = list(tracker.events or [])
    index = latest_user_index(events)
    if index is None:
        return ""
    return f"{events[index].get('timestamp', '')}:{index}"


def drop_slot_candidates(tracker: Tracker, names: Iterable[Text]) -> None:
    """Removes the slot candidates for `names` from the end of the tracker's events."""
    names = frozenset(names)
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "slot":
            break
        count += 1
    if not count:
        return
    head, tail = tracker.events[:-count], tracker.events[-count:]
    tracker.events[:] = head + [event for event in tail if event.get("name") not in names]
