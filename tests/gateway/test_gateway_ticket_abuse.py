"""Tickets cannot be used to mail strangers: only where the desk offered one, within limits
per conversation, per client address and per contact that hold under a burst, and the
confirmation never carries the visitor's words. Real gateway, real database (SQLite, or
PostgreSQL with TEST_DATABASE_URL); the account backend is an HTTP stub."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.gateway.clients import client_metadata, client_network, requester_key
from bot.gateway.errors import wait_pl
from bot.gateway.models import Ticket
from tests.gateway.test_gateway_desk import ASK_FOR_A_PERSON, HANDOFF_REPLY, SATURDAY_EVENING
from tests.gateway.test_gateway_desk import running_desk

SPAM = "Wygrałeś iPhone'a! Kliknij http://example.invalid/odbierz"


@pytest.fixture
async def closed_desk(stub_rasa, make_settings):
    stub_rasa.replies_by_message[ASK_FOR_A_PERSON] = HANDOFF_REPLY
    async with running_desk(stub_rasa, make_settings, SATURDAY_EVENING) as running:
        yield running


async def offered_conversation(desk) -> str:
    conversation = await desk.start_conversation()
    response = await desk.say(conversation, ASK_FOR_A_PERSON)
    assert response.json()["messages"][-1]["custom"]["offer"] == "ticket"
    return conversation


async def post_ticket(desk, conversation: str, **body):
    return await desk.client.post(
        f"/api/v1/conversations/{conversation}/tickets", json={"question": SPAM, **body}
    )


async def ticket_count(desk) -> int:
    async with desk.ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Ticket))


async def test_a_conversation_never_offered_a_ticket_cannot_leave_one(closed_desk, assert_error):
    conversation = await closed_desk.start_conversation()  # and nothing else: the probe

    response = await post_ticket(closed_desk, conversation, email="ofiara@example.pl")

    assert_error(response, 409, "ticket_not_offered", "chcę rozmawiać z konsultantem")
    assert closed_desk.backend.ticket_emails == []
    assert await ticket_count(closed_desk) == 0


async def test_chatting_without_asking_for_a_person_gives_no_offer(closed_desk, assert_error):
    conversation = await closed_desk.start_conversation()
    await closed_desk.say(conversation, "Dzień dobry")

    response = await post_ticket(closed_desk, conversation, email="ofiara@example.pl")

    assert_error(response, 409, "ticket_not_offered")
    assert closed_desk.backend.ticket_emails == []


async def test_the_confirmation_e_mail_carries_no_visitor_text(closed_desk):
    conversation = await offered_conversation(closed_desk)

    response = await post_ticket(closed_desk, conversation, email="ofiara@example.pl")

    assert response.status_code == 201
    [sent] = closed_desk.backend.ticket_emails
    assert sent == {
        "kind": "ticket_received",
        "to": "ofiara@example.pl",
        "ticket_number": response.json()["ticket"]["number"],
    }
    assert SPAM not in str(sent)


async def test_one_contact_gets_at_most_three_tickets_a_day(closed_desk, assert_error):
    conversations = [await offered_conversation(closed_desk) for _ in range(4)]

    responses = [
        await post_ticket(closed_desk, conversation, email="Ofiara@Example.pl")
        for conversation in conversations
    ]

    assert [r.status_code for r in responses] == [201, 201, 201, 429]
    refused = responses[-1]
    assert_error(refused, 429, "too_many_tickets_for_contact",
                 "w ciągu ostatniej doby", "Spróbuj ponownie za 24 godziny.")
    assert 86_390 <= int(refused.headers["retry-after"]) <= 86_400
    assert len(closed_desk.backend.ticket_emails) == 3


async def test_one_phone_number_gets_at_most_three_tickets_a_day(
    stub_rasa, make_settings, monkeypatch
):
    # Behind a trusted proxy (SANIC_PROXIES_COUNT): each ticket from another client address.
    monkeypatch.setenv("SANIC_PROXIES_COUNT", "1")
    stub_rasa.replies_by_message[ASK_FOR_A_PERSON] = HANDOFF_REPLY
    async with running_desk(stub_rasa, make_settings, SATURDAY_EVENING) as desk:
        conversations = [await offered_conversation(desk) for _ in range(4)]
        responses = [
            await desk.client.post(
                f"/api/v1/conversations/{conversation}/tickets",
                json={"question": SPAM, "phone": phone},
                headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
            )
            for n, (conversation, phone) in enumerate(
                zip(conversations, ["600 100 200", "600-100-200", "+48600100200", "600100200"])
            )
        ]

    assert [r.status_code for r in responses] == [201, 201, 201, 429]
    assert responses[-1].json()["error"]["code"] == "too_many_tickets_for_contact"


async def test_one_client_address_leaves_at_most_five_tickets_an_hour(closed_desk, assert_error):
    conversations = [await offered_conversation(closed_desk) for _ in range(6)]

    responses = [
        await post_ticket(closed_desk, conversation, email=f"osoba{n}@example.pl")
        for n, conversation in enumerate(conversations)
    ]

    assert [r.status_code for r in responses] == [201] * 5 + [429]
    assert_error(responses[-1], 429, "too_many_tickets_from_address",
                 "w ciągu ostatniej godziny", "Spróbuj ponownie za 1 godzinę.")
    assert 3_590 <= int(responses[-1].headers["retry-after"]) <= 3_600


async def test_a_burst_from_one_conversation_leaves_three_tickets(closed_desk):
    conversation = await offered_conversation(closed_desk)

    responses = await asyncio.gather(*(
        post_ticket(closed_desk, conversation, email=f"osoba{n}@example.pl") for n in range(20)
    ))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 3 + [429] * 17
    assert await ticket_count(closed_desk) == 3
    assert len(closed_desk.backend.ticket_emails) == 3


async def test_a_burst_at_one_address_mails_it_three_times(closed_desk):
    conversations = [await offered_conversation(closed_desk) for _ in range(4)]

    responses = await asyncio.gather(*(
        post_ticket(closed_desk, conversations[n % 4], email="ofiara@example.pl")
        for n in range(16)
    ))

    assert sorted(r.status_code for r in responses) == [201] * 3 + [429] * 13
    assert len(closed_desk.backend.ticket_emails) == 3


def test_retry_wording_matches_the_window():
    assert wait_pl(40) == "40 sekund"
    assert wait_pl(61) == "2 minuty"
    assert wait_pl(300) == "5 minut"
    assert wait_pl(3600) == "1 godzinę"
    assert wait_pl(3601) == "2 godziny"
    assert wait_pl(5 * 3600) == "5 godzin"
    assert wait_pl(22 * 3600) == "22 godziny"


def test_client_networks():
    assert client_network("203.0.113.77") == "203.0.113.0/24"
    assert client_network("::ffff:203.0.113.77") == "203.0.113.0/24"
    assert client_network("2001:db8:ab:cdef:1:2:3:4") == "2001:db8:ab:cd00::/56"
    assert client_network("-") is None
    assert client_metadata("-") == {}
    assert requester_key("203.0.113.77") == "203.0.113.77"
    assert requester_key("2001:db8:ab:cdef::1") == requester_key("2001:db8:ab:cd12::9")
