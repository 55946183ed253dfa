"""Fixtures: the real gateway on a free loopback port and a real HTTP stub of Rasa.

Nothing of our own code is mocked. Rasa, an outside service, is replaced by a
tiny HTTP/1.1 server that records what it receives and answers canned replies
(harness/rasa_stub.py).
Each test gets a fresh gateway database: SQLite in the test's directory, or a fresh
PostgreSQL database when TEST_DATABASE_URL is set (migrated like `make db` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio
from sanic import Sanic

from bot.gateway import Settings, create_app
from bot.gateway.cli import migrate
from harness.rasa_stub import StubRasa
from harness.stack import free_port
from tests.support.databases import fresh_database as fresh_backend_or_gateway_database

TEST_SECRET = "test-gateway-secret-0123456789-abcdefghijklmnop"
DEFAULT_REPLY = [
    {
        "recipient_id": "ignored",
        "text": "Kliknij „Nie pamiętam hasła” na stronie logowania.",
        "buttons": [
            {"title": "Tak, dziękuję", "payload": "/affirm"},
            {"title": "Nie", "payload": '/deny{"powod":"inny"}'},
        ],
    }
]
# GET /conversations/<id>/tracker answers this (Rasa's shape, trimmed) plus the events.
DEFAULT_TRACKER = {
    "latest_message": {"intent": {"name": "reset_password", "confidence": 0.97}},
    "active_loop": {"name": "reset_password_form"},
    "slots": {"email": "jan.kowalski@majafirma.pl", "pin": "1234", "package": None},
}
_app_numbers = itertools.count()

# Several gateway apps start in this one process. On startup Sanic rewrites some of
# its own class methods ("TouchUp"); only in test mode does it keep the originals and
# redo that per app instead of failing on already rewritten methods.
Sanic.test_mode = True


@contextlib.asynccontextmanager
async def serving_gateway(settings: Settings, **app_kwargs) -> AsyncIterator[tuple[str, Sanic]]:
    """Serve the real gateway app in this event loop, with its lifecycle hooks; yields its
    URL and the app (whose ``ctx`` holds the services)."""
    app = create_app(settings, name=f"pomocnik_gateway_test_{next(_app_numbers)}", **app_kwargs)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # In Sanic 25 create_server() already awaits the asyncio server (socket is listening);
    # the app lifecycle (startup, listeners) is ours to drive.
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        await server.before_stop()
        for connection in list(server.connections):
            connection.close_if_idle()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        Sanic.unregister_app(app)


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings, **app_kwargs) -> AsyncIterator[str]:
    """Serve the real gateway app in this event loop; yields its URL."""
    async with serving_gateway(settings, **app_kwargs) as (url, _):
        yield url


def gateway_settings(rasa_url: str, database_url: str, **overrides) -> Settings:
    values = {
        "port": 0,
        "rasa_url": rasa_url,
        "rasa_timeout_seconds": 2.0,
        "secret": TEST_SECRET,
        "database_url": database_url,
    }
    return Settings(**{**values, **overrides})


def fresh_database(directory: Path):
    """A fresh gateway database (tests/support/databases.py): SQLite is migrated by the gateway
    itself when it starts."""
    return fresh_backend_or_gateway_database(
        directory, migrate=migrate, sqlite_file="gateway.db", migrate_sqlite=False,
        prefix="pomocnik_gw_test",
    )


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
async def stub_rasa() -> AsyncIterator[StubRasa]:
    stub = StubRasa(reply_body=DEFAULT_REPLY, tracker=DEFAULT_TRACKER)
    await stub.start()
    yield stub
    await stub.stop()


@pytest.fixture
async def gateway_url(stub_rasa: StubRasa, database_url: str) -> AsyncIterator[str]:
    async with running_gateway(gateway_settings(stub_rasa.url, database_url)) as url:
        yield url


@pytest.fixture
async def client(gateway_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_url, trust_env=False, timeout=10) as http:
        yield http


@pytest.fixture
async def conversation_id(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/v1/conversations")
    assert response.status_code == 201
    return response.json()["conversation_id"]


@pytest.fixture
async def rasa_down_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway whose Rasa URL points at a closed port."""
    settings = gateway_settings(f"http://127.0.0.1:{free_port()}", database_url)
    async with running_gateway(settings) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=10) as http:
            yield http


