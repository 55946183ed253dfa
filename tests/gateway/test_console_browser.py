"""The desk in a real browser (Debian's Chromium through Playwright), keyboard only: sign in,
a visitor appears in the queue live, take the conversation, insert a canned answer, send it
with Ctrl+Enter, and see the visitor's next message arrive."""

from __future__ import annotations

import shutil

import httpx
import pytest

from tests.support.clock import FakeClock
from tests.support.console import ANNA, PASSWORD, Visitor, add_agent

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None,
                                reason="chromium is not installed")


@pytest.fixture
async def gateway(stub_rasa, make_settings, start_gateway, database_url):
    async with start_gateway(make_settings(stub_rasa.url), clock=FakeClock()) as url:
        await add_agent(database_url, *ANNA)
        yield url


@pytest.fixture
async def page(gateway):
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="pl-PL")
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("response", lambda response: response.status >= 400
                and errors.append(f"{response.status} {response.url}"))
        page.errors = errors
        yield page
        await browser.close()


async def test_an_adviser_works_the_desk_with_the_keyboard(gateway, page, stub_rasa):
    await page.goto(f"{gateway}/agent/login")
    await page.wait_for_function("document.activeElement.id === 'email'")  # autofocus
    await page.keyboard.type(ANNA[0])
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{gateway}/agent")
    await page.wait_for_selector("#connection:has-text('Połączono')")

    async with httpx.AsyncClient(base_url=gateway, trust_env=False, timeout=10) as http:
        visitor = await Visitor.start(http)
        await visitor.ask_for_adviser(stub_rasa)  # possible: the desk page sent a heartbeat

        card = page.locator("#queue-list button.card")
        await card.wait_for()
        assert "Chcę rozmawiać z konsultantem" in await card.inner_text()
        await card.focus()
        outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid"  # visible focus
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#transcript .message.visitor")

        await page.locator("#take").focus()
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#reply-text:not([disabled])")
        await page.wait_for_selector("#mine-list button.card")

        await page.locator(".canned-item", has_text="Nie pamiętam hasła").focus()
        await page.keyboard.press("Enter")
        assert "Nie pamiętam hasła" in await page.locator("#reply-text").input_value()
        await page.keyboard.press("Control+Enter")
        await page.wait_for_selector("#transcript .message.agent")
        assert await page.locator("#reply-text").input_value() == ""

        transcript = await visitor.transcript()
        assert transcript[-1]["author"] == "agent"
        assert transcript[-1]["text"].startswith("W oknie logowania Comarch Cloud kliknij")

        await visitor.say("Dziękuję, już działa!")
        await page.wait_for_selector("#transcript .message.visitor:has-text('już działa')")

        await page.locator("#close").focus()
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#conversation-state:has-text('zakończona')")
        await page.locator("#mine-list button.card").wait_for(state="detached")
        assert await page.locator("#mine-empty").is_visible()

    assert page.errors == []
