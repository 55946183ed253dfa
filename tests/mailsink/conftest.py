"""Fixtures for the mail sink tests: a real sink (SMTP + HTTP) on free loopback ports."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import pytest
from sanic import Sanic

from harness.stack import free_port as harness_free_port
from mailsink.settings import Settings
from mailsink.web import create_app

HOST = "127.0.0.1"


@dataclass
class RunningSink:
    settings: Settings
    http: httpx.AsyncClient

    @property
    def mail_dir(self) -> Path:
        return self.settings.mail_dir

    def eml_files(self) -> list[Path]:
        return sorted(self.mail_dir.glob("*.eml")) if self.mail_dir.exists() else []

    async def send(
        self, message: EmailMessage | bytes, sender: str = "", recipients: Sequence[str] = ()
    ) -> None:
        envelope = {"sender": sender, "recipients": list(recipients)} if recipients else {}
        await aiosmtplib.send(
            message, hostname=HOST, port=self.settings.smtp_port, timeout=10, **envelope
        )

    async def api_messages(self, **params: str) -> list[dict]:
        response = await self.http.get("/api/messages", params=params)
        assert response.status_code == 200
        return response.json()["messages"]


async def start_in_process(app: Sanic, settings: Settings):
    """Run the app on the test's own loop, firing the lifecycle events by hand.

    In Sanic 25 `create_server` already binds and listens; nobody connects before
    this returns, so running the startup events afterwards is safe.
    """
    server = await app.create_server(settings.host, settings.web_port, access_log=False)
    await server.startup()
    await server.before_start()  # starts the SMTP server (listener in mailsink.web)
    await server.after_start()
    return server


async def stop_in_process(server) -> None:
    await server.before_stop()
    await server.close()
    await server.after_stop()


@pytest.fixture
def free_port() -> Callable[[], int]:
    return harness_free_port


@pytest.fixture
def sink_settings(tmp_path: Path) -> Settings:
    return Settings(
        host=HOST, smtp_port=harness_free_port(), web_port=harness_free_port(), mail_dir=tmp_path / "mail"
    )


@asynccontextmanager
async def running_sink(settings: Settings) -> AsyncIterator[RunningSink]:
    # Sanic refuses two apps with one name in a process; every run gets its own.
    app = create_app(settings, name=f"mailsink-test-{uuid.uuid4().hex}")
    # TouchUp rewrites methods of the Sanic class itself and breaks on the second app
    # started in one process; it is only a speed optimisation.
    app.config.TOUCHUP = False
    server = await start_in_process(app, settings)
    try:
        base_url = f"http://{settings.host}:{settings.web_port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            yield RunningSink(settings, http)
    finally:
        await stop_in_process(server)
        Sanic.unregister_app(app)


@pytest.fixture
def sink_runner() -> Callable[[Settings], AbstractAsyncContextManager[RunningSink]]:
    return running_sink


@pytest.fixture
async def sink(sink_settings: Settings) -> AsyncIterator[RunningSink]:
    async with running_sink(sink_settings) as running:
        yield running


async def raw_http_get(host: str, port: int, path: str) -> tuple[int, str]:
    """GET a path verbatim: HTTP clients normalise `..` segments, which would hide traversal."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body.decode("utf-8", errors="replace")


@pytest.fixture
def raw_get(sink: RunningSink) -> Callable:
    async def get(path: str) -> tuple[int, str]:
        return await raw_http_get(HOST, sink.settings.web_port, path)

    return get
