"""Helpers for the advisers' console tests: advisers in the database, an adviser's browser
(an HTTP client keeping the session cookie and the page's CSRF token) and a visitor who asks
for a person through the real chat API."""

from __future__ import annotations

import re
from typing import Any

import httpx

from bot.gateway.console import agents
from bot.gateway.db import create_engine, create_sessionmaker
from harness.rasa_stub import HANDOFF_REPLY, HANDOFF_TEXT
from tests.support.clock import FakeClock

PASSWORD = "Konsultant#2026-bezpieczne"
ANNA = ("anna.nowicka@ingksiegowosc.pl", "Anna")
PIOTR = ("piotr.zielinski@ingksiegowosc.pl", "Piotr")
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
