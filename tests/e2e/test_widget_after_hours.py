"""The widget in Chromium against all five services on a Saturday evening (the gateway's business
hours read a clock started at GATEWAY_HOURS_CLOCK_START): the ticket form offered instead of an
adviser (and its e-mail), rating the conversation from the header, and a visitor signed in on
the demo pages whom the assistant serves without an e-mailed code.

One stack for the whole module (Rasa takes about a minute to start); each test uses its own
browser context, so conversations never mix.
"""

from __future__ import annotations

import re

import httpx
import pytest

from harness.stack import start_stack, stop_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

SATURDAY_EVENING = "2026-11-21T20:00:00+01:00"
REPLY_TIMEOUT = 30_000
JAN = "jan.kowalski@majafirma.pl"
JAN_PASSWORD = "Faktura#2026"  # backend/demo_data.py
TICKET_EMAIL = "ewa.zglaszajaca@example.pl"


@pytest.fixture(scope="module")
def after_hours(tmp_path_factory):
    running = start_stack(
        tmp_path_factory.mktemp("after-hours"),
        extra_env={"GATEWAY_HOURS_CLOCK_START": SATURDAY_EVENING},
    )
    yield running
    stop_stack(running)


@pytest.fixture
async def sink(after_hours):
    async with httpx.AsyncClient(base_url=after_hours.url("mailsink"), timeout=10) as client:
        yield client


@pytest.fixture
async def chat_page(browser):
    context = await browser.new_context(viewport={"width": 360, "height": 740})
    yield await context.new_page()
    await context.close()


async def open_chat(page, url: str):
    await page.goto(url)
    await page.locator(".pomocnik-launcher").click()
    chat_input = page.locator("#pomocnik-input")
    await chat_input.wait_for()
    return chat_input


async def say(chat_input, text: str) -> None:
    await chat_input.fill(text)
    await chat_input.press("Enter")


async def test_after_hours_the_visitor_leaves_a_ticket(after_hours, chat_page, sink):
    page = chat_page
    chat_input = await open_chat(page, after_hours.url("gateway") + "/")
    await say(chat_input, "chce rozmawiac z konsultantem")

    notice = page.locator(".pomocnik-message--unavailable")
    await notice.wait_for(timeout=REPLY_TIMEOUT)
    assert "w poniedziałek 23.11 od 8:00" in await notice.inner_text()
    assert "32 356 22 23" in await notice.inner_text()

    form = page.get_by_role("form", name="Zostaw zgłoszenie")
    await form.wait_for()
    email = form.get_by_label("E-mail")
    # The focus moved into the new form.
    await page.wait_for_function("document.activeElement && document.activeElement.type === 'email'")
    assert await email.get_attribute("type") == "email"
    assert await form.get_by_label("Telefon").get_attribute("type") == "tel"

    # A wrong address: the gateway's Polish message next to the field, nothing typed is lost.
    await email.fill("ewa(at)example")
    await form.get_by_label("Twoje pytanie").fill("Nie mogę wystawić faktury korygującej.")
    await form.get_by_role("button", name="Wyślij zgłoszenie").click()
    await form.get_by_text("To nie wygląda na poprawny adres e-mail").wait_for()
    assert await email.get_attribute("aria-invalid") == "true"
    assert await form.get_by_label("Twoje pytanie").input_value() == (
        "Nie mogę wystawić faktury korygującej."
    )

    await email.fill(TICKET_EMAIL)
    await email.press("Enter")  # submits the form
    confirmation = page.locator(".pomocnik-message--confirmed", has_text="PM-")
    await confirmation.wait_for(timeout=REPLY_TIMEOUT)
    number = re.search(r"PM-\d{6}", await confirmation.inner_text()).group(0)
    assert await form.count() == 0
    assert await chat_input.evaluate("el => el === document.activeElement")

    async def confirmation_mail():
        messages = (await sink.get("/api/messages", params={"to": TICKET_EMAIL})).json()
        return [m for m in messages["messages"] if number in m["subject"]]

    [mail] = await eventually(confirmation_mail, timeout=20)
    assert mail["subject"].startswith(f"Przyjęliśmy Twoje zgłoszenie nr {number}")

    # After a reload the used form does not come back; the notices do.
    await page.reload()
    await page.locator(".pomocnik-launcher").click()
    await page.locator(".pomocnik-message--confirmed", has_text=number).wait_for()
    assert await page.locator(".pomocnik-message--unavailable").count() == 1
    assert await page.locator(".pomocnik-card--ticket").count() == 0


