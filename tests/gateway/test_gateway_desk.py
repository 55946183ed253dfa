"""The advisers' desk through the real gateway: handoff in and out of business hours, the
queue, an adviser holding the conversation, the hand-back to Rasa, tickets, rating and the
signed-in visitor's identity. Rasa and the account backend are real HTTP stubs."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from datetime import datetime, timedelta, timezone
from unittest.mock import ANY

import httpx
import pytest
from sqlalchemy import select

from bot.gateway.desk import AgentRef
from bot.gateway.hours import BusinessHours
from bot.gateway.models import Agent, AgentSession, Conversation, Handling, Message, Ticket
from tests.gateway.conftest import serving_gateway
from tests.gateway.stub_backend import JAN_SESSION, SERVICE_TOKEN, StubBackend, serving

# Tuesday 24.11.2026, 10:00 in Warsaw (in hours); Saturday 21.11.2026, 20:00 (after hours).
IN_HOURS = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
SATURDAY_EVENING = datetime(2026, 11, 21, 19, 0, tzinfo=timezone.utc)
HANDOFF_REPLY = [
    {"text": "Dobrze, przekazuję prośbę o rozmowę z konsultantem."},
    {"custom": {"handoff": {"requested": True}}},
]
ASK_FOR_A_PERSON = "chce rozmawiac z konsultantem"
_names = itertools.count()


class Desk:
    """One running gateway with handles on its app context, database and stubs."""

    def __init__(self, app, client: httpx.AsyncClient, stub_rasa, backend: StubBackend) -> None:
        self.app = app
        self.client = client
        self.rasa = stub_rasa
        self.backend = backend

    @property
    def ctx(self):
        return self.app.ctx

    async def start_conversation(self) -> str:
        response = await self.client.post("/api/v1/conversations")
        return response.json()["conversation_id"]

    async def say(self, conversation: str, text: str) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/conversations/{conversation}/messages", json={"text": text}
        )

    async def history(self, conversation: str) -> list[dict]:
        response = await self.client.get(f"/api/v1/conversations/{conversation}/messages")
        return response.json()["messages"]

    async def notices(self, conversation: str) -> list[dict]:
        return [m for m in await self.history(conversation) if m["author"] == "system"]

    async def conversation_row(self, conversation: str) -> Conversation:
        async with self.ctx.sessions() as session:
            return await session.scalar(
                select(Conversation).where(Conversation.session_id == conversation)
            )

    async def agent_at_desk(self, name: str = "Anna") -> AgentRef:
        """An adviser with a console open (a fresh heartbeat)."""
        async with self.ctx.sessions.begin() as session:
            agent = Agent(
                email=f"{name.lower()}{next(_names)}@pomocnik.test",
                display_name=name,
                password_hash="not-used-here",
            )
            session.add(agent)
            await session.flush()
            now = self.ctx.clock()
            session.add(
                AgentSession(
                    agent_id=agent.id,
                    token_hash=f"{agent.id:064d}",
                    csrf_token="x" * 32,
                    expires_at=now + timedelta(hours=8),
                    last_seen_at=now,
                )
            )
            return AgentRef(agent.id, name)


@contextlib.asynccontextmanager
async def running_desk(stub_rasa, make_settings, moment: datetime):
    backend = StubBackend()
    async with serving(backend) as backend_url:
        settings = make_settings(
            stub_rasa.url,
            backend_url=backend_url,
            backend_service_token=SERVICE_TOKEN,
            rasa_api_token="stub-rasa-api-token",
        )
        async with serving_gateway(settings, hours=BusinessHours(lambda: moment)) as (url, app):
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                yield Desk(app, client, stub_rasa, backend)


@pytest.fixture
async def desk(stub_rasa, make_settings):
    stub_rasa.replies_by_message[ASK_FOR_A_PERSON] = HANDOFF_REPLY
    async with running_desk(stub_rasa, make_settings, IN_HOURS) as running:
        yield running


@pytest.fixture
async def closed_desk(stub_rasa, make_settings):
    stub_rasa.replies_by_message[ASK_FOR_A_PERSON] = HANDOFF_REPLY
    async with running_desk(stub_rasa, make_settings, SATURDAY_EVENING) as running:
        yield running


# --- handoff ----------------------------------------------------------------------------------


async def test_in_hours_with_an_adviser_the_visitor_is_queued_and_told_their_place(desk):
    await desk.agent_at_desk()
    first, second = await desk.start_conversation(), await desk.start_conversation()

    await desk.say(first, ASK_FOR_A_PERSON)
    await desk.say(second, ASK_FOR_A_PERSON)

    notice = (await desk.notices(second))[-1]
    assert notice["custom"]["handoff"] == {"state": "queued", "position": 2}
    assert "Jesteś 2. w kolejce" in notice["text"]
    queue = await desk.ctx.desk.queue()
    assert [entry.last_text for entry in queue] == [ASK_FOR_A_PERSON, ASK_FOR_A_PERSON]
    assert (await desk.conversation_row(first)).handling is Handling.QUEUED


async def test_after_hours_the_visitor_gets_the_next_opening_contacts_and_a_ticket_offer(
    closed_desk,
):
    await closed_desk.agent_at_desk()  # even with a console open: it is Saturday evening
    conversation = await closed_desk.start_conversation()

    await closed_desk.say(conversation, ASK_FOR_A_PERSON)

    notice = (await closed_desk.notices(conversation))[-1]
    assert notice["custom"]["offer"] == "ticket"
    assert notice["custom"]["handoff"]["state"] == "unavailable"
    assert "w poniedziałek 23.11 od 8:00" in notice["text"]
    assert "32 356 22 23" in notice["text"] and "wsparcie@ingksiegowosc.pl" in notice["text"]
    assert (await closed_desk.conversation_row(conversation)).handling is Handling.ASSISTANT


async def test_in_hours_with_nobody_at_the_desk_the_visitor_is_not_queued(desk):
    conversation = await desk.start_conversation()

    await desk.say(conversation, ASK_FOR_A_PERSON)

    notice = (await desk.notices(conversation))[-1]
    assert notice["text"].startswith("Teraz żaden konsultant nie jest dostępny")
    assert notice["custom"]["offer"] == "ticket"
    assert await desk.ctx.desk.queue() == []


async def test_the_json_api_reply_carries_the_no_adviser_notice(desk):
    conversation = await desk.start_conversation()

    response = await desk.say(conversation, ASK_FOR_A_PERSON)

    assert response.status_code == 200
    replies = response.json()["messages"]
    assert replies[0]["text"] == "Dobrze, przekazuję prośbę o rozmowę z konsultantem."
    notice = replies[-1]
    assert notice["text"].startswith("Teraz żaden konsultant nie jest dostępny na czacie.")
    assert "32 356 22 23" in notice["text"] and "zgłoszenie" in notice["text"]
    assert notice["custom"]["offer"] == "ticket"
    assert notice["custom"]["handoff"]["state"] == "unavailable"
    assert notice == {key: value for key, value in (await desk.notices(conversation))[-1].items()
                      if key in notice}


async def test_after_hours_the_json_api_reply_says_when_advisers_are_back(closed_desk):
    conversation = await closed_desk.start_conversation()

    response = await closed_desk.say(conversation, ASK_FOR_A_PERSON)

    notice = response.json()["messages"][-1]
    assert "będą dostępni w poniedziałek 23.11 od 8:00" in notice["text"]
    assert notice["custom"]["offer"] == "ticket"
    assert notice["custom"]["handoff"]["next_opening"].startswith("2026-11-23T")


async def test_in_hours_with_an_adviser_the_json_api_reply_gives_the_queue_place(desk):
    await desk.agent_at_desk()
    conversation = await desk.start_conversation()

    notice = (await desk.say(conversation, ASK_FOR_A_PERSON)).json()["messages"][-1]

    assert notice["custom"]["handoff"] == {"state": "queued", "position": 1}
    assert "Jesteś 1. w kolejce" in notice["text"]


async def test_the_socket_reply_carries_the_no_adviser_notice(desk, visitors):
    visitor = await visitors(str(desk.client.base_url))
    session_id = await visitor.request_session(None)

    await visitor.say(ASK_FOR_A_PERSON, session_id, cid="cid-no-adviser-1")

    def texts(v) -> list[str]:
        return [event.get("text") or "" for event in v.events("bot_uttered")]

    await visitor.wait_until(lambda v: any(t.startswith("Teraz żaden") for t in texts(v)))
    assert texts(visitor)[0] == "Dobrze, przekazuję prośbę o rozmowę z konsultantem."
    notice = [e for e in visitor.events("bot_uttered") if (e.get("text") or "").startswith("Teraz")]
    assert "32 356 22 23" in notice[0]["text"]


async def test_an_adviser_whose_console_went_quiet_does_not_count(desk):
    agent = await desk.agent_at_desk()
    async with desk.ctx.sessions.begin() as session:
        row = await session.scalar(select(AgentSession).where(AgentSession.agent_id == agent.id))
        row.last_seen_at = desk.ctx.clock() - timedelta(minutes=5)

    assert not await desk.ctx.desk.agents_available()


async def test_the_visitor_can_cancel_waiting(desk):
    await desk.agent_at_desk()
    conversation = await desk.start_conversation()
    await desk.say(conversation, ASK_FOR_A_PERSON)

    cancelled = await desk.client.post(f"/api/v1/conversations/{conversation}/handoff/cancel")
    again = await desk.client.post(f"/api/v1/conversations/{conversation}/handoff/cancel")

    assert cancelled.status_code == 200
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_in_queue"
    assert (await desk.notices(conversation))[-1]["custom"]["handoff"] == {"state": "assistant"}
    assert await desk.ctx.desk.queue() == []


# --- an adviser holds the conversation ----------------------------------------------------------


async def test_two_advisers_cannot_take_the_same_conversation(desk):
    anna, piotr = await desk.agent_at_desk("Anna"), await desk.agent_at_desk("Piotr")
    conversation = await desk.start_conversation()
    await desk.say(conversation, ASK_FOR_A_PERSON)
    conversation_id = (await desk.conversation_row(conversation)).id

    outcomes = await asyncio.gather(
        desk.ctx.desk.take(conversation_id, anna),
        desk.ctx.desk.take(conversation_id, piotr),
        return_exceptions=True,
    )

    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1 and refused[0].code == "conversation_already_taken"
    joined = [n for n in await desk.notices(conversation) if n["custom"]["handoff"]["state"] == "agent"]
    assert len(joined) == 1


async def test_while_an_adviser_holds_it_the_assistant_is_silent_and_resumes_after(desk):
    anna = await desk.agent_at_desk("Anna")
    conversation = await desk.start_conversation()
    await desk.say(conversation, ASK_FOR_A_PERSON)
    conversation_id = (await desk.conversation_row(conversation)).id
    await desk.ctx.desk.take(conversation_id, anna)
    relayed_before = len(desk.rasa.webhook_requests)

    answer = await desk.say(conversation, "mam problem z logowaniem")
    await desk.ctx.desk.reply(conversation_id, anna, "Dzień dobry, w czym mogę pomóc?")

    assert answer.status_code == 200 and answer.json() == {"messages": []}
    assert len(desk.rasa.webhook_requests) == relayed_before  # Rasa never saw it
    history = await desk.history(conversation)
    assert history[-2]["author"] == "visitor" and history[-2]["status"] == "answered"
    assert history[-1] == {**history[-1], "author": "agent", "agent": "Anna",
                           "text": "Dzień dobry, w czym mogę pomóc?"}
    assert (await desk.notices(conversation))[-1]["text"] == "Do rozmowy dołącza konsultant Anna."

    desk.rasa.replies_by_message["/handoff_returned"] = [
        {"text": "Jestem z powrotem. W czym jeszcze mogę pomóc?"}
    ]
    await desk.ctx.desk.hand_back(conversation_id, anna)

    told = desk.rasa.webhook_requests[-1].json()
    assert told["message"] == "/handoff_returned"
    assert told["metadata"] == {"pomocnik_handoff": {"outcome": "returned"}}
    history = await desk.history(conversation)
    assert history[-1]["author"] == "bot" and history[-1]["text"].startswith("Jestem z powrotem")
    assert history[-2]["custom"]["handoff"] == {"state": "assistant"}
    await desk.say(conversation, "dziekuje")
    assert desk.rasa.webhook_requests[-1].json()["message"] == "dziekuje"


async def test_only_the_adviser_holding_it_may_reply_or_let_go(desk):
    anna, piotr = await desk.agent_at_desk("Anna"), await desk.agent_at_desk("Piotr")
    conversation = await desk.start_conversation()
    await desk.say(conversation, ASK_FOR_A_PERSON)
    conversation_id = (await desk.conversation_row(conversation)).id
    await desk.ctx.desk.take(conversation_id, anna)

    for attempt in (
        desk.ctx.desk.reply(conversation_id, piotr, "Cześć"),
        desk.ctx.desk.hand_back(conversation_id, piotr),
        desk.ctx.desk.close(conversation_id, piotr),
    ):
        with pytest.raises(Exception) as refused:
            await attempt
        assert refused.value.code == "conversation_not_yours"


async def test_closing_offers_a_rating_that_is_taken_once(desk):
    anna = await desk.agent_at_desk("Anna")
    conversation = await desk.start_conversation()
    await desk.say(conversation, ASK_FOR_A_PERSON)
    conversation_id = (await desk.conversation_row(conversation)).id
    await desk.ctx.desk.take(conversation_id, anna)
    desk.rasa.replies_by_message["/handoff_returned"] = []

    await desk.ctx.desk.close(conversation_id, anna)
    offer = (await desk.notices(conversation))[-1]
    url = f"/api/v1/conversations/{conversation}/rating"
    invalid = await desk.client.post(url, json={"score": 6})
    rated = await desk.client.post(url, json={"score": 5, "comment": "Szybko i konkretnie"})
    twice = await desk.client.post(url, json={"score": 1})

    assert offer["custom"]["offer"] == "rating"
    assert desk.rasa.webhook_requests[-1].json()["metadata"] == {
        "pomocnik_handoff": {"outcome": "closed"}
    }
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "rating_invalid"
    assert rated.status_code == 201
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_rated"
    row = await desk.conversation_row(conversation)
    assert (row.rating, row.rating_comment, row.handling) == (5, "Szybko i konkretnie", Handling.CLOSED)
    await desk.say(conversation, "jeszcze jedno pytanie")
    assert (await desk.conversation_row(conversation)).handling is Handling.ASSISTANT


# --- tickets --------------------------------------------------------------------------------


async def test_a_ticket_keeps_the_transcript_and_is_confirmed_by_e_mail(closed_desk):
    conversation = await closed_desk.start_conversation()
    await closed_desk.say(conversation, ASK_FOR_A_PERSON)

    response = await closed_desk.client.post(
        f"/api/v1/conversations/{conversation}/tickets",
        json={"email": "jan.kowalski@majafirma.pl", "question": "Nie dostałem e-maila aktywacyjnego."},
    )

    assert response.status_code == 201
    number = response.json()["ticket"]["number"]
    assert number == "PM-000001"
    assert closed_desk.backend.ticket_emails == [
        # The number only: never the visitor's words, to an address nobody verified.
        {"kind": "ticket_received", "to": "jan.kowalski@majafirma.pl", "ticket_number": number}
    ]
    confirmation = (await closed_desk.notices(conversation))[-1]
    assert confirmation["custom"] == {"ticket": {"number": number}}
    assert "j***@majafirma.pl" in confirmation["text"]
    assert "w poniedziałek 23.11 od 8:00" in confirmation["text"]
    async with closed_desk.ctx.sessions() as session:
        ticket = await session.scalar(select(Ticket))
    assert [m["text"] for m in ticket.transcript][:1] == [ASK_FOR_A_PERSON]
    assert ticket.context["assistant"]["intent"] == "reset_password"
    assert "pin" not in ticket.context["assistant"]["slots"]  # never shown to advisers


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"question": "Pytanie"}, "ticket_contact_missing"),
        ({"email": "nie-email", "question": "Pytanie"}, "ticket_email_invalid"),
        ({"phone": "12345", "question": "Pytanie"}, "ticket_phone_invalid"),
        ({"email": "jan@firma.pl", "question": "  "}, "ticket_question_missing"),
        ({"email": "jan@firma.pl", "question": "x" * 2001}, "ticket_question_too_long"),
        ({"email": ["jan@firma.pl"], "question": "Pytanie"}, "ticket_email_invalid"),
    ],
)
async def test_bad_ticket_input_gets_a_polish_message_and_nothing_is_stored(closed_desk, body, code):
    conversation = await closed_desk.start_conversation()

    response = await closed_desk.client.post(f"/api/v1/conversations/{conversation}/tickets", json=body)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    async with closed_desk.ctx.sessions() as session:
        assert await session.scalar(select(Ticket)) is None


async def test_a_phone_ticket_is_stored_without_an_e_mail(closed_desk):
    conversation = await closed_desk.start_conversation()
    await closed_desk.say(conversation, ASK_FOR_A_PERSON)

    response = await closed_desk.client.post(
        f"/api/v1/conversations/{conversation}/tickets",
        json={"phone": "+48 600-100-200", "question": "Proszę o telefon w sprawie pakietu."},
    )

    assert response.status_code == 201
    assert closed_desk.backend.ticket_emails == []
    async with closed_desk.ctx.sessions() as session:
        assert (await session.scalar(select(Ticket))).contact_phone == "600 100 200"


async def test_a_conversation_may_leave_at_most_three_tickets(closed_desk):
    conversation = await closed_desk.start_conversation()
    await closed_desk.say(conversation, ASK_FOR_A_PERSON)
    url = f"/api/v1/conversations/{conversation}/tickets"
    contacts = ["jan@firma.pl", "ola@firma.pl", "piotr@firma.pl", "ewa@firma.pl"]

    responses = [
        await closed_desk.client.post(url, json={"email": email, "question": "Pytanie"})
        for email in contacts
    ]

    assert [r.status_code for r in responses] == [201, 201, 201, 429]
    error = responses[-1].json()["error"]
    assert error["code"] == "too_many_tickets"
    assert error["message"].startswith("Z tej rozmowy wysłano już 3 zgłoszenia")
    assert "godzin" not in error["message"]  # no promise of a time that would not help


# --- intents and identity ---------------------------------------------------------------------


async def test_what_the_assistant_understood_is_recorded_for_the_statistics(desk):
    conversation = await desk.start_conversation()

    await desk.say(conversation, "nie pamietam hasla")

    async def recorded() -> str | None:
        async with desk.ctx.sessions() as session:
            return await session.scalar(select(Message.intent).where(Message.text == "nie pamietam hasla"))

    for _ in range(50):
        if await recorded():
            break
        await asyncio.sleep(0.05)
    assert await recorded() == "reset_password"
    # Rasa's channel answered what the turn did with the reply: the tracker is never read.
    assert desk.rasa.tracker_requests == []


async def test_a_signed_in_visitor_reaches_rasa_with_the_verified_account(desk, visitors):
    base = str(desk.client.base_url)
    visitor = await visitors(base)
    session_id = await visitor.request_session(None, session_token=JAN_SESSION)

    identity = await visitor.wait_for("pomocnik_identity")
    await visitor.say("jaki mam pakiet", session_id, cid="cid-identity-01")
    await visitor.wait_for("pomocnik_status")

    assert identity == {"verified": True, "name": "Jan Kowalski"}
    sent = desk.rasa.webhook_requests[-1].json()
    assert sent["metadata"] == {
        "pomocnik_identity": {
            "grant": "grant-for-jan-0123456789",
            "name": "Jan Kowalski",
            "email": "jan.kowalski@majafirma.pl",
        },
        "pomocnik_client": {"network": "127.0.0.0/24"},
        "pomocnik_turn": {"message": ANY},
    }
    row = await desk.conversation_row(session_id)
    assert (row.account_name, row.account_organisation) == ("Jan Kowalski", "Majama Michał Zając")


async def test_an_unknown_session_token_gives_no_identity_and_no_metadata(desk, visitors):
    visitor = await visitors(str(desk.client.base_url))
    session_id = await visitor.request_session(None, session_token="forged-token")

    identity = await visitor.wait_for("pomocnik_identity")
    await visitor.say("jaki mam pakiet", session_id, cid="cid-identity-02")
    await visitor.wait_for("pomocnik_status")

    assert identity == {"verified": False}
    assert desk.rasa.webhook_requests[-1].json()["metadata"] == {
        "pomocnik_client": {"network": "127.0.0.0/24"}, "pomocnik_turn": {"message": ANY}
    }
