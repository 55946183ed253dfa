"""Client for the account backend: signed-in visitors and support-ticket e-mails.

The gateway calls (docs/backend.md):

- ``POST /api/v1/auth/login`` (public; only the demo page's sign-in form uses it);
- ``POST /api/v1/auth/sessions/verify``: the session token the platform issued at login →
  the account, and a fresh 15-minute verification grant the assistant may act with;
- ``POST /api/v1/support/ticket-emails``: the ticket confirmation and the adviser's answer,
  sent through the backend's outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

MAX_SESSION_TOKEN_LENGTH = 200


class BackendUnavailable(Exception):
    """The backend could not be reached or answered unexpectedly."""


class BackendRefused(Exception):
    """The backend answered with an error code (e.g. a rate limit)."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class VerifiedAccount:
    email: str
    name: str | None  # None: the account has no name (invited without one)
    organisation: str | None
    grant: str
    grant_expires_at: datetime

    def metadata(self) -> dict[str, Any]:
        """The Rasa message metadata the assistant accepts as a verified identity."""
        return {"pomocnik_identity": {"grant": self.grant, "name": self.name, "email": self.email}}


class BackendClient:
    def __init__(self, base_url: str, service_token: str, timeout_seconds: float = 10.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = service_token
        self._timeout = timeout_seconds
        self._http: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 5.0)),
            headers={"Authorization": f"Bearer {self._token}"},
            trust_env=False,
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def login(self, email: str, password: str) -> tuple[str, str] | None:
        """Sign in at the platform (the demo page does): ``(name, session token)`` - the e-mail
        instead of a name for an account that has none -, None for wrong credentials;
        ``BackendRefused`` when the backend locks further attempts."""
        status, body = await self._post(
            "/api/v1/auth/login", {"email": email, "password": password}
        )
        if status in (401, 422):
            return None
        if status == 429:
            raise BackendRefused(status, "too_many_login_attempts")
        if status != 200:
            raise BackendUnavailable(f"status {status}")
        try:
            account = body["account"]
            return account["name"] or account["email"], body["session"]["token"]
        except (KeyError, TypeError) as exc:
            raise BackendUnavailable("unexpected reply shape") from exc

    async def logout(self, session_token: str) -> None:
        """End a platform session (the demo page's "Wyloguj"); the backend always answers 204."""
        if session_token and len(session_token) <= MAX_SESSION_TOKEN_LENGTH:
            await self._post("/api/v1/auth/logout", {"session_token": session_token})

    async def verify_session(self, session_token: str) -> VerifiedAccount | None:
        """The account behind a platform session token; None if the token is not valid."""
        if not session_token or len(session_token) > MAX_SESSION_TOKEN_LENGTH:
            return None
        status, body = await self._post(
            "/api/v1/auth/sessions/verify", {"session_token": session_token}
        )
        if status in (401, 422):
            return None
        if status != 200:
            raise BackendUnavailable(f"status {status}")
        try:
            account = body["account"]
            return VerifiedAccount(
                email=account["email"],
                name=account["name"],
                organisation=account.get("organisation"),
                grant=body["grant"],
                grant_expires_at=datetime.fromisoformat(
                    body["grant_expires_at"].replace("Z", "+00:00")
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable("unexpected reply shape") from exc

    async def send_ticket_email(
        self,
        *,
        kind: str,
        to: str,
        ticket_number: str,
        answer: str | None = None,
    ) -> None:
        """Queue a ticket e-mail: the number and, for ``ticket_answered``, the adviser's answer.
        The visitor's question is never sent: the backend would have mailed it to an address
        nobody verified."""
        body: dict[str, Any] = {"kind": kind, "to": to, "ticket_number": ticket_number}
        if answer is not None:
            body["answer"] = answer
        status, reply = await self._post("/api/v1/support/ticket-emails", body)
        if status == 202:
            return
        code = (reply.get("error") or {}).get("code") if isinstance(reply, dict) else None
        if 400 <= status < 500 and isinstance(code, str):
            raise BackendRefused(status, code)
        raise BackendUnavailable(f"status {status}")

    async def _post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if self._http is None:
            raise RuntimeError("BackendClient.start() was not awaited (server not started)")
        try:
            response = await self._http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(type(exc).__name__) from exc
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {}
