"""Rasa's socket.io channel protocol, spoken by the gateway (python-socketio, Sanic mode).

Stock Rasa web widgets work against it unchanged:

- client ``session_request`` ``{"session_id": <id or null>}`` → server ``session_confirm``
  ``<id>``. An id the gateway did not sign is replaced by a new one (widgets store the id
  they are given). The socket joins the conversation's room.
- client ``user_uttered`` ``{"message": "...", "session_id": "<id>"}`` → the replies come as
  ``bot_uttered`` to every socket of the conversation, in Rasa's shapes (``text``,
  ``quick_replies``, ``attachment``, custom payloads). ``customData`` (Rasa's metadata) is
  ignored: a visitor cannot set what Rasa receives as metadata.

Our widget uses the same events plus a few extra ones that stock clients never ask for or
simply ignore:

- ``session_request`` may add ``"history_after": <seq>``: the server then sends
  ``pomocnik_history`` ``{"session_id", "messages": [...]}`` (the stored messages after
  that seq).
- ``user_uttered`` may add ``"cid"`` (a client message id: a re-send after a reconnect is
  recognised and not stored or relayed twice) and ``"title"`` (a quick reply's label). The
  event's acknowledgement is ``{"ok": true, "seq": n, "duplicate": bool}`` or
  ``{"ok": false, "error": {"code", "message", "retry_after"?}}``.
- ``pomocnik_message`` (every stored message, visitor ones included, with ``seq``,
  ``author``, ``at``…) and ``pomocnik_status`` (``{"seq", "cid", "status", "error"?}``, a
  visitor message answered or failed) go to the conversation's room, and ``pomocnik_queue``
  ``{"position"}`` while the visitor waits for an adviser.
- ``session_request`` may add ``"session_token"``: the token the platform's backend issued
  when the visitor signed in. The gateway verifies it with the backend and answers
  ``pomocnik_identity`` ``{"verified": true, "name"}`` (or ``{"verified": false}``); the
  verified account then goes to Rasa as message metadata, so the assistant skips the e-mail
  code. The token stays in this connection's memory only.

Advisers' consoles connect to the namespace ``/agent`` (bot/gateway/console): they get
``desk_changed`` in room ``desk`` and ``conversation_message`` ``{"conversation_id",
"message"}`` in room ``agent-conv:<id>`` of the conversation they watch.

Refusals (limits, length) reach stock clients as a ``bot_uttered`` notice to that socket only.
Packets are decoded with ``jsonsafe.GuardedPacket``: data nested deeper than 32 levels, or
holding NUL or a lone surrogate, is refused with an error acknowledgement (``invalid_json`` /
``invalid_characters``) instead of being dropped without an answer.

Every message relayed to Rasa carries ``{"pomocnik_client": {"network": "<IPv4 /24 or IPv6
/56>"}}`` in its metadata (``clients.client_metadata``), besides a signed-in visitor's
``pomocnik_identity``.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import socketio

from bot.gateway.backend_client import BackendClient, BackendUnavailable, VerifiedAccount
from bot.gateway.chat import ChatService, Rejected
from bot.gateway.clients import client_address, client_metadata
from bot.gateway.conversations import ConversationStore, log_prefix, room_for
from bot.gateway.desk import DESK_ROOM
from bot.gateway.errors import MAX_BODY_BYTES
from bot.gateway.jsonsafe import GuardedPacket, Refused
from bot.gateway.messages import to_socketio_payloads
from bot.gateway.settings import Settings

logger = logging.getLogger("pomocnik.gateway")

SOCKET_PATH = "socket.io"
AGENT_NAMESPACE = "/agent"
# A grant about to expire is renewed (with the same platform session) before a message.
GRANT_RENEW_MARGIN = timedelta(seconds=60)


def agent_room(conversation_id: int) -> str:
    return f"agent-conv:{conversation_id}"


class SocketChannel:
    def __init__(
        self,
        settings: Settings,
        conversations: ConversationStore,
        service: ChatService,
        backend: BackendClient | None = None,
    ) -> None:
        self._conversations = conversations
        self._service = service
        self._backend = backend
        self._allowed_origins = set(settings.allowed_origins)
        self.sio = socketio.AsyncServer(
            async_mode="sanic",
            cors_allowed_origins=self._origin_allowed if self._allowed_origins else None,
            max_http_buffer_size=MAX_BODY_BYTES,
            serializer=GuardedPacket,
            logger=False,
            engineio_logger=False,
        )
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("session_request", self._session_request)
        self.sio.on("user_uttered", self._user_uttered)

    def attach(self, app) -> None:
        self.sio.attach(app, socketio_path=SOCKET_PATH)

    # ------------------------------------------------------------------ fan-out delivery

    async def deliver(self, event: dict[str, Any]) -> None:
        """Hand one fan-out event to this process's sockets: the visitor's room, and the
        consoles watching that conversation or the queue."""
        room = event.get("room")
        if not isinstance(room, str):
            return
        kind = event.get("type")
        if kind == "desk":
            await self.sio.emit("desk_changed", {}, room=DESK_ROOM, namespace=AGENT_NAMESPACE)
        elif kind == "message":
            message = event["message"]
            await self.sio.emit("pomocnik_message", message, room=room)
            if message.get("author") != "visitor":
                for payload in to_socketio_payloads(message):
                    await self.sio.emit("bot_uttered", payload, room=room)
            if isinstance(event.get("conversation_id"), int):
                await self.sio.emit(
                    "conversation_message",
                    {"conversation_id": event["conversation_id"], "message": message},
                    room=agent_room(event["conversation_id"]),
                    namespace=AGENT_NAMESPACE,
                )
        elif kind == "queue":
            await self.sio.emit("pomocnik_queue", {"position": event.get("position")}, room=room)
        elif kind == "status":
            status = {key: event.get(key) for key in ("seq", "cid", "status")}
            if event.get("error"):
                status["error"] = event["error"]
            await self.sio.emit("pomocnik_status", status, room=room)
            if event.get("error"):
                await self.sio.emit("bot_uttered", {"text": event["error"]["message"]}, room=room)

    # ------------------------------------------------------------------ events

    def _origin_allowed(self, origin: str | None, environ: dict) -> bool:
        if origin in self._allowed_origins:
            return True
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin == own

    async def _connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        address = client_address(environ.get("sanic.request"))
        await self.sio.save_session(sid, {"address": address, "session_id": None})

    async def _disconnect(self, sid: str, *args: Any) -> None:
        session = await self.sio.get_session(sid)
        logger.info("socket closed conv=%s", log_prefix(session.get("session_id")))

    async def _session_request(self, sid: str, data: Any = None) -> None:
        if isinstance(data, Refused):
            logger.info("socket session request refused reason=%s", data.code)
            return
        data = data if isinstance(data, dict) else {}
        requested = data.get("session_id")
        if isinstance(requested, str) and await self._conversations.exists(requested):
            session_id = requested
        else:
            session_id = await self._conversations.start()
        await self._join(sid, session_id)
        await self.sio.emit("session_confirm", session_id, to=sid)
        if "session_token" in data:
            await self._sign_in(sid, session_id, data["session_token"])
        after = data.get("history_after")
        if isinstance(after, int) and not isinstance(after, bool) and after >= 0:
            # The room was joined first: anything stored from now on arrives live, so the
            # client (which de-duplicates by seq) misses nothing between the two.
            messages = await self._service.history(session_id, after)
            await self.sio.emit(
                "pomocnik_history",
                {"session_id": session_id, "messages": [m.wire() for m in messages]},
                to=sid,
            )
        logger.info("socket session conv=%s", log_prefix(session_id))

    async def _user_uttered(self, sid: str, data: Any = None) -> dict[str, Any]:
        if isinstance(data, Refused):
            return await self._refuse(sid, Rejected(400, data.code))
        data = data if isinstance(data, dict) else {}
        session = await self.sio.get_session(sid)
        session_id = data.get("session_id")
        if not (isinstance(session_id, str) and await self._conversations.exists(session_id)):
            session_id = session.get("session_id")
        if session_id is None:
            return await self._refuse(sid, Rejected(404, "conversation_not_found"))
        if session_id != session.get("session_id"):
            await self._join(sid, session_id)
        try:
            submitted = await self._service.submit(
                session_id,
                data.get("message"),
                address=session["address"],
                client_message_id=data.get("cid"),
                title=data.get("title"),
            )
        except Rejected as rejected:
            return await self._refuse(sid, rejected)
        if submitted.relay:
            metadata = {
                **client_metadata(session["address"]),
                **await self._identity_metadata(sid, session),
            }
            self._service.relay_in_background(session_id, submitted, data["message"], metadata)
        logger.info(
            "socket message conv=%s seq=%s%s",
            log_prefix(session_id),
            submitted.message.seq,
            " duplicate" if not submitted.relay else "",
        )
        return {"ok": True, "seq": submitted.message.seq, "duplicate": submitted.accepted.duplicate}

    async def _sign_in(self, sid: str, session_id: str, token: Any) -> None:
        """Verify the platform session the page handed the widget; remember it on this
        connection only (never stored, never logged)."""
        account = await self._verify(token)
        async with self.sio.session(sid) as session:
            session["platform_token"] = token if account else None
            session["account"] = account
        if account is None:
            await self.sio.emit("pomocnik_identity", {"verified": False}, to=sid)
            return
        conversation_id = await self._service.transcript.conversation_id(session_id)
        await self._service.desk.record_identity(
            conversation_id, account.email, account.name, account.organisation
        )
        # "Zalogowano jako …": the e-mail for an account that has no name
        shown = account.name or account.email
        await self.sio.emit("pomocnik_identity", {"verified": True, "name": shown}, to=sid)
        logger.info("socket signed in conv=%s", log_prefix(session_id))

    async def _verify(self, token: Any) -> VerifiedAccount | None:
        if self._backend is None or not isinstance(token, str):
            return None
        try:
            return await self._backend.verify_session(token)
        except BackendUnavailable as exc:
            logger.warning("verifying a platform session failed reason=%s", exc)
            return None

    async def _identity_metadata(self, sid: str, session: dict[str, Any]) -> dict[str, Any]:
        """Rasa metadata for a signed-in visitor (a grant renewed when close to expiry).

        ``session`` is the socket's session read before the message was stored: the socket
        may close meanwhile, and the stored message must still be relayed."""
        account: VerifiedAccount | None = session.get("account")
        if account is None:
            return {}
        if account.grant_expires_at - GRANT_RENEW_MARGIN <= datetime.now(timezone.utc):
            account = await self._verify(session.get("platform_token"))
            with contextlib.suppress(KeyError):  # the socket closed meanwhile
                async with self.sio.session(sid) as stored:
                    stored["account"] = account
                    if account is None:
                        stored["platform_token"] = None
        return account.metadata() if account else {}

    async def _join(self, sid: str, session_id: str) -> None:
        async with self.sio.session(sid) as session:
            previous = session.get("session_id")
            if previous and previous != session_id:
                await self.sio.leave_room(sid, room_for(previous))
            session["session_id"] = session_id
        await self.sio.enter_room(sid, room_for(session_id))

    async def _refuse(self, sid: str, rejected: Rejected) -> dict[str, Any]:
        # Stock widgets show only bot_uttered; ours reads the acknowledgement instead.
        await self.sio.emit("bot_uttered", {"text": rejected.message}, to=sid)
        return {"ok": False, "error": rejected.as_dict()}


__all__ = ["SOCKET_PATH", "SocketChannel"]