async def test_rating_from_the_header_with_the_keyboard(after_hours, chat_page):
    page = chat_page
    chat_input = await open_chat(page, after_hours.url("gateway") + "/")
    rate = page.get_by_role("button", name="Zakończ i oceń rozmowę")
    assert await rate.is_hidden()  # nothing to rate before the conversation starts
    await say(chat_input, "dzien dobry")
    await page.locator(".pomocnik-message--bot").nth(1).wait_for(timeout=REPLY_TIMEOUT)

    await rate.click()
    form = page.get_by_role("form", name="Oceń rozmowę")
    await form.wait_for()
    assert await form.get_by_role("group", name="Jak oceniasz tę rozmowę?").count() == 1
    assert await form.get_by_role("radio").count() == 5
    first = form.get_by_role("radio", name="1 – bardzo źle")
    assert await first.evaluate("el => el === document.activeElement")
    # Arrow keys move through the stars (a native radio group).
    for _ in range(3):
        await page.keyboard.press("ArrowRight")
    assert await form.get_by_role("radio", name="4 – dobrze").is_checked()
    assert await form.locator(".pomocnik-star--on").count() == 4
    await page.keyboard.press("Tab")
    assert await form.get_by_label("Komentarz (opcjonalnie)").evaluate(
        "el => el === document.activeElement"
    )
    await page.keyboard.type("Szybka odpowiedź, dziękuję.")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")  # "Wyślij ocenę"

    await page.locator(".pomocnik-message--confirmed", has_text="Dziękujemy za ocenę!").wait_for(
        timeout=REPLY_TIMEOUT
    )
    assert await form.count() == 0
    assert await rate.is_hidden()  # once only
    assert await chat_input.evaluate("el => el === document.activeElement")

    await page.reload()
    await page.locator(".pomocnik-launcher").click()
    await page.locator(".pomocnik-message--confirmed", has_text="Dziękujemy za ocenę!").wait_for()
    assert await rate.is_hidden()
    assert await page.locator(".pomocnik-card--rating").count() == 0


async def test_signed_in_visitor_is_served_without_a_code(after_hours, chat_page, sink):
    page = chat_page
    gateway = after_hours.url("gateway")
    await page.goto(gateway + "/")
    await page.get_by_role("link", name="Zaloguj się do Panelu Biura").click()
    await page.wait_for_url(re.compile(r"/demo/logowanie$"))
    assert await page.get_by_text("Konto demonstracyjne:").is_visible()

    await page.get_by_label("E-mail").fill(JAN)
    await page.get_by_label("Hasło").fill(JAN_PASSWORD)
    await page.get_by_role("button", name="Zaloguj się", exact=True).click()
    await page.wait_for_url(re.compile(r"/panel$"))
    assert await page.get_by_text("Zalogowano: Jan Kowalski").is_visible()
    cookies = {c["name"]: c for c in await page.context.cookies()}
    token = cookies["pomocnik_demo_session"]["value"]
    assert cookies["pomocnik_demo_session"]["httpOnly"]

    await page.locator(".pomocnik-launcher").click()
    await page.get_by_text("Zalogowano jako Jan Kowalski").wait_for(timeout=REPLY_TIMEOUT)
    chat_input = page.locator("#pomocnik-input")
    await say(chat_input, "jaki mam pakiet")
    answer = page.locator(".pomocnik-message--bot", has_text="Majama Michał Zając").last
    await answer.wait_for(timeout=REPLY_TIMEOUT)
    assert "pakiet" in (await answer.inner_text()).lower()

    # No e-mailed code was asked for or sent.
    bot_texts = await page.locator(".pomocnik-message--bot").all_inner_texts()
    assert not any("kod" in text.lower() for text in bot_texts), bot_texts
    sent_to_jan = (await sink.get("/api/messages", params={"to": JAN})).json()["messages"]
    assert not any("kod" in m["subject"].lower() for m in sent_to_jan)
    # The token is never stored by the widget nor shown.
    storage = await page.evaluate("JSON.stringify(Object.assign({}, localStorage))")
    assert token not in storage
    assert token not in await page.locator("body").inner_text()

    # Signing out clears the session: the panel sends to the sign-in page again.
    await page.keyboard.press("Escape")  # the chat covers the page on a phone
    await page.get_by_role("button", name="Wyloguj").click()
    await page.wait_for_url(re.compile(r"/$"))
    await page.goto(gateway + "/panel")
    await page.wait_for_url(re.compile(r"/demo/logowanie$"))
