"""JSON from visitors, parsed with limits: bounded nesting, no NUL, no lone surrogates.

``json.loads`` accepts ``"\\ud800"`` (a lone UTF-16 surrogate, which no UTF-8 database column,
log or reply can hold) and raises ``RecursionError`` on a few thousand nested brackets, which
fit in far less than the 16 KiB a request may carry. Both became 500s; here they become a
stable error code: ``invalid_json`` (nested deeper than ``MAX_DEPTH``) or
``invalid_characters`` (NUL or a lone surrogate anywhere, keys included).

Used by every JSON endpoint (``api.read_json_object``) and by the socket.io channel, whose
packets are decoded with ``GuardedPacket`` (see ``socket_channel``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import socketio

MAX_DEPTH = 32


class UnsafeJson(ValueError):
    """Valid JSON the gateway refuses; ``code`` is in ``errors.MESSAGES``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def loads(raw: str | bytes) -> Any:
    """``json.loads`` within the limits; raises ``UnsafeJson``, or ``ValueError`` /
    ``UnicodeDecodeError`` for what is not JSON at all."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise UnsafeJson("invalid_json") from None
    problem = problem_of(value)
    if problem is not None:
        raise UnsafeJson(problem)
    return value


def problem_of(value: Any) -> str | None:
    """The error code for a parsed value (walked without recursion), or None when it is fine.

    Depth counts containers: ``{"text": "x"}`` is 1 deep, ``{"a": [1]}`` 2 deep."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not _clean(item):
                return "invalid_characters"
        elif isinstance(item, dict):
            if depth + 1 > MAX_DEPTH:
                return "invalid_json"
            for key, child in item.items():
                if not _clean(key):
                    return "invalid_characters"
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth + 1 > MAX_DEPTH:
                return "invalid_json"
            stack.extend((child, depth + 1) for child in item)
    return None


def _clean(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")  # a surrogate left after decoding is a lone one
    except UnicodeEncodeError:
        return False
    return True


class Refused:
    """What a socket.io event handler receives instead of data the gateway refuses."""

    __slots__ = ("code",)

    def __init__(self, code: str) -> None:
        self.code = code

    def __repr__(self) -> str:
        return f"Refused({self.code!r})"


_EVENT_NAME = re.compile(r'\s*\[\s*"((?:[^"\\]|\\.){1,100})"')


class _GuardedJson:
    """The ``json`` python-socketio decodes packets with: a refused event still reaches its
    handler, as ``[event, Refused(code)]``, so the handler can acknowledge it with an error
    (a stock decoder would raise and the client would never hear back)."""

    @staticmethod
    def dumps(*args: Any, **kwargs: Any) -> str:
        return json.dumps(*args, **kwargs)

    @staticmethod
    def loads(raw: str | bytes, *args: Any, **kwargs: Any) -> Any:
        try:
            return loads(raw)
        except UnsafeJson as refused:
            return [_event_name(raw), Refused(refused.code)]


def _event_name(raw: str | bytes) -> str:
    """The event's name, read from the packet's text (its data may not parse at all)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    match = _EVENT_NAME.match(text)
    if match is None:
        return ""
    try:
        name = json.loads(f'"{match.group(1)}"')
    except ValueError:
        return ""
    return name if isinstance(name, str) and _clean(name) else ""


class GuardedPacket(socketio.packet.Packet):
    """socket.io packets decoded with the limits above (a subclass: the library's own
    ``Packet`` class, shared with every client in the process, stays as it is)."""

    json = _GuardedJson
