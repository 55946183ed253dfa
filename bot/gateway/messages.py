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


# ------------------------------------------------------------------ the input-mode flag

SECRET_INPUT = "secret"


def asks_for_secret(messages: list[dict[str, Any]]) -> bool:
    """True when one of the assistant's messages carries ``custom: {"input": "secret"}``.

    That is the contract with the domain: a response that asks for a PIN or a verification
    code adds ``custom: {input: secret}``. The visitor's next message is then stored and
    shown masked, and the widget switches to a masked input field.
    """
    return any(
        isinstance(message.get("custom"), dict) and message["custom"].get("input") == SECRET_INPUT
        for message in messages
    )


# ------------------------------------------------------------------ Rasa's socket.io format


def to_socketio_payloads(message: dict[str, Any]) -> list[dict[str, Any]]:
    """One message as the ``bot_uttered`` payloads Rasa's own socket.io channel would emit.

    Stock Rasa web widgets understand exactly these shapes: text paragraphs (split at blank
    lines, the buttons as ``quick_replies`` of the last one), an image attachment, and a
    custom payload passed through as it is.
    """
    payloads: list[dict[str, Any]] = []
    text = message.get("text") or ""
    buttons = message.get("buttons") or []
    if text or buttons:
        parts = [part for part in text.strip().split("\n\n") if part] or [text]
        payloads.extend({"text": part} for part in parts)
        if buttons:
            payloads[-1]["quick_replies"] = [
                {"content_type": "text", "title": b["title"], "payload": b["payload"]}
                for b in buttons
            ]
    if message.get("image"):
        payloads.append({"attachment": {"type": "image", "payload": {"src": message["image"]}}})
    if isinstance(message.get("custom"), dict):
        payloads.append(dict(message["custom"]))
    return payloads
