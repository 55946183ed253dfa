"""Support-ticket e-mails through real HTTP, a real database (outbox) and a real SMTP server."""

import pytest
from sqlalchemy import func, select

from backend.mail import support_emails
from backend.models import AuditEvent, OutboxMessage
from tests.support.smtp import body_text, html_text

TICKET_EMAILS = "/api/v1/support/ticket-emails"
CUSTOMER = "klient@example.pl"
QUESTION = 'Jak wystawić fakturę <b>korygującą</b> & "zaliczkową"?\nDruga linia.'
ANSWER = "Wejdź w <script>alert(1)</script> Sprzedaż → Faktury & wybierz „Koryguj”."


# Queued e-mail goes out before the backend stops (tests/backend/conftest.py).
pytestmark = pytest.mark.usefixtures("mail_settled")


def received(**overrides):
    # No "question": the e-mails never quote the customer (the address is unverified).
    return {
        "kind": "ticket_received",
        "to": CUSTOMER,
        "ticket_number": "PM-000123",
        **overrides,
    }


def answered(**overrides):
    return received(**{"kind": "ticket_answered", "answer": ANSWER, **overrides})


async def send(http, backend, body, headers=None):
    return await http.post(
        TICKET_EMAILS, json=body, headers=backend.service_headers() if headers is None else headers
    )


def assert_contact(text):
    assert "od poniedziałku do piątku w godz. 8:00–18:00" in text
    assert "32 356 22 23" in text and "wsparcie@ingksiegowosc.pl" in text


async def test_ticket_received_email_is_delivered(http, backend, smtp):
    response = await send(http, backend, received())

    assert response.status_code == 202, response.text
    assert response.json() == {"status": "queued"}
    [message] = await smtp.wait_for(1)
    assert message["To"] == CUSTOMER
    assert message["Subject"] == "Przyjęliśmy Twoje zgłoszenie nr PM-000123"
    text, page = body_text(message).replace("\r\n", "\n"), html_text(message)
    assert "PM-000123" in text and "PM-000123" in page
    assert "pytanie" not in text.lower() and "zignoruj tę wiadomość" in text
    assert_contact(text)
    assert_contact(page)
    async with backend.app.ctx.sessions() as session:
        [row] = (await session.scalars(select(OutboxMessage))).all()
        [event] = (await session.scalars(select(AuditEvent))).all()
    assert row.kind == "ticket_received" and row.to_address == CUSTOMER
    assert event.action == "ticket_email_queued" and event.account_id is None
    assert event.details == {"kind": "ticket_received", "ticket_number": "PM-000123"}


async def test_ticket_answered_email_quotes_question_and_answer(http, backend, smtp):
    response = await send(http, backend, answered(to="Klient@Example.PL"))

    assert response.status_code == 202, response.text
    [message] = await smtp.wait_for(1)
    assert message["To"] == CUSTOMER  # normalised like every address the backend takes
    assert message["Subject"] == "Odpowiedź na zgłoszenie nr PM-000123"
    text, page = body_text(message).replace("\r\n", "\n"), html_text(message)
    assert ANSWER in text and "Twoje pytanie" not in text
    assert_contact(text)
    assert_contact(page)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Sprzedaż → Faktury &amp; wybierz „Koryguj”" in page


def test_builders_are_pure_and_escape_html():
    content = support_emails.ticket_answered(
        to_address=CUSTOMER, ticket_number="PM-1", answer="<a>b</a> & \"c\""
    )
    assert content.kind == "ticket_answered"
    assert content.subject == "Odpowiedź na zgłoszenie nr PM-1"
    assert "<a>b</a>" in content.text_body
    assert "&lt;a&gt;b&lt;/a&gt; &amp;" in content.html_body
    assert "&#34;c&#34;" in content.html_body or "&quot;c&quot;" in content.html_body


async def test_answered_requires_the_answer_and_received_refuses_it(http, backend):
    without = received(kind="ticket_answered")
    response = await send(http, backend, without)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == "answer" and error["details"][0]["message"]

    response = await send(http, backend, received(answer=ANSWER))
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "answer"
    async with backend.app.ctx.sessions() as session:
        assert (await session.scalars(select(OutboxMessage))).all() == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"to": "to-nie-jest-adres"},
        {"to": "klient@"},
        {"to": "a b@example.pl"},
        {"to": ""},
        {"ticket_number": "pm-000123"},
        {"ticket_number": "PM 000123"},
        {"ticket_number": ""},
        {"ticket_number": "P" * 33},
        {"ticket_number": "PM-1\n"},
        {"question": ""},
        {"question": "   "},
        {"question": "x" * 2001},
        {"kind": "ticket_closed"},
        {"kind": None},
        {"extra": "pole"},
        {"question": 5},
        {"question": QUESTION},  # the customer's words are never mailed
    ],
)
async def test_invalid_bodies_are_422(http, backend, overrides):
    response = await send(http, backend, received(**overrides))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


async def test_longest_allowed_values_are_accepted(http, backend, smtp):
    body = answered(ticket_number="A" * 32, answer="a" * 5000)
    assert (await send(http, backend, body)).status_code == 202
    too_long = answered(answer="a" * 5001)
    assert (await send(http, backend, too_long)).status_code == 422
    await smtp.wait_for(1)


async def test_at_most_ten_emails_per_address_per_hour(http, backend, smtp):
    for number in range(10):
        response = await send(http, backend, received(ticket_number=f"PM-{number:06d}"))
        assert response.status_code == 202, (number, response.text)

    eleventh = await send(http, backend, received(to=CUSTOMER.upper(), ticket_number="PM-000011"))

    assert eleventh.status_code == 429
    error = eleventh.json()["error"]
    assert error["code"] == "ticket_email_limit" and "min" in error["message"]
    assert int(eleventh.headers["retry-after"]) == error["details"]["retry_after_seconds"] > 0
    # Another address is not affected.
    assert (await send(http, backend, received(to="inny@example.pl"))).status_code == 202
    await smtp.wait_for(11)
    async with backend.app.ctx.sessions() as session:
        queued = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert queued == 11

    # The window slides: an hour after the first e-mails, the address may get mail again.
    backend.clock.advance(hours=1, seconds=1)
    assert (await send(http, backend, received())).status_code == 202


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}],
    ids=["none", "wrong"],
)
async def test_the_service_token_is_required(http, backend, headers):
    response = await send(http, backend, received(), headers=headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


async def test_a_retry_with_the_same_idempotency_key_sends_once(http, backend, smtp):
    headers = {**backend.service_headers(), "Idempotency-Key": "ticket-PM-000123-received"}
    first = await send(http, backend, received(), headers=headers)
    again = await send(http, backend, received(), headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.headers.get("idempotent-replayed") == "true"
    await smtp.wait_for(1)
    async with backend.app.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
