"""Idempotency keys for the backend operations a confirmed form performs (the backend answers a
retry with the same key from the first answer, `Idempotency-Key`)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Text

from rasa_sdk import Tracker

from actions.tracker import latest_user_marker


def idempotency_key(tracker: Tracker, operation: Text, *values: Any) -> Text:
    """Stable for a retry of the same action run (same conversation, same confirming message,
    same values), different for a new request later in the conversation.

    Never pass a secret (PIN, code, password) among `values`: the backend stores the key, and a
    fast hash of a 4-digit PIN next to known values is reversed by trying 10 000 PINs.
    """
    material = json.dumps(
        [tracker.sender_id, operation, latest_user_marker(tracker), list(values)],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()
