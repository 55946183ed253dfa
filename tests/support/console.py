"""Helpers for the advisers' console tests: advisers in the database, an adviser's browser
(an HTTP client keeping the session cookie and the page's CSRF token) and a visitor who asks
for a person through the real chat API."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.gateway.console import agents
from bot.gateway.db import create_engine, create_sessionmaker
from tests.support.clock import FakeClock
from tests.support.rasa_tracker import sender_of, tracker_with_events

PASSWORD = "Konsultant#2026-bezpieczne"
ANNA = ("anna.nowicka@ingksiegowosc.pl", "Anna")
PIOTR = ("piotr.zielinski@ingksiegowosc.pl", "Piotr")
HANDOFF_TEXT = "Chcę rozmawiać z konsultantem"
HANDOFF_REPLY = [
    {"recipient_id": "x", "text": "Już łączę z konsultantem."},
    {"recipient_id": "x", "custom": {"handoff": {"requested": True}}},
]
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
LOGIN_FAILED = "Nieprawidłowy e-mail lub hasło."
LOCKED = "Zbyt wiele nieudanych prób. Spróbuj ponownie za 15 minut."


async def add_agent(
    database_url: str, email: str, name: str, password: str = PASSWORD, *, editor: bool = False
) -> None:
    """What ``make agent-add`` does (the operator's command, in-process); ``editor``: EDITOR=1."""
    engine = create_engine(database_url)
    try:
        await agents.add_or_reset(create_sessionmaker(engine), email, name, password, FakeClock()(),
                                  editor=editor)
    finally:
        await engine.dispose()


class AdviserBrowser:
    """One adviser's browser: keeps the cookie, reads the CSRF token from the desk page."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=10)
        self.csrf: str | None = None

    async def close(self) -> None:
        await self.http.aclose()

    async def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        response = await self.http.post(
            "/agent/login", data={"email": email, "password": password}
        )
        if response.status_code == 303:
            page = await self.http.get("/agent")
            self.csrf = CSRF_META.search(page.text).group(1)
        return response

    @property
    def cookie(self) -> str | None:
        return self.http.cookies.get("pomocnik_agent")

    async def call(self, method: str, path: str, body: Any = None, **kwargs) -> httpx.Response:
        """A console API call with the CSRF header (as console.js sends it)."""
        headers = {"X-CSRF-Token": self.csrf or ""} if method != "GET" else {}
        headers.update(kwargs.pop("headers", {}))
        return await self.http.request(method, f"/agent/api/{path}", json=body, headers=headers,
                                       **kwargs)

    async def submit(self, path: str, fields: dict[str, str]) -> httpx.Response:
        """A console form POST with the hidden CSRF field."""
        return await self.http.post(path, data={"csrf_token": self.csrf or "", **fields})

    async def queue(self) -> list[dict[str, Any]]:
        response = await self.call("GET", "queue")
        assert response.status_code == 200, response.text
        return response.json()["queue"]


class Visitor:
    """A visitor using the chat's REST API."""

    def __init__(self, client: httpx.AsyncClient, session_id: str) -> None:
        self.client = client
        self.session_id = session_id

    @classmethod
    async def start(cls, client: httpx.AsyncClient) -> Visitor:
        response = await client.post("/api/v1/conversations")
        assert response.status_code == 201
        return cls(client, response.json()["conversation_id"])

    async def say(self, text: str) -> httpx.Response:
        response = await self.client.post(
            f"/api/v1/conversations/{self.session_id}/messages", json={"text": text}
        )
        assert response.status_code == 200, response.text
        return response

    async def transcript(self) -> list[dict[str, Any]]:
        response = await self.client.get(f"/api/v1/conversations/{self.session_id}/messages")
        return response.json()["messages"]

    async def ask_for_adviser(self, stub_rasa) -> None:
        stub_rasa.replies_by_message[HANDOFF_TEXT] = HANDOFF_REPLY
        await self.say(HANDOFF_TEXT)


@dataclass
class StubRequest:
    method: str
    path: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class HttpStub:
    """A tiny HTTP/1.1 server for an outside service (Rasa with its tracker API, the
    account backend): ``respond(request) -> (status, JSON payload)``; records requests."""

    respond: Callable[[StubRequest], tuple[int, Any]]
    requests: list[StubRequest] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> HttpStub:
        self._connections: set[asyncio.Task] = set()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader, writer) -> None:
        self._connections.add(asyncio.current_task())
        try:
            while line := await reader.readline():
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers = {}
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, value = header.decode("latin-1").split(":", 1)
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = StubRequest(method, path, body)
                self.requests.append(request)
                status, payload = self.respond(request)
                data = json.dumps(payload).encode("utf-8")
                writer.write(
                    f"HTTP/1.1 {status} Stub\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n".encode("latin-1") + data
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(asyncio.current_task())
            writer.close()


def rasa_with_tracker(
    replies: dict[str, Any],
    tracker: dict[str, Any],
    understood: dict[str, Any] | None = None,
    turn_events: dict[str, list[dict[str, Any]]] | None = None,
) -> HttpStub:
    """Rasa's REST channel (replies by message text) and its tracker API, with an event for
    every message received (``tests.support.rasa_tracker``)."""
    received: list[dict[str, Any]] = []

    def respond(request: StubRequest) -> tuple[int, Any]:
        if request.path.startswith("/conversations/"):
            sender = sender_of(request.path)
            sent = [body for body in received if body.get("sender") == sender]
            return 200, tracker_with_events(tracker, sent, understood, turn_events)
        if request.path == "/webhooks/rest/webhook":
            received.append(request.json())
            return 200, replies.get(request.json()["message"], [])
        return 200, "Hello from Rasa"

    return HttpStub(respond)
