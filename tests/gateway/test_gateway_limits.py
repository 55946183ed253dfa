"""Message limits: per conversation and per address, counted in the database so that two
gateway processes share them, refused with Polish notices, and nothing stored or relayed."""

from __future__ import annotations

import re

import httpx
import pytest

from bot.gateway.errors import seconds_pl
from tests.support.clock import FakeClock

SESSION_NOTICE = re.compile(
    r"Wysyłasz wiadomości zbyt szybko\. Odczekaj (\d+ sekund[ęy]?) i wyślij wiadomość ponownie\."
)


def path(conversation_id: str) -> str:
    return f"/api/v1/conversations/{conversation_id}/messages"


async def new_conversation(http: httpx.AsyncClient) -> str:
    return (await http.post("/api/v1/conversations")).json()["conversation_id"]


async def test_per_conversation_limit_over_rest(stub_rasa, start_gateway, make_settings):
    clock = FakeClock()  # 9:00:00 exactly
    settings = make_settings(stub_rasa.url, session_messages_per_minute=2)
    async with start_gateway(settings, clock=clock) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            conversation = await new_conversation(http)
            for text in ("Pierwsza", "Druga"):
                assert (await http.post(path(conversation), json={"text": text})).status_code == 200
            clock.advance(seconds=20)

            refused = await http.post(path(conversation), json={"text": "Trzecia"})

            assert refused.status_code == 429
            error = refused.json()["error"]
            assert error["code"] == "too_many_messages"
            assert SESSION_NOTICE.fullmatch(error["message"]).group(1) == "40 sekund"
            assert refused.headers["retry-after"] == "40"
            # Another conversation from the same address is not affected.
            other = await new_conversation(http)
            assert (await http.post(path(other), json={"text": "Cześć"})).status_code == 200

            # The next minute the visitor may write again.
            clock.advance(seconds=40)
            again = await http.post(path(conversation), json={"text": "Trzecia"})
            assert again.status_code == 200

            history = (await http.get(path(conversation))).json()["messages"]

    assert [m["text"] for m in history if m["author"] == "visitor"] == [
        "Pierwsza", "Druga", "Trzecia",
    ]
    assert [r.json()["message"] for r in stub_rasa.webhook_requests] == [
        "Pierwsza", "Druga", "Cześć", "Trzecia",
    ]


async def test_per_address_limit_spans_conversations(visitors, stub_rasa, start_gateway,
                                                     make_settings):
    settings = make_settings(stub_rasa.url, address_messages_per_minute=3)
    async with start_gateway(settings, clock=FakeClock()) as url:
        first = await visitors(url)
        second = await visitors(url)
        first_id = await first.request_session()
        second_id = await second.request_session()
        acks = [
            await first.say("1", first_id),
            await second.say("2", second_id),
            await first.say("3", first_id),
            await second.say("4", second_id),
        ]

    assert [ack["ok"] for ack in acks] == [True, True, True, False]
    error = acks[3]["error"]
    assert error["code"] == "too_many_messages_from_address"
    assert error["message"] == (
        "Z Twojej sieci wysłano w ostatniej minucie zbyt wiele wiadomości. "
        "Odczekaj 60 sekund i wyślij wiadomość ponownie."
    )
    assert error["retry_after"] == 60
    # A stock client gets the notice as a bot message, to that socket only.
    assert {"text": error["message"]} in second.events("bot_uttered")
    assert {"text": error["message"]} not in first.events("bot_uttered")
    assert sorted(r.json()["message"] for r in stub_rasa.webhook_requests) == ["1", "2", "3"]


async def test_two_gateway_processes_share_the_counters(stub_rasa, start_gateway, make_settings):
    # Two gateways on one database stand for two processes behind a load balancer.
    settings = make_settings(stub_rasa.url, session_messages_per_minute=2)
    clock = FakeClock()
    async with start_gateway(settings, clock=clock) as url_a, start_gateway(
        settings, clock=clock
    ) as url_b:
        async with httpx.AsyncClient(base_url=url_a, trust_env=False) as a, httpx.AsyncClient(
            base_url=url_b, trust_env=False
        ) as b:
            conversation = await new_conversation(a)
            assert (await a.post(path(conversation), json={"text": "1"})).status_code == 200
            assert (await b.post(path(conversation), json={"text": "2"})).status_code == 200
            third = await a.post(path(conversation), json={"text": "3"})
            history = (await b.get(path(conversation))).json()["messages"]

    assert third.status_code == 429
    # One transcript, numbered across both processes.
    assert [(m["seq"], m["text"]) for m in history if m["author"] == "visitor"] == [
        (1, "1"), (3, "2"),
    ]


async def test_a_resent_message_does_not_count_twice(visitors, stub_rasa, start_gateway,
                                                     make_settings):
    settings = make_settings(stub_rasa.url, session_messages_per_minute=1)
    async with start_gateway(settings, clock=FakeClock()) as url:
        visitor = await visitors(url)
        session_id = await visitor.request_session()
        first = await visitor.say("Cześć", session_id, cid="cid-count-once")
        again = await visitor.say("Cześć", session_id, cid="cid-count-once")

    assert first["ok"] and again == {"ok": True, "seq": 1, "duplicate": True}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(1, "1 sekundę"), (2, "2 sekundy"), (4, "4 sekundy"), (5, "5 sekund"), (12, "12 sekund"),
     (14, "14 sekund"), (22, "22 sekundy"), (25, "25 sekund"), (60, "60 sekund")],
)
def test_seconds_in_polish(seconds, text):
    assert seconds_pl(seconds) == text
