"""The console's live channel: socket.io namespace "/agent" on the real gateway, with a stock
python-socketio client carrying (or not) the adviser's session cookie."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
import socketio

from tests.support.clock import FakeClock
from tests.support.console import ANNA, AdviserBrowser, Visitor, add_agent

NAMESPACE = "/agent"
CONSOLE_PATH = "agent/socket.io"


class ConsoleSocket:
    """A console's socket, recording the events it receives."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: list[tuple[str, Any]] = []
        self.arrived = asyncio.Condition()
        for event in ("desk_changed", "conversation_message"):
            self.client.on(event, self._recorder(event), namespace=NAMESPACE)

    def _recorder(self, event: str):
        async def record(data=None):
            async with self.arrived:
                self.received.append((event, data))
                self.arrived.notify_all()

        return record

    async def connect(self, url: str, cookie: str | None, transport: str = "websocket",
                      path: str = CONSOLE_PATH) -> None:
        headers = {"Cookie": f"pomocnik_agent={cookie}"} if cookie else {}
        await self.client.connect(url, headers=headers, namespaces=[NAMESPACE],
                                  socketio_path=path, transports=[transport], wait_timeout=5)

    def events(self, name: str) -> list[Any]:
        return [data for event, data in self.received if event == name]

    async def wait_for(self, name: str, predicate=lambda data: True, timeout: float = 5.0):
        async def arrived():
            async with self.arrived:
                await self.arrived.wait_for(
                    lambda: any(predicate(data) for data in self.events(name)))

        await asyncio.wait_for(arrived(), timeout)
        return [data for data in self.events(name) if predicate(data)][-1]

    async def close(self) -> None:
        if self.client.transport() == "polling":
            await self.client.eio.disconnect(abort=True)
        else:
            await self.client.disconnect()


@pytest.fixture
async def gateway(stub_rasa, make_settings, start_gateway, database_url):
    async with start_gateway(make_settings(stub_rasa.url), clock=FakeClock()) as url:
        await add_agent(database_url, *ANNA)
        yield url


@pytest.fixture
async def anna(gateway):
    browser = AdviserBrowser(gateway)
    await browser.login(ANNA[0])
    await browser.call("POST", "heartbeat")
    yield browser
    await browser.close()


@pytest.fixture
async def sockets():
    opened: list[ConsoleSocket] = []

    def open_socket() -> ConsoleSocket:
        opened.append(ConsoleSocket())
        return opened[-1]

    yield open_socket
    for socket in opened:
        with contextlib.suppress(Exception):
            await socket.close()


@pytest.fixture
async def visitor_http(gateway):
    async with httpx.AsyncClient(base_url=gateway, trust_env=False, timeout=10) as http:
        yield http


@pytest.mark.parametrize("cookie", [None, "not-a-session-token"])
async def test_the_namespace_refuses_a_console_without_a_session(gateway, sockets, cookie):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sockets().connect(gateway, cookie)


async def test_a_signed_out_session_is_refused(gateway, anna, sockets):
    cookie = anna.cookie
    await anna.submit("/agent/logout", {})
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sockets().connect(gateway, cookie)


async def test_desk_changed_reaches_the_console_when_a_visitor_queues(
    gateway, anna, sockets, visitor_http, stub_rasa
):
    console = sockets()
    await console.connect(gateway, anna.cookie)

    visitor = await Visitor.start(visitor_http)
    await visitor.ask_for_adviser(stub_rasa)

    await console.wait_for("desk_changed")
    assert len(await anna.queue()) == 1


async def test_a_watched_conversation_streams_its_messages(
    gateway, anna, sockets, visitor_http, stub_rasa
):
    console = sockets()
    await console.connect(gateway, anna.cookie)
    visitor = await Visitor.start(visitor_http)
    await visitor.ask_for_adviser(stub_rasa)
    [entry] = await anna.queue()
    conversation_id = entry["conversation_id"]

    assert await console.client.call("watch", {"conversation_id": conversation_id},
                                     namespace=NAMESPACE, timeout=5) == {"ok": True}
    await anna.call("POST", f"conversations/{conversation_id}/take")
    await anna.call("POST", f"conversations/{conversation_id}/reply", {"text": "Dzień dobry!"})
    await visitor.say("Mam problem z hasłem")

    def is_from(author: str):
        return lambda data: data["conversation_id"] == conversation_id and \
            data["message"]["author"] == author

    agent_message = await console.wait_for("conversation_message", is_from("agent"))
    assert agent_message["message"]["text"] == "Dzień dobry!"
    visitor_message = await console.wait_for("conversation_message", is_from("visitor"))
    assert visitor_message["message"]["text"] == "Mam problem z hasłem"


async def test_watching_needs_a_conversation_number(gateway, anna, sockets):
    console = sockets()
    await console.connect(gateway, anna.cookie)
    for data in (None, {}, {"conversation_id": "7"}, {"conversation_id": True}):
        answer = await console.client.call("watch", data, namespace=NAMESPACE, timeout=5)
        assert answer == {"ok": False, "error": "invalid_conversation_id"}


async def test_long_polling_carries_the_cookie_too(gateway, anna, sockets, visitor_http,
                                                   stub_rasa):
    console = sockets()
    await console.connect(gateway, anna.cookie, transport="polling")
    visitor = await Visitor.start(visitor_http)
    await visitor.ask_for_adviser(stub_rasa)
    await console.wait_for("desk_changed")


async def test_a_socket_whose_session_ended_cannot_watch(gateway, anna, sockets, visitor_http,
                                                         stub_rasa):
    console = sockets()
    await console.connect(gateway, anna.cookie)
    await anna.submit("/agent/logout", {})

    answer = await console.client.call("watch", {"conversation_id": 1}, namespace=NAMESPACE,
                                       timeout=5)
    assert answer == {"ok": False, "error": "agent_unauthorized"}
    # Nothing reaches it any more.
    await anna.login(ANNA[0])
    assert (await anna.call("POST", "heartbeat")).status_code == 200
    visitor = await Visitor.start(visitor_http)
    await visitor.ask_for_adviser(stub_rasa)
    assert len(await anna.queue()) == 1
    await asyncio.sleep(0.3)
    assert console.events("desk_changed") == []
