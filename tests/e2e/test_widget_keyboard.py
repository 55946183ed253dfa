"""The widget in Chromium against all five services: quick-reply buttons, the masked PIN field,
and the whole chat done with the keyboard only (focus always visible)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e

REPLY_TIMEOUT = 30_000


async def bot_says(page, fragment: str) -> None:
    locator = page.locator(".pomocnik-message--bot", has_text=re.compile(fragment, re.I)).last
    await locator.wait_for(timeout=REPLY_TIMEOUT)


async def focused(page) -> dict:
    """What has the focus, and whether it is visibly marked."""
    return await page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {
                id: el.id,
                cls: el.className,
                text: (el.textContent || "").trim(),
                focusVisible: el.matches(":focus-visible"),
                outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
            };
        }"""
    )


async def tab_to(page, predicate, *, backwards: bool = False, limit: int = 25) -> dict:
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        await page.keyboard.press(key)
        current = await focused(page)
        if predicate(current):
            return current
    raise AssertionError(f"never reached the element with {key} (last: {current})")


async def test_buttons_and_the_masked_pin(stack, browser):
    page = await browser.new_page(viewport={"width": 360, "height": 740})
    await page.goto(stack.url("gateway") + "/")
    await page.locator(".pomocnik-launcher").click()
    chat_input = page.locator("#pomocnik-input")
    await chat_input.fill("chce zarejestrowac licencje comarch")
    await chat_input.press("Enter")
    await bot_says(page, "e-mail")

    await chat_input.fill("anna.testowa@example.pl")
    await chat_input.press("Enter")
    await bot_says(page, "ID Comarch")
    await chat_input.fill("68577")
    await chat_input.press("Enter")
    await bot_says(page, "PIN licencji")

    # The PIN: a password field with its own label, and dots in the conversation.
    secret = page.get_by_label("Kod lub PIN (wpisywane znaki są ukryte)")
    await secret.wait_for()
    assert await secret.get_attribute("type") == "password"
    assert await secret.evaluate("el => el === document.activeElement")
    assert await chat_input.is_hidden()
    await secret.fill("4821")
    await secret.press("Enter")
    await bot_says(page, "NIP")
    shown = page.locator(".pomocnik-message--secret .pomocnik-bubble").last
    assert await shown.text_content() == "••••"
    assert "4821" not in await page.locator(".pomocnik-root").inner_text()
    # Back to the normal field for the next answer.
    await chat_input.wait_for()
    assert await chat_input.evaluate("el => el === document.activeElement")
    await chat_input.fill("5260250274")
    await chat_input.press("Enter")
    await bot_says(page, "imię i nazwisko")
    await chat_input.fill("Anna Testowa")
    await chat_input.press("Enter")

    # The assistant's buttons: clicking one sends its payload and shows its title.
    green = page.get_by_role("button", name="Zielony")
    await green.wait_for(timeout=REPLY_TIMEOUT)
    group = page.get_by_role("group", name="Szybkie odpowiedzi").last
    assert await group.get_by_role("button").count() == 4
    await green.click()
    await page.locator(".pomocnik-message--user", has_text="Zielony").wait_for()
    await bot_says(page, "regulamin")
    assert await green.is_disabled()  # spent once answered
    await page.close()


async def test_the_chat_works_with_the_keyboard_only(stack, browser):
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(stack.url("gateway") + "/")
    await page.locator(".pomocnik-launcher").wait_for()

    # Tab through the page to the launcher; its focus ring is visible.
    launcher = await tab_to(page, lambda f: "pomocnik-launcher" in f["cls"])
    assert launcher["focusVisible"] and launcher["outline"]
    await page.keyboard.press("Enter")
    assert (await focused(page))["id"] == "pomocnik-input"
    assert await page.locator("#pomocnik-panel").is_visible()

    # Type and send with Enter.
    await page.keyboard.type("jak sie zalogowac")
    await page.keyboard.press("Enter")
    await bot_says(page, "Czy wysłać Ci link")
    assert (await focused(page))["id"] == "pomocnik-input"

    # Back (Shift+Tab) to the newest quick replies; Enter chooses one.
    choice = await tab_to(page, lambda f: f["text"] == "Tak, wyślij link", backwards=True)
    assert choice["focusVisible"] and choice["outline"]
    await page.keyboard.press("Enter")
    await page.locator(".pomocnik-message--user", has_text="Tak, wyślij link").wait_for()
    await bot_says(page, "e-mail")
    assert (await focused(page))["id"] == "pomocnik-input"  # the focus came back to the field

    # Escape closes the chat and gives the focus back to the launcher.
    await page.keyboard.press("Escape")
    assert await page.locator("#pomocnik-panel").is_hidden()
    assert "pomocnik-launcher" in (await focused(page))["cls"]
    await context.close()

    # Space works as well, on a fresh visitor's greeting.
    page = await browser.new_page(viewport={"width": 360, "height": 740})
    await page.goto(stack.url("gateway") + "/")
    await page.locator(".pomocnik-launcher").wait_for()
    await tab_to(page, lambda f: "pomocnik-launcher" in f["cls"])
    await page.keyboard.press("Space")
    assert (await focused(page))["id"] == "pomocnik-input"
    greeting_choice = await tab_to(page, lambda f: f["text"] == "Jak się zalogować?", backwards=True)
    assert greeting_choice["focusVisible"]
    await page.keyboard.press("Space")
    await page.locator(".pomocnik-message--user", has_text="Jak się zalogować?").wait_for()
    await bot_says(page, "Comarch Cloud")
    await page.close()
