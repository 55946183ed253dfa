"""Fixtures for the custom-action tests (run with the Rasa venv: `.venv/rasa/bin/pytest tests/actions`).

Two backends:
- `live_backend`: the real account backend and mail sink as processes (started once per session
  through the app environment); journey tests check the backend's state and the delivered mail.
- `fake_backend`: a real HTTP server (aiohttp, which ships with Rasa) that records every request
  and answers as the test tells it to - for the transport's edge cases (timeouts, 5xx, garbage).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import sqlite3
import urllib.parse
import urllib.request
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from bot.domain_files import load_domain
from harness.stack import free_port

# These tests need the Rasa 3.10 environment. Under the app environment (no rasa_sdk)
# the directory is skipped instead of failing at import.
if importlib.util.find_spec("rasa_sdk") is None:  # pragma: no cover
    collect_ignore_glob = ["test_*.py"]
else:
    import yaml
    from aiohttp import web

    from actions.backend_client import BackendClient, set_backend_client_factory
    from tests.actions.helpers import SERVICE_TOKEN

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RecordedRequest:
    method: str
    path: str
    authorization: Optional[str]
    content_type: Optional[str]
    json: Any
    headers: Dict[str, str] = field(default_factory=dict)


@dataclass
class FakeBackend:
    """A live HTTP server standing in for the account backend."""

    url: str = ""
    status: int = 202
    body: Any = field(default_factory=lambda: {"status": "accepted"})
    raw_body: Optional[str] = None  # sent as text/plain instead of `body`
    delay_seconds: float = 0.0
    requests: List[RecordedRequest] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def reply(self, status: int, body: Any = None, *, raw_body: Optional[str] = None) -> None:
        self.status, self.body, self.raw_body = status, body, raw_body

    def reply_error(self, status: int, code: str, message: str) -> None:
        self.reply(status, {"error": {"code": code, "message": message}})

    async def handle(self, request: "web.Request") -> "web.StreamResponse":
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                authorization=request.headers.get("Authorization"),
                content_type=request.headers.get("Content-Type"),
                json=payload,
                headers=dict(request.headers),
            )
        )
        if self.delay_seconds:
            # a slow backend; released early at teardown so no handler is left pending
            try:
                await asyncio.wait_for(self.released.wait(), self.delay_seconds)
            except asyncio.TimeoutError:
                pass
        if self.raw_body is not None:
            return web.Response(status=self.status, text=self.raw_body)
        return web.json_response(self.body, status=self.status)


@pytest.fixture
async def fake_backend():
    backend = FakeBackend()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", backend.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    backend.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield backend
    finally:
        backend.released.set()
        await asyncio.sleep(0.05)  # let a delayed handler finish its (failed) write
        await runner.cleanup()


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def use_backend():
    """`use_backend(url, timeout=...)` points the actions at `url`; restored afterwards."""

    def _use(url: str, timeout_seconds: float = 2.0) -> None:
        set_backend_client_factory(lambda: BackendClient(url, SERVICE_TOKEN, timeout_seconds))

    yield _use
    set_backend_client_factory(None)


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    """The real domain (domain/*.yml merged) as the dict Rasa sends to the action server."""
    return load_domain()


# --- the real backend -------------------------------------------------------------------------


@dataclass
class LiveBackend:
    """The real account backend and mail sink as processes (app environment), seeded with the
    demo data (backend/demo_data.py): Jan Kowalski, owner of Majama (green),
    jan.kowalski@majafirma.pl / Faktura#2026; Anna Nowak (silver, licence 70012 / PIN 1234 /
    NIP 9541238769, not activated); a free licence 68577 / PIN 4821 / NIP 5260250274."""

    stack: Any

    @property
    def url(self) -> str:
        return self.stack.url("backend")

    def mails_to(self, address: str) -> List[Dict[str, Any]]:
        """Messages the backend delivered to `address`, oldest first."""
        query = urllib.parse.urlencode({"to": address})
        with urllib.request.urlopen(f"{self.stack.url('mailsink')}/api/messages?{query}") as answer:
            return json.load(answer)["messages"]

    def clear_mail(self) -> None:
        request = urllib.request.Request(f"{self.stack.url('mailsink')}/api/messages", method="DELETE")
        urllib.request.urlopen(request).close()

    def query(self, sql: str, *params: Any) -> List[tuple]:
        """Reads the backend's SQLite database directly (the state after a journey)."""
        with closing(sqlite3.connect(self.stack.workdir / "backend.db")) as db:
            return db.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory):
    from harness.stack import start_stack, stop_stack

    stack = start_stack(tmp_path_factory.mktemp("backend"), services=("mailsink", "backend"))
    yield stack
    stop_stack(stack)


@pytest.fixture
def live_backend(live_stack):
    """Points the actions at the real backend (restored afterwards); each test starts with an
    empty mailbox. Each test module gets a fresh, seeded database shared by its tests."""
    backend = LiveBackend(live_stack)
    backend.clear_mail()
    set_backend_client_factory(
        lambda: BackendClient(live_stack.url("backend"), live_stack.service_token, 10.0)
    )
    yield backend
    set_backend_client_factory(None)
