"""A ticket left by typing: the assistant collects the contact and the question
(actions/support.py, ticket_form) and sends ``custom: {"ticket": …}``; the gateway files it
like one from the widget's form, within the same rules, and answers on every channel with
its number or the reason it cannot. Real gateway and database; Rasa and the backend are
HTTP stubs."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.gateway.errors import MESSAGES
from bot.gateway.models import Message, Ticket
from tests.gateway.test_gateway_desk import ASK_FOR_A_PERSON, HANDOFF_REPLY, SATURDAY_EVENING
from tests.gateway.test_gateway_desk import running_desk

QUESTION = "Nie mogę się zalogować od wczoraj, hasło Tajne#Haslo2026 nie działa"
CONTACT_TEXT = "jan.kowalski@majafirma.pl"


def typed_ticket(**fields) -> list[dict]:
    return [{"recipient_id": "x", "custom": {"ticket": fields}}]


@pytest.fixture
async def closed_desk(stub_rasa, make_settings):
    stub_rasa.replies_by_message[ASK_FOR_A_PERSON] = HANDOFF_REPLY
    async with running_desk(stub_rasa, make_settings, SATURDAY_EVENING) as running:
        yield running


async def tickets(desk) -> list[Ticket]:
    async with desk.ctx.sessions() as session:
        return list(await session.scalars(select(Ticket)))


async def stored_texts(desk) -> list[str]:
    async with desk.ctx.sessions() as session:
        return [message.text or "" for message in await session.scalars(select(Message))]


async def test_a_typed_ticket_is_filed_and_confirmed_in_the_reply(closed_desk):
    conversation = await closed_desk.start_conversation()
    await closed_desk.say(conversation, ASK_FOR_A_PERSON)  # nobody there: a ticket is offered
    closed_desk.rasa.replies_by_message[CONTACT_TEXT] = typed_ticket(
        email=CONTACT_TEXT, question=QUESTION
    )

    response = await closed_desk.say(conversation, CONTACT_TEXT)

    assert response.status_code == 200
    [confirmation] = response.json()["messages"]
    [ticket] = await tickets(closed_desk)
    assert confirmation["text"].startswith(f"Dziękujemy! Przyjęliśmy zgłoszenie nr {ticket.number}.")
    assert confirmation["custom"] == {"ticket": {"number": ticket.number}}
    assert ticket.contact_email == CONTACT_TEXT
    assert "Nie mogę się zalogować od wczoraj" in ticket.question
    assert "Tajne#Haslo2026" not in ticket.question  # masked like any visitor text
    assert [sent["kind"] for sent in closed_desk.backend.ticket_emails] == ["ticket_received"]
    # The question travels in the ticket only: the transcript has no bot message carrying it.
    assert not any("Tajne#Haslo2026" in text for text in await stored_texts(closed_desk))


async def test_a_phone_number_is_a_contact_too(closed_desk):
    conversation = await closed_desk.start_conversation()
    await closed_desk.say(conversation, ASK_FOR_A_PERSON)
    closed_desk.rasa.replies_by_message["600 100 200"] = typed_ticket(
        phone="600 100 200", question="Proszę o telefon w sprawie faktury."
    )

    response = await closed_desk.say(conversation, "600 100 200")

    [ticket] = await tickets(closed_desk)
    assert ticket.contact_phone == "600 100 200" and ticket.contact_email is None
    assert response.json()["messages"][0]["custom"] == {"ticket": {"number": ticket.number}}


async def test_without_an_offer_the_visitor_is_told_why(closed_desk):
    conversation = await closed_desk.start_conversation()
    closed_desk.rasa.replies_by_message[CONTACT_TEXT] = typed_ticket(
        email=CONTACT_TEXT, question=QUESTION
    )

    response = await closed_desk.say(conversation, CONTACT_TEXT)

    assert response.status_code == 200
    [refusal] = response.json()["messages"]
    assert refusal["text"] == MESSAGES["ticket_not_offered"]
    assert refusal["custom"] == {"ticket": {"refused": "ticket_not_offered"}}
    assert await tickets(closed_desk) == []
    assert closed_desk.backend.ticket_emails == []


async def test_a_bad_contact_gets_a_polish_answer_not_an_error(closed_desk):
    conversation = await closed_desk.start_conversation()
    await closed_desk.say(conversation, ASK_FOR_A_PERSON)
    closed_desk.rasa.replies_by_message["zaraz"] = typed_ticket(
        email="to-nie-adres", question=QUESTION
    )

    response = await closed_desk.say(conversation, "zaraz")

    assert response.status_code == 200
    assert response.json()["messages"][0]["text"] == MESSAGES["ticket_email_invalid"]
    assert await tickets(closed_desk) == []


async def test_the_limit_per_conversation_holds_for_typed_tickets(closed_desk):
    conversation = await closed_desk.start_conversation()
    await closed_desk.say(conversation, ASK_FOR_A_PERSON)
    for number in range(4):
        text = f"zgloszenie numer {'abcd'[number]}"
        closed_desk.rasa.replies_by_message[text] = typed_ticket(
            email=f"osoba{number}@example.pl", question=QUESTION
        )
        response = await closed_desk.say(conversation, text)

    assert len(await tickets(closed_desk)) == 3
    assert response.json()["messages"][0]["custom"] == {"ticket": {"refused": "too_many_tickets"}}
