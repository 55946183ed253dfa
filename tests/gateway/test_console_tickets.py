"""Tickets in the console (plain forms, POST-redirect-GET) against the real gateway. The
account backend, which e-mails the answer, is an HTTP stub (an outside service here)."""

from __future__ import annotations

import re

import httpx
import pytest

from harness.http_stub import HttpStub
from harness.rasa_stub import HANDOFF_REPLY
from tests.support.clock import FakeClock
from tests.support.console import (
    ANNA,
    AdviserBrowser,
    Visitor,
    add_agent,
)

QUESTION = "Nie mogę dodać księgowej do firmy – co robię źle?"


@pytest.fixture
async def backend():
    state = {"status": 202}
    stub = HttpStub(lambda request: (state["status"], {"status": "queued"}
                                     if state["status"] == 202 else {}))
    stub.state = state
    async with stub:
        yield stub


@pytest.fixture
async def gateway(stub_rasa, backend, make_settings, start_gateway, database_url):
    # Nobody is at the desk: asking for a person gets the ticket offer (tickets need one).
    stub_rasa.replies_by_message["Dzień dobry"] = HANDOFF_REPLY
    settings = make_settings(stub_rasa.url, backend_url=backend.url,
                             backend_service_token="stub-backend-token")
    async with start_gateway(settings, clock=FakeClock()) as url:
        await add_agent(database_url, *ANNA)
        yield url


@pytest.fixture
async def visitor_http(gateway):
    async with httpx.AsyncClient(base_url=gateway, trust_env=False, timeout=10) as http:
        yield http


@pytest.fixture
async def anna(gateway):
    browser = AdviserBrowser(gateway)
    await browser.login(ANNA[0])
    yield browser
    await browser.close()


async def leave_ticket(visitor_http, question: str = QUESTION, **contact) -> str:
    visitor = await Visitor.start(visitor_http)
    await visitor.say("Dzień dobry")
    response = await visitor_http.post(
        f"/api/v1/conversations/{visitor.session_id}/tickets",
        json={"question": question, **contact},
    )
    assert response.status_code == 201, response.text
    return response.json()["ticket"]["number"]


def ticket_id(number: str) -> int:
    return int(number.removeprefix("PM-"))


def alert(page: str) -> str:
    return re.search(r'<p class="alert" role="alert"[^>]*>([^<]*)</p>', page).group(1)


async def test_the_list_shows_open_tickets_and_filters_by_status(visitor_http, anna):
    first = await leave_ticket(visitor_http, email="jan.kowalski@majafirma.pl")
    second = await leave_ticket(visitor_http, phone="600 100 200")
    await anna.submit(f"/agent/tickets/{ticket_id(first)}/close", {})

    open_page = await anna.http.get("/agent/tickets")
    assert open_page.status_code == 200
    assert second in open_page.text and first not in open_page.text
    assert "600 100 200" in open_page.text
    closed_page = (await anna.http.get("/agent/tickets?status=closed")).text
    assert first in closed_page and second not in closed_page
    everything = (await anna.http.get("/agent/tickets?status=all")).text
    assert first in everything and second in everything
    assert '<label for="status">Status</label>' in everything


async def test_a_ticket_shows_question_contact_transcript_and_context(visitor_http, anna):
    number = await leave_ticket(visitor_http, email="jan.kowalski@majafirma.pl")

    page = await anna.http.get(f"/agent/tickets/{ticket_id(number)}")
    assert page.status_code == 200
    html = page.text
    assert f"Zgłoszenie {number}" in html
    assert QUESTION in html
    assert "jan.kowalski@majafirma.pl" in html
    assert "Dzień dobry" in html and "Klient" in html and "Asystent" in html
    assert "Klient nie był zalogowany." in html
    assert '<label for="answer">' in html


async def test_a_password_typed_into_the_question_is_stored_masked(visitor_http, anna):
    number = await leave_ticket(
        visitor_http,
        question="Loguję się hasłem Zima2026! i nie działa, PIN 4821 też nie przechodzi",
        phone="600 100 200",
    )

    html = (await anna.http.get(f"/agent/tickets/{ticket_id(number)}")).text
    assert "Zima2026!" not in html and "4821" not in html
    assert "[hasło usunięte]" in html and "nie przechodzi" in html


