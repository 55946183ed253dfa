"""Test helpers: the service token and builders of real rasa_sdk Trackers shaped like the
ones Rasa sends to the action server."""

from __future__ import annotations

import itertools
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker

SERVICE_TOKEN = "test-service-token"
DOMAIN_SLOTS = ("email", "last_reset_email", "password_reset_status", "requested_slot")


_REQUESTERS = itertools.count(1)


def fresh_requester() -> Dict[str, str]:
    """A conversation and client network of their own, so the backend's per-conversation and
    per-network limits on code requests never carry over from one test's request to another's."""
    n = next(_REQUESTERS)
    network = f"10.{n // 256 % 256}.{n % 256}.0/24"
    return {"conversation": f"test-conversation-{n}", "network": network}


def user_event(text: str, intent: str, entities: Optional[List[Dict[str, Any]]] = None) -> Dict:
    return {
        "event": "user",
        "text": text,
        "parse_data": {
            "text": text,
            "intent": {"name": intent, "confidence": 0.99},
            "entities": entities or [],
        },
    }


def slot_event(name: str, value: Any) -> Dict:
    return {"event": "slot", "name": name, "value": value}


def make_tracker(
    *,
    slots: Optional[Dict[str, Any]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[str] = None,
    latest_action_name: str = "action_listen",
    sender_id: str = "test-user",
) -> Tracker:
    all_slots: Dict[str, Any] = {name: None for name in DOMAIN_SLOTS}
    all_slots.update(slots or {})
    events = events or []
    latest_message = next(
        (event["parse_data"] for event in reversed(events) if event["event"] == "user"), {}
    )
    return Tracker(
        sender_id=sender_id,
        slots=all_slots,
        latest_message=latest_message,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name=latest_action_name,
    )


def form_answer_tracker(text: str, extracted: Any, *, intent: str = "inform") -> Tracker:
    """The tracker Rasa sends to `validate_reset_password_form` after the user answered
    the e-mail question and `action_extract_slots` set `email` to `extracted`."""
    return make_tracker(
        slots={"email": extracted, "requested_slot": "email"},
        events=[
            {"event": "action", "name": "reset_password_form"},
            {"event": "active_loop", "name": "reset_password_form"},
            slot_event("requested_slot", "email"),
            {"event": "action", "name": "action_listen"},
            user_event(text, intent),
            slot_event("email", extracted),
        ],
        active_loop="reset_password_form",
    )


def submitted_form_tracker(email: Optional[str]) -> Tracker:
    """The tracker when `action_request_password_reset` runs after the form completed."""
    return make_tracker(
        slots={"email": email},
        events=[
            {"event": "action", "name": "reset_password_form"},
            slot_event("email", email),
            slot_event("requested_slot", None),
            {"event": "active_loop", "name": None},
        ],
        latest_action_name="reset_password_form",
    )
