"""A real HTTP/1.1 server on a loopback port standing in for an outside service (Rasa, the
account backend): every request is recorded, ``respond(request)`` gives the status and the
payload (JSON, or bytes as they are). One stub for every test and script that needs one."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StubRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


Respond = Callable[[StubRequest], "tuple[int, Any] | Awaitable[tuple[int, Any]]"]


@dataclass
class HttpStub:
    """``async with HttpStub(respond) as stub:`` serves on ``stub.url`` until the block ends;
    ``delay_seconds`` holds every answer back (a slow service)."""

    respond: Respond
    requests: list[StubRequest] = field(default_factory=list)
    delay_seconds: float = 0.0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._connections: set[asyncio.Task] = set()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    async def __aenter__(self) -> HttpStub:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(asyncio.current_task())
        try:
            while request := await _read_request(reader):
                self.requests.append(request)
                if self.delay_seconds:
                    await asyncio.sleep(self.delay_seconds)
                answer = self.respond(request)
                status, payload = await answer if inspect.isawaitable(answer) else answer
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                writer.write(
                    f"HTTP/1.1 {status} Stub\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(asyncio.current_task())
            writer.close()


@dataclass
class StubService:
    """Base of a stand-in with state of its own: a subclass (a dataclass) writes ``respond``
    and is served by an ``HttpStub``; ``async with`` or ``start()`` / ``stop()``."""

    http: HttpStub = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.http = HttpStub(self.respond)

    def respond(self, request: StubRequest) -> tuple[int, Any]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def requests(self) -> list[StubRequest]:
        return self.http.requests

    async def start(self) -> None:
        await self.http.start()

    async def stop(self) -> None:
        await self.http.stop()

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()


async def _read_request(reader: asyncio.StreamReader) -> StubRequest | None:
    request_line = await reader.readline()
    if not request_line:
        return None
    method, path, _ = request_line.decode("latin-1").split(" ", 2)
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, value = line.decode("latin-1").split(":", 1)
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return StubRequest(method, path, headers, body)
