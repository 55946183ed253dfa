"""A real HTTP stand-in for the account backend (an outside service for the gateway): the two
service-token endpoints the gateway calls, recording what it receives."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json as json_response

SERVICE_TOKEN = "stub-backend-service-token-0123456789abcdef"
JAN_SESSION = "jan-platform-session-token-0123456789abcdefghijklmnopqrstuv"


@dataclass
class StubBackend:
    """Answers like backend/api/auth.py and backend/api/support.py do."""

    sessions: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            JAN_SESSION: {
                "account": {
                    "id": 1,
                    "email": "jan.kowalski@majafirma.pl",
                    "name": "Jan Kowalski",
                    "organisation": "Majama Michał Zając",
                    "role": "owner",
                },
                "grant": "grant-for-jan-0123456789",
                "grant_expires_at": "2099-01-01T00:00:00Z",
            }
        }
    )
    ticket_emails: list[dict[str, Any]] = field(default_factory=list)
    ticket_email_status: int = 202
    verify_calls: int = 0

    def app(self, name: str) -> Sanic:
        app = Sanic(name)
        app.add_route(self._verify, "/api/v1/auth/sessions/verify", methods=["POST"])
        app.add_route(self._ticket_email, "/api/v1/support/ticket-emails", methods=["POST"])
        return app

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {SERVICE_TOKEN}"

    async def _verify(self, request: Request) -> HTTPResponse:
        if not self._authorised(request):
            return json_response({"error": {"code": "unauthorized"}}, status=401)
        self.verify_calls += 1
        known = self.sessions.get(json.loads(request.body).get("session_token"))
        if known is None:
            return json_response({"error": {"code": "session_invalid"}}, status=401)
        return json_response(known)

    async def _ticket_email(self, request: Request) -> HTTPResponse:
        if not self._authorised(request):
            return json_response({"error": {"code": "unauthorized"}}, status=401)
        if self.ticket_email_status != 202:
            return json_response({"error": {"code": "stub_refused"}}, status=self.ticket_email_status)
        self.ticket_emails.append(json.loads(request.body))
        return json_response({"status": "queued"}, status=202)


@contextlib.asynccontextmanager
async def serving(stub: StubBackend, name: str) -> AsyncIterator[str]:
    """Serve the stub on a free loopback port in this event loop; yields its base URL."""
    app = stub.app(name)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()
        Sanic.unregister_app(app)
