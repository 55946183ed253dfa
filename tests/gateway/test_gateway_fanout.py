"""Live fan-out between gateway processes: in-process by default, Redis pub/sub with REDIS_URL.

The Redis tests run against the Redis server on 127.0.0.1:6379 (or TEST_REDIS_URL) and are
skipped, saying so, when none answers.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import httpx
import pytest

from bot.gateway.fanout import InProcessFanOut, RedisFanOut, create_fanout

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REPLY = "Kliknij „Nie pamiętam hasła” na stronie logowania."


async def redis_answers() -> bool:
    from redis import asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


@pytest.fixture
async def redis_url() -> str:
    if not await redis_answers():
        pytest.skip(f"no Redis server answers at {REDIS_URL} (set TEST_REDIS_URL to test one)")
    return REDIS_URL


@pytest.fixture
def channel() -> str:
    """A channel of this test's own, so parallel runs on one Redis never cross."""
    return f"pomocnik:test:{uuid.uuid4().hex}"


class Inbox:
    def __init__(self) -> None:
        self.events: list[dict] = []
        self.arrived = asyncio.Event()

    async def __call__(self, event: dict) -> None:
        self.events.append(event)
        self.arrived.set()

    async def wait(self, count: int, timeout: float = 5.0) -> list[dict]:
        async def enough() -> None:
            while len(self.events) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.events


def test_redis_url_selects_the_redis_fan_out():
    assert isinstance(create_fanout(None), InProcessFanOut)
    assert isinstance(create_fanout("redis://127.0.0.1:6379/0"), RedisFanOut)


async def test_in_process_fan_out_delivers_to_its_process():
    fanout, inbox = InProcessFanOut(), Inbox()
    await fanout.publish({"type": "lost"})  # nobody listens yet: dropped, no error
    await fanout.start(inbox)

    await fanout.publish({"room": "conv:1", "type": "message"})

    assert inbox.events == [{"room": "conv:1", "type": "message"}]
    await fanout.close()


async def test_redis_fan_out_reaches_every_process(redis_url, channel):
    one, two = RedisFanOut(redis_url, channel), RedisFanOut(redis_url, channel)
    inbox_one, inbox_two = Inbox(), Inbox()
    await one.start(inbox_one)
    await two.start(inbox_two)
    try:
        await one.publish({"room": "conv:a", "type": "message", "message": {"text": "Zażółć"}})

        expected = [{"room": "conv:a", "type": "message", "message": {"text": "Zażółć"}}]
        assert await inbox_one.wait(1) == expected  # the publisher hears itself too
        assert await inbox_two.wait(1) == expected
    finally:
        await one.close()
        await two.close()


async def test_redis_down_does_not_break_the_chat(stub_rasa, start_gateway, make_settings,
                                                  closed_port, caplog):
    """Fan-out is best effort: with Redis gone messages are still stored and answered."""
    settings = make_settings(stub_rasa.url)
    fanout = RedisFanOut(f"redis://127.0.0.1:{closed_port}/0")
    async with start_gateway(settings, fanout=fanout) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            conversation = (await http.post("/api/v1/conversations")).json()["conversation_id"]
            response = await http.post(
                f"/api/v1/conversations/{conversation}/messages", json={"text": "Cześć"}
            )
            history = await http.get(f"/api/v1/conversations/{conversation}/messages")

    assert response.status_code == 200 and response.json()["messages"][0]["text"] == REPLY
    assert len(history.json()["messages"]) == 2
    assert any("redis fan-out" in record.getMessage() for record in caplog.records)


async def test_two_gateways_on_redis_share_a_conversation_live(
    redis_url, channel, visitors, stub_rasa, start_gateway, make_settings
):
    """A visitor's tab on gateway A sees what arrives through gateway B (say, another tab)."""
    settings = make_settings(stub_rasa.url, redis_url=redis_url)
    async with start_gateway(settings, fanout=RedisFanOut(redis_url, channel)) as url_a:
        async with start_gateway(settings, fanout=RedisFanOut(redis_url, channel)) as url_b:
            tab_a = await visitors(url_a)
            session_id = await tab_a.request_session()
            tab_b = await visitors(url_b)
            await tab_b.request_session(session_id)

            await tab_b.say("Cześć", session_id, cid="cid-via-gateway-b")
            for tab in (tab_a, tab_b):
                await tab.wait_for("pomocnik_status")
                await tab.wait_for("bot_uttered")

    assert [(m["author"], m["text"]) for m in tab_a.events("pomocnik_message")] == [
        ("visitor", "Cześć"), ("bot", REPLY),
    ]
    assert tab_a.events("bot_uttered")[0]["text"] == REPLY
    # Each process delivered each event once.
    assert tab_a.events("pomocnik_message") == tab_b.events("pomocnik_message")


async def test_without_redis_another_process_does_not_hear(visitors, stub_rasa, start_gateway,
                                                           make_settings):
    """Why REDIS_URL matters with several processes; the transcript still has everything."""
    settings = make_settings(stub_rasa.url)
    async with start_gateway(settings) as url_a, start_gateway(settings) as url_b:
        tab_a = await visitors(url_a)
        session_id = await tab_a.request_session()
        tab_b = await visitors(url_b)
        await tab_b.request_session(session_id)
        await tab_b.say("Cześć", session_id)
        await tab_b.wait_for("pomocnik_status")
        await asyncio.sleep(0.2)
        # A reconnect (or reload) catches up from the database.
        await tab_a.request_session(session_id, history_after=0)
        history = await tab_a.wait_for("pomocnik_history")

    assert tab_a.events("pomocnik_message") == []
    assert [m["text"] for m in history["messages"]] == ["Cześć", REPLY]