def assert_error(response: httpx.Response, status: int, code: str, *phrases: str) -> None:
    """The response is the gateway's JSON error with a Polish message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"], "the message must not be empty"
    for phrase in phrases:
        assert phrase in error["message"]
    assert "Traceback" not in response.text


# Helpers exposed as fixtures: test modules should not import conftest directly.
@pytest.fixture(name="assert_error")
def assert_error_fixture():
    return assert_error


@pytest.fixture(name="start_gateway")
def start_gateway_fixture():
    return running_gateway


@pytest.fixture(name="make_settings")
def make_settings_fixture(database_url: str):
    """make_settings(rasa_url, **overrides): settings on this test's fresh database."""

    def make(rasa_url: str, **overrides) -> Settings:
        return gateway_settings(rasa_url, overrides.pop("database_url", database_url), **overrides)

    return make


class SocketVisitor:
    """A stock python-socketio client speaking Rasa's channel protocol, recording every event."""

    EVENTS = (
        "session_confirm",
        "bot_uttered",
        "pomocnik_history",
        "pomocnik_message",
        "pomocnik_status",
        "pomocnik_queue",
        "pomocnik_identity",
    )

    def __init__(self, url: str, transports: tuple[str, ...] = ("websocket",)) -> None:
        self.url = url
        self.transports = list(transports)
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: list[tuple[str, Any]] = []
        self._arrived = asyncio.Condition()
        for event in self.EVENTS:
            self.client.on(event, self._recorder(event))

    def _recorder(self, event: str):
        async def record(data=None):
            async with self._arrived:
                self.received.append((event, data))
                self._arrived.notify_all()

        return record

    async def connect(self) -> SocketVisitor:
        await self.client.connect(self.url, transports=self.transports, wait_timeout=5)
        return self

    async def disconnect(self) -> None:
        if self.client.transport() == "polling":
            # python-engineio's client waits for its pending long-poll on a clean disconnect
            # (up to the 25 s ping interval); browsers do not. Abort instead.
            await self.client.eio.disconnect(abort=True)
            return
        await self.client.disconnect()

    async def request_session(self, session_id: str | None = None, **extra) -> str:
        await self.client.emit("session_request", {"session_id": session_id, **extra})
        return await self.wait_for("session_confirm")

    async def say(self, text: str, session_id: str, **extra) -> Any:
        """user_uttered with Rasa's fields (plus extras); returns the acknowledgement."""
        payload = {"message": text, "session_id": session_id, **extra}
        return await self.client.call("user_uttered", payload, timeout=5)

    def events(self, name: str) -> list[Any]:
        return [data for event, data in self.received if event == name]

    async def wait_for(self, name: str, count: int = 1, timeout: float = 5.0) -> Any:
        """The ``count``-th event of that name (waiting for it); returns its data."""

        async def arrived() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.events(name)) >= count)

        await asyncio.wait_for(arrived(), timeout)
        return self.events(name)[count - 1]

    async def wait_until(self, predicate, timeout: float = 5.0) -> None:
        async def holds() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: predicate(self))

        await asyncio.wait_for(holds(), timeout)


@pytest.fixture
async def visitors(gateway_url: str) -> AsyncIterator:
    """visitors(url=gateway_url): connected socket clients, disconnected after the test."""
    opened: list[SocketVisitor] = []

    async def open_visitor(url: str = gateway_url, **kwargs) -> SocketVisitor:
        visitor = await SocketVisitor(url, **kwargs).connect()
        opened.append(visitor)
        return visitor

    yield open_visitor
    for visitor in opened:
        with contextlib.suppress(Exception):
            await visitor.disconnect()


@pytest.fixture
def closed_port() -> int:
    return free_port()
