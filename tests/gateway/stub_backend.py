"""A real HTTP stand-in for the account backend (an outside service for the gateway): the two
service-token endpoints the gateway calls, recording what it receives (on harness.http_stub)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from harness.http_stub import StubRequest, StubService

SERVICE_TOKEN = "stub-backend-service-token-0123456789abcdef"
JAN_SESSION = "jan-platform-session-token-0123456789abcdefghijklmnopqrstuv"


@dataclass
class StubBackend(StubService):
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

    def respond(self, request: StubRequest) -> tuple[int, Any]:
        if request.headers.get("authorization") != f"Bearer {SERVICE_TOKEN}":
            return 401, {"error": {"code": "unauthorized"}}
        if request.path == "/api/v1/auth/sessions/verify" and request.method == "POST":
            self.verify_calls += 1
            known = self.sessions.get(request.json().get("session_token"))
            if known is None:
                return 401, {"error": {"code": "session_invalid"}}
            return 200, known
        if request.path == "/api/v1/support/ticket-emails" and request.method == "POST":
            if self.ticket_email_status != 202:
                return self.ticket_email_status, {"error": {"code": "stub_refused"}}
            self.ticket_emails.append(request.json())
            return 202, {"status": "queued"}
        return 404, {"error": {"code": "not_found"}}


@contextlib.asynccontextmanager
async def serving(stub: StubBackend) -> AsyncIterator[str]:
    """Serve the stub on a free loopback port in this event loop; yields its base URL."""
    async with stub:
        yield stub.url
