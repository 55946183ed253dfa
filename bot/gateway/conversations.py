"""Conversation ids: server-generated, unguessable and verifiable without state.

An id is ``<random token>.<truncated HMAC-SHA256 of the token>``, so any gateway
process sharing GATEWAY_SECRET can verify it without a lookup, and forged ids are
refused before they reach the database. The id is the visitor's only credential
(the widget keeps it; it is the socket.io ``session_id`` and Rasa's sender id);
the conversation's row and transcript are created in the gateway's database with
its first message (``transcript.Transcript``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Protocol

TOKEN_BYTES = 18  # 24 base64url characters, 144 bits of randomness
MAC_BYTES = 16  # 22 base64url characters, 128-bit tag
# Domain separation: the same secret may later sign other things.
_MAC_CONTEXT = b"pomocnik.conversation.v1:"
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{22}")


class ConversationStore(Protocol):
    async def start(self) -> str:
        """Create a conversation and return its id."""

    async def exists(self, conversation_id: str) -> bool:
        """Tell whether the id belongs to a conversation this service created."""


class SignedConversations:
    """Stateless store: a conversation exists if its id carries a valid signature."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode("utf-8")

    async def start(self) -> str:
        return self.new_id()

    async def exists(self, conversation_id: str) -> bool:
        return self.is_valid(conversation_id)

    def new_id(self) -> str:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        return f"{token}.{self._sign(token)}"

    def is_valid(self, conversation_id: str) -> bool:
        if not isinstance(conversation_id, str) or not _ID_PATTERN.fullmatch(conversation_id):
            return False
        token, mac = conversation_id.split(".")
        return hmac.compare_digest(mac, self._sign(token))

    def _sign(self, token: str) -> str:
        digest = hmac.new(self._key, _MAC_CONTEXT + token.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:MAC_BYTES]).rstrip(b"=").decode("ascii")


def log_prefix(conversation_id: str | None) -> str:
    """Short, non-identifying prefix for logs (the full id acts as a bearer token)."""
    return (conversation_id or "-")[:6]


def room_for(session_id: str) -> str:
    """The socket room (and fan-out address) of a conversation; not the bearer id itself."""
    return "conv:" + hashlib.sha256(b"pomocnik.room:" + session_id.encode()).hexdigest()[:32]
