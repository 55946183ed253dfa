"""The reset journey as a person does it: the widget in Chromium, the mailed link, the form."""

import re

import pytest

from tests.support.waiting import eventually
from tests.support.widget import tell

pytestmark = pytest.mark.e2e

# Anna's account (demo data), not Jan's: the suite's stack is shared, and the other tests ask
# for Jan's reset link up to the backend's limit of 5 an hour, after which a request is
# answered the same way but nothing is sent (so the address's owner is not flooded).
ANNA = "anna.nowak@biuro-nowak.pl"
PASSWORD = "Srebrny#Pakiet9"


async def bot_says(page, fragment: str) -> None:
    locator = page.locator(".pomocnik-message--bot", has_text=re.compile(fragment, re.I)).last
    await locator.wait_for(timeout=30_000)


async def test_reset_in_the_widget_then_on_the_mailed_page(stack, browser, mailbox):
    page = await browser.new_page(viewport={"width": 360, "height": 740})
    await page.goto(stack.url("gateway") + "/")
    assert await page.get_by_text("Zaloguj się do Panelu Biura").first.is_visible()

    await page.locator(".pomocnik-launcher").click()
    chat_input = page.locator("#pomocnik-input")
    await chat_input.wait_for()
    assert await chat_input.evaluate("el => el === document.activeElement")

    assert "e-mail" in " ".join(await tell(page, "nie pamietam hasla"))
    assert "link" in " ".join(await tell(page, ANNA))

    async def reset_mail():
        messages = (await mailbox.get("/api/messages", params={"to": ANNA})).json()["messages"]
        return [m for m in messages if m["subject"].startswith("Ustawienie nowego hasła")]

    mail = (await eventually(reset_mail, timeout=20))[0]
    link = re.search(r"http://\S+/reset-password\?token=\S+", mail["text"]).group(0)

    await page.goto(link)
    await page.get_by_label("Nowe hasło", exact=True).fill("krotkie")
    await page.get_by_label("Powtórz nowe hasło").fill("krotkie")
    await page.get_by_role("button", name="Zapisz nowe hasło").click()
    await page.get_by_text("co najmniej 8 znaków").first.wait_for()

    await page.get_by_label("Nowe hasło", exact=True).fill(PASSWORD)
    await page.get_by_label("Powtórz nowe hasło").fill(PASSWORD)
    await page.get_by_role("button", name="Zapisz nowe hasło").click()
    await page.get_by_role("heading", name="Hasło zostało zmienione").wait_for()

    response = await page.request.post(
        stack.url("backend") + "/api/v1/auth/login", data={"email": ANNA, "password": PASSWORD}
    )
    assert response.status == 200


async def test_history_survives_a_reload_and_a_new_tab(stack, browser):
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(stack.url("gateway") + "/")
    await page.locator(".pomocnik-launcher").click()
    chat_input = page.locator("#pomocnik-input")
    await chat_input.fill("nie pamietam hasla")
    await chat_input.press("Enter")
    await bot_says(page, "e-mail")
    conversation = await page.evaluate("localStorage.getItem('pomocnik.conversation')")

    # The page is reloaded: the browser kept only the conversation id.
    await page.reload()
    await page.locator(".pomocnik-launcher").click()
    await page.locator(".pomocnik-message--user", has_text="nie pamietam hasla").wait_for()
    await bot_says(page, "e-mail")
    assert await page.locator(".pomocnik-message--user").count() == 1
    assert await page.locator(".pomocnik-time").first.text_content()

    # A second tab of the same visitor shows the same conversation and carries it on.
    tab = await context.new_page()
    await tab.goto(stack.url("gateway") + "/")
    await tab.locator(".pomocnik-launcher").click()
    await tab.locator(".pomocnik-message--user", has_text="nie pamietam hasla").wait_for()
    await tab.locator("#pomocnik-input").fill("jan.kowalski(at)majafirma")
    await tab.locator("#pomocnik-input").press("Enter")
    # ...and the first tab sees it live.
    await page.locator(".pomocnik-message--user", has_text="jan.kowalski(at)majafirma").wait_for()
    assert await page.evaluate("localStorage.getItem('pomocnik.conversation')") == conversation
    assert await page.locator(".pomocnik-message--user").count() == 2
    await context.close()
