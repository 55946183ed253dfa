"""Normalise Rasa REST-channel replies into the gateway's message format.

Rasa answers with a list such as
``[{"recipient_id": "...", "text": "...", "buttons": [{"title": "...", "payload": "..."}]}]``.
The widget gets ``{"text": str, "buttons": [{"title": str, "payload": str}]}`` per
message, plus ``image`` (http(s) URL) and ``custom`` (object) when Rasa sent them.
Anything else (recipient_id, unknown keys, malformed items) is dropped.
"""

from __future__ import annotations

from typing import Any


def normalise_bot_messages(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        return []
    messages = (_normalise_message(item) for item in raw if isinstance(item, dict))
    return [message for message in messages if message is not None]


def _normalise_message(item: dict[str, Any]) -> dict[str, Any] | None:
    text = item.get("text") if isinstance(item.get("text"), str) else ""
    message: dict[str, Any] = {"text": text, "buttons": _normalise_buttons(item.get("buttons"))}
    image = item.get("image")
    if isinstance(image, str) and image.startswith(("https://", "http://")):
        message["image"] = image
    if isinstance(item.get("custom"), dict):
        message["custom"] = item["custom"]
    has_content = text or message["buttons"] or "image" in message or "custom" in message
    return message if has_content else None


def _normalise_buttons(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        return []
    buttons = []
    for button in raw:
        if not isinstance(button, dict) or not isinstance(button.get("title"), str):
            continue
        title = button["title"].strip()
        payload = button.get("payload")
        if not title:
            continue
        # A button without a payload sends its title, as Rasa's own channels do.
        buttons.append({"title": title, "payload": payload if isinstance(payload, str) else title})
    return buttons
