"""The client's network reaches Rasa with every visitor message (``pomocnik_client``), from
the address the limits count: the peer, or what a trusted proxy reports. And the message
limits hold under a burst (each hit is one atomic upsert)."""

from __future__ import annotations

import asyncio
from unittest.mock import ANY

import httpx
import pytest

from tests.gateway.conftest import SocketVisitor
from tests.support.clock import FakeClock


def path(conversation_id: str) -> str:
    return f"/api/v1/conversations/{conversation_id}/messages"


async def say(http: httpx.AsyncClient, text: str, headers=None) -> httpx.Response:
    conversation = (await http.post("/api/v1/conversations")).json()["conversation_id"]
    return await http.post(path(conversation), json={"text": text}, headers=headers or {})


@pytest.mark.parametrize(
    ("forwarded", "network"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:ab:cdef:1:2:3:4", "2001:db8:ab:cd00::/56"),
        ("203.0.113.77, 10.0.0.5", "10.0.0.0/24"),  # one trusted proxy: the last hop counts
    ],
)
async def test_behind_a_trusted_proxy_rasa_gets_the_forwarded_network(
    stub_rasa, start_gateway, make_settings, monkeypatch, forwarded, network
):
    monkeypatch.setenv("SANIC_PROXIES_COUNT", "1")
    async with start_gateway(make_settings(stub_rasa.url)) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            response = await say(http, "Dzień dobry", {"X-Forwarded-For": forwarded})

    assert response.status_code == 200
    [sent] = stub_rasa.webhook_requests
    assert sent.json()["metadata"] == {"pomocnik_client": {"network": network}, "pomocnik_turn": {"message": ANY}}


async def test_without_a_trusted_proxy_a_forwarded_header_is_ignored(
    stub_rasa, start_gateway, make_settings, monkeypatch
):
    monkeypatch.delenv("SANIC_PROXIES_COUNT", raising=False)
    async with start_gateway(make_settings(stub_rasa.url)) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            await say(http, "Dzień dobry", {"X-Forwarded-For": "203.0.113.77"})

    assert stub_rasa.webhook_requests[0].json()["metadata"] == {
        "pomocnik_client": {"network": "127.0.0.0/24"}, "pomocnik_turn": {"message": ANY}
    }


async def test_the_socket_sends_the_network_of_the_forwarded_address(
    stub_rasa, start_gateway, make_settings, monkeypatch
):
    monkeypatch.setenv("SANIC_PROXIES_COUNT", "1")
    async with start_gateway(make_settings(stub_rasa.url)) as url:
        visitor = SocketVisitor(url)
        await visitor.client.connect(url, transports=["websocket"], wait_timeout=5,
                                     headers={"X-Forwarded-For": "198.51.100.23"})
        try:
            session_id = await visitor.request_session()
            ack = await visitor.say("Dzień dobry", session_id, cid="cid-network-0001")
            await visitor.wait_for("pomocnik_status")
        finally:
            await visitor.disconnect()

    assert ack["ok"] is True
    assert stub_rasa.webhook_requests[0].json()["metadata"] == {
        "pomocnik_client": {"network": "198.51.100.0/24"}, "pomocnik_turn": {"message": ANY}
    }


async def test_a_burst_of_messages_gets_exactly_the_limit(stub_rasa, start_gateway, make_settings):
    settings = make_settings(stub_rasa.url, session_messages_per_minute=20)
    async with start_gateway(settings, clock=FakeClock()) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30,
                                     limits=httpx.Limits(max_connections=60)) as http:
            conversation = (await http.post("/api/v1/conversations")).json()["conversation_id"]
            answers = await asyncio.gather(*(
                http.post(path(conversation), json={"text": f"Wiadomość {n}"}) for n in range(50)
            ))

    assert sorted(a.status_code for a in answers) == [200] * 20 + [429] * 30
    assert len(stub_rasa.webhook_requests) == 20
