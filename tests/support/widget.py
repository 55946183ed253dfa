"""Talking to the chat widget in a Playwright page the way a person does: type, press Enter,
wait for the answer to *this* message.

Waiting for "the n-th bot bubble" or for "a bubble containing X" is not enough: one answer can
be several bubbles, and an earlier bubble may already contain the fragment, so a test would
type its next line before the assistant has answered the previous one.
"""

from __future__ import annotations

BOT_BUBBLES = ".pomocnik-message--bot:not(.pomocnik-message--agent)"
REPLY_TIMEOUT_MS = 30_000


async def tell(page, text: str, timeout_ms: int = REPLY_TIMEOUT_MS) -> list[str]:
    """Sends ``text`` through the widget's input; returns the texts of the bot bubbles that
    answer it (at least one)."""
    before = await page.locator(BOT_BUBBLES).count()
    chat_input = page.locator("#pomocnik-input")
    await chat_input.fill(text)
    await chat_input.press("Enter")
    await page.wait_for_function(
        "([selector, before]) => document.querySelectorAll(selector).length > before",
        arg=[BOT_BUBBLES, before],
        timeout=timeout_ms,
    )
    texts = await page.locator(BOT_BUBBLES).all_inner_texts()
    return texts[before:]
