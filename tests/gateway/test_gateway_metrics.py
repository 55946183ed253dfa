"""Gateway metrics through the real gateway (Rasa a real HTTP stub): every turn, fallback,
handoff, rating and refusal moves its counter by exactly what happened, and the desk's gauges
are read from the database when scraped over real HTTP, from the scrape server's thread."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone

import httpx
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, start_http_server

from bot.gateway.desk import AgentRef
from bot.gateway.exposition import DeskStateCollector, read_desk_state
from bot.gateway.hours import BusinessHours
from bot.gateway.models import Agent, AgentSession
from tests.gateway.conftest import serving_gateway
from tests.support.clock import FakeClock
from tests.support.waiting import eventually

IN_HOURS = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)  # Tuesday 10:00 in Warsaw
HANDOFF_REPLY = [
    {"text": "Dobrze, przekazuję prośbę o rozmowę z konsultantem."},
    {"custom": {"handoff": {"requested": True}}},
]
ASK_FOR_A_PERSON = "chcę rozmawiać z konsultantem"
PLANTED = "moje hasło to Tajne#Haslo-5521"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def snapshot() -> dict[str, float]:
    return {
        "answered": value("pomocnik_gateway_turns_total", outcome="answered"),
        "unavailable": value("pomocnik_gateway_turns_total", outcome="assistant_unavailable"),
        "adviser": value("pomocnik_gateway_turns_total", outcome="adviser"),
        "timed": value("pomocnik_gateway_turn_seconds_count"),
        "fallbacks": value("pomocnik_gateway_fallbacks_total"),
        "queued": value("pomocnik_gateway_handoffs_total", outcome="queued"),
        "taken": value("pomocnik_gateway_handoffs_taken_total"),
        "rated_4": value("pomocnik_gateway_ratings_total", score="4"),
        "refused": value("pomocnik_gateway_rate_limit_refusals_total", scope="session_messages"),
    }


async def scrape(collector: DeskStateCollector) -> str:
    """GET /metrics of a real prometheus-client server holding only ``collector``."""
    registry = CollectorRegistry()
    registry.register(collector)
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            return (await client.get(f"http://127.0.0.1:{server.server_port}/metrics")).text
    finally:
        server.shutdown()
        server.server_close()


def gauge(text: str, name: str) -> float:
    return float(re.search(rf"^{name} (\S+)$", text, re.MULTILINE).group(1))


async def test_a_scripted_conversation_moves_each_metric_by_what_happened(
    stub_rasa, make_settings
):
    stub_rasa.replies_by_message[ASK_FOR_A_PERSON] = HANDOFF_REPLY
    stub_rasa.tracker = {"latest_message": {"intent": {"name": "nlu_fallback"}}, "slots": {}}
    clock = FakeClock(IN_HOURS)
    settings = make_settings(
        stub_rasa.url, rasa_api_token="stub-rasa-api-token", session_messages_per_minute=6
    )
    async with serving_gateway(
        settings, clock=clock, hours=BusinessHours(lambda: IN_HOURS)
    ) as (url, app):
        collector = DeskStateCollector(
            lambda: read_desk_state(app.ctx.sessions, clock()), clock, asyncio.get_running_loop()
        )
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            conversation = (await http.post("/api/v1/conversations")).json()["conversation_id"]
            messages = f"/api/v1/conversations/{conversation}/messages"
            before = snapshot()

            for text in ("dzień dobry", PLANTED):  # Rasa "understood" neither
                assert (await http.post(messages, json={"text": text})).status_code == 200
            await fallbacks_reach(before["fallbacks"] + 2)

            adviser = await adviser_at_desk(app, clock())
            assert (await http.post(messages, json={"text": ASK_FOR_A_PERSON})).status_code == 200
            clock.advance(seconds=42)
            state = await scrape(collector)
            assert gauge(state, "pomocnik_gateway_queue_length") == 1
            assert gauge(state, "pomocnik_gateway_queue_oldest_wait_seconds") == 42
            assert gauge(state, "pomocnik_gateway_advisers_present") == 1
            assert gauge(state, "pomocnik_gateway_tickets_open") == 0

            conversation_key = await app.ctx.transcript.conversation_id(conversation)
            await app.ctx.desk.take(conversation_key, adviser)
            assert gauge(await scrape(collector), "pomocnik_gateway_queue_length") == 0
            # While the adviser holds the conversation, Rasa is not asked.
            assert (await http.post(messages, json={"text": "halo?"})).status_code == 200

            stub_rasa.reply_status = 500
            await app.ctx.desk.hand_back(conversation_key, adviser)
            assert (await http.post(messages, json={"text": "jeszcze raz"})).status_code == 503
            stub_rasa.reply_status = 200
            rated = await http.post(f"/api/v1/conversations/{conversation}/rating",
                                    json={"score": 4})
            assert rated.status_code == 201
            # Six messages this minute are allowed; the seventh is refused.
            assert (await http.post(messages, json={"text": "szósta"})).status_code == 200
            assert (await http.post(messages, json={"text": "siódma"})).status_code == 429
            await fallbacks_reach(before["fallbacks"] + 4)  # recorded after each answer

    after = snapshot()
    assert {key: after[key] - before[key] for key in before} == {
        "answered": 4, "unavailable": 1, "adviser": 1, "timed": 4,
        "fallbacks": 4, "queued": 1, "taken": 1, "rated_4": 1, "refused": 1,
    }
    text = generate_latest(REGISTRY).decode()
    assert "Tajne#Haslo-5521" not in text and conversation not in text
    assert 'route="/api/v1/conversations/<conversation_id:str>/messages"' in text


async def fallbacks_reach(count: float) -> None:
    async def reached() -> bool:
        return value("pomocnik_gateway_fallbacks_total") == count

    await eventually(reached)


async def adviser_at_desk(app, now: datetime) -> AgentRef:
    """An adviser whose console sent a heartbeat just now."""
    async with app.ctx.sessions.begin() as session:
        agent = Agent(email="anna@pomocnik.test", display_name="Anna", password_hash="unused")
        session.add(agent)
        await session.flush()
        session.add(AgentSession(agent_id=agent.id, token_hash="a" * 64, csrf_token="x" * 32,
                                 expires_at=now + timedelta(hours=8), last_seen_at=now))
        return AgentRef(agent.id, "Anna")
