"""The console's live channel: socket.io namespace ``/agent``.

The session cookie authenticates the connection (no cookie or a dead session: refused). A
console enters room ``desk`` (``desk_changed`` whenever the queue or a conversation's
handling changes) and, on ``watch`` ``{"conversation_id"}``, the room of that one
conversation (``conversation_message`` for each stored message), leaving the previous one.
The gateway's fan-out emits both events (``SocketChannel.deliver``).

The cookie's path is ``/agent``, so browsers send it only to the console's own engine.io
endpoint, ``/agent/socket.io/`` (the same server as the widget's ``/socket.io/``).
"""

from __future__ import annotations

import logging
from http.cookies import CookieError, SimpleCookie
from typing import Any

import socketio

from bot.gateway.console.auth import COOKIE, ConsoleAuth
from bot.gateway.desk import DESK_ROOM
from bot.gateway.socket_channel import AGENT_NAMESPACE, agent_room

logger = logging.getLogger("pomocnik.gateway")

ENGINEIO_PATH = "/agent/socket.io/"


class AgentNamespace(socketio.AsyncNamespace):
    def __init__(self, auth: ConsoleAuth) -> None:
        super().__init__(AGENT_NAMESPACE)
        self._auth = auth

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        token = session_cookie(environ)
        signed_in = await self._auth.authenticate(token)
        if signed_in is None:
            raise socketio.exceptions.ConnectionRefusedError("agent_unauthorized")
        await self.save_session(sid, {"token": token, "agent_id": signed_in.agent.id,
                                      "watching": None})
        await self.enter_room(sid, DESK_ROOM)
        logger.info("console connected agent=%s", signed_in.agent.id)

    async def on_watch(self, sid: str, data: Any = None) -> dict[str, Any]:
        conversation_id = data.get("conversation_id") if isinstance(data, dict) else None
        if isinstance(conversation_id, bool) or not isinstance(conversation_id, int):
            return {"ok": False, "error": "invalid_conversation_id"}
        session = await self.get_session(sid)
        # The session may have ended since the socket connected (sign-out, disabled).
        if await self._auth.authenticate(session.get("token")) is None:
            await self._leave_all(sid, session)
            return {"ok": False, "error": "agent_unauthorized"}
        if session.get("watching") is not None:
            await self.leave_room(sid, agent_room(session["watching"]))
        await self.enter_room(sid, agent_room(conversation_id))
        session["watching"] = conversation_id
        await self.save_session(sid, session)
        return {"ok": True}


    async def _leave_all(self, sid: str, session: dict[str, Any]) -> None:
        """A dead session hears nothing more (the console then goes to the sign-in page)."""
        await self.leave_room(sid, DESK_ROOM)
        if session.get("watching") is not None:
            await self.leave_room(sid, agent_room(session["watching"]))
        await self.save_session(sid, {"token": None, "agent_id": None, "watching": None})


def session_cookie(environ: dict) -> str | None:
    request = environ.get("sanic.request")
    if request is not None:
        return request.cookies.get(COOKIE)
    try:
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    except CookieError:
        return None
    return cookie[COOKIE].value if COOKIE in cookie else None
