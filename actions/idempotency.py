"""Idempotency keys for the backend operations a confirmed form performs."""

from __future__ import annotations

import hashlib
from typing import Any, Text

from rasa_sdk import Tracker


def idempotency_key(tracker: Tracker, journey: Text, *values: Any) -> Text:
    """Stable for a retry of the same action run (same conversation, same confirming message,
    same values), different for a new request later in the conversation."""
    stamp = next(
        (
            event.get("timestamp")
            for event in reversed(tracker.events)
            if event.get("event") == "user"
        ),
        None,
    )
    raw = "\x1f".join([tracker.sender_id, journey, str(stamp), *(str(value) for value in values)])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