async def test_answering_emails_the_visitor_through_the_backend(visitor_http, anna, backend):
    number = await leave_ticket(visitor_http, email="jan.kowalski@majafirma.pl")

    response = await anna.submit(f"/agent/tickets/{ticket_id(number)}/answer",
                                 {"answer": "Dodaj ją w Dane i ustawienia → Użytkownicy."})
    assert response.status_code == 303
    assert response.headers["location"] == f"/agent/tickets/{ticket_id(number)}?done=answered"

    sent = [r.json() for r in backend.requests if r.path == "/api/v1/support/ticket-emails"]
    assert sent[-1] == {
        "kind": "ticket_answered", "to": "jan.kowalski@majafirma.pl", "ticket_number": number,
        "answer": "Dodaj ją w Dane i ustawienia → Użytkownicy."}
    assert all("question" not in body for body in sent)  # never the visitor's words
    page = (await anna.http.get(response.headers["location"])).text
    assert "Odpowiedź wysłana e-mailem" in page
    assert "z odpowiedzią" in page
    assert (await anna.http.get("/agent/tickets?status=answered")).text.count(number) == 1


async def test_an_empty_answer_is_refused_with_a_polish_message(visitor_http, anna):
    number = await leave_ticket(visitor_http, email="jan.kowalski@majafirma.pl")

    response = await anna.submit(f"/agent/tickets/{ticket_id(number)}/answer", {"answer": "  "})
    assert response.status_code == 422
    assert alert(response.text) == "Wpisz treść odpowiedzi."


async def test_when_the_email_fails_the_draft_is_kept(visitor_http, anna, backend):
    number = await leave_ticket(visitor_http, email="jan.kowalski@majafirma.pl")
    backend.state["status"] = 503

    response = await anna.submit(f"/agent/tickets/{ticket_id(number)}/answer",
                                 {"answer": "Proszę spróbować jeszcze raz."})
    assert response.status_code == 503
    assert "Nie udało się wysłać e-maila" in alert(response.text)
    assert ">Proszę spróbować jeszcze raz.</textarea>" in response.text
    assert "otwarte" in response.text


async def test_a_phone_only_ticket_is_answered_by_phone_and_closed(visitor_http, anna):
    number = await leave_ticket(visitor_http, phone="600 100 200")
    page = (await anna.http.get(f"/agent/tickets/{ticket_id(number)}")).text
    assert "zadzwoń" in page and 'name="answer"' not in page

    refused = await anna.submit(f"/agent/tickets/{ticket_id(number)}/answer", {"answer": "Hej"})
    assert refused.status_code == 409
    assert "tylko telefon" in alert(refused.text)

    closed = await anna.submit(f"/agent/tickets/{ticket_id(number)}/close", {})
    assert closed.status_code == 303
    page = (await anna.http.get(closed.headers["location"])).text
    assert "Zgłoszenie zamknięte." in page and "Zamknij zgłoszenie" not in page
    again = await anna.submit(f"/agent/tickets/{ticket_id(number)}/answer", {"answer": "Hej"})
    assert again.status_code == 409 and alert(again.text) == "Zgłoszenie jest zamknięte."


async def test_ticket_forms_need_the_csrf_field(visitor_http, anna):
    number = await leave_ticket(visitor_http, email="jan.kowalski@majafirma.pl")

    for action in ("answer", "close"):
        response = await anna.http.post(f"/agent/tickets/{ticket_id(number)}/{action}",
                                        data={"answer": "x", "csrf_token": "forged"})
        assert response.status_code == 403
    assert "otwarte" in (await anna.http.get(f"/agent/tickets/{ticket_id(number)}")).text


async def test_an_unknown_ticket_is_a_404_page(anna):
    response = await anna.http.get("/agent/tickets/424242")
    assert response.status_code == 404
    assert alert(response.text) == "Nie znaleziono zgłoszenia."
    assert (await anna.submit("/agent/tickets/424242/close", {})).status_code == 404
