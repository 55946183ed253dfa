"""A handoff in business hours, in Chromium against all five services: the visitor asks for a
person in the widget, an adviser (signed in to /agent in a second browser context, created with
the operator's `agent-add` command) takes the conversation, they talk in real time, and the
adviser hands it back to the assistant, which greets the visitor again."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from harness.stack import APP_PY, ROOT

pytestmark = pytest.mark.e2e

TIMEOUT = 30_000
ADVISER_EMAIL = "anna.nowicka@ingksiegowosc.pl"
ADVISER_PASSWORD = "Konsultant#2026-bezpieczne"


def add_adviser(stack) -> None:
    """`make agent-add` against this stack's gateway database."""
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{stack.workdir / 'gateway.db'}",
        "AGENT_PASSWORD": ADVISER_PASSWORD,
    }
    subprocess.run(
        [APP_PY, "-m", "bot.gateway.cli", "agent-add", "--email", ADVISER_EMAIL, "--name", "Anna"],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )


async def test_an_adviser_takes_over_replies_live_and_hands_back(stack, browser):
    add_adviser(stack)
    gateway = stack.url("gateway")

    adviser_context = await browser.new_context(viewport={"width": 1440, "height": 900})
    desk = await adviser_context.new_page()
    await desk.goto(gateway + "/agent/login")
    await desk.get_by_label("E-mail").fill(ADVISER_EMAIL)
    await desk.get_by_label("Hasło").fill(ADVISER_PASSWORD)
    await desk.get_by_role("button", name="Zaloguj się").click()
    await desk.locator("#queue-list").wait_for(state="attached")
    await desk.locator("#connection", has_text=re.compile("Połączono", re.I)).wait_for(timeout=TIMEOUT)

    visitor_context = await browser.new_context(viewport={"width": 390, "height": 800})
    widget = await visitor_context.new_page()
    await widget.goto(gateway + "/")
    await widget.locator(".pomocnik-launcher").click()
    chat_input = widget.locator("#pomocnik-input")
    await chat_input.fill("chce rozmawiac z konsultantem")
    await chat_input.press("Enter")

    # The visitor is queued, sees their place and may cancel.
    await widget.locator(".pomocnik-message--queued", has_text="Jesteś 1. w kolejce").wait_for(timeout=TIMEOUT)
    assert await widget.get_by_role("button", name="Anuluj oczekiwanie").is_visible()

    # The queue on the desk updates live; the adviser takes the conversation.
    card = desk.locator("#queue-list .card", has_text="chce rozmawiac z konsultantem")
    await card.wait_for(timeout=TIMEOUT)
    await card.click()
    await desk.locator("#take").click()
    await widget.locator(".pomocnik-message--joined", has_text="Do rozmowy dołącza konsultant Anna").wait_for(timeout=TIMEOUT)
    assert await widget.get_by_role("button", name="Anuluj oczekiwanie").is_hidden()

    # Real time both ways; the assistant stays silent meanwhile.
    await desk.locator("#reply-text").fill("Dzień dobry, tu Anna. W czym mogę pomóc?")
    await desk.locator("#send").click()
    await widget.locator(".pomocnik-message--agent", has_text="tu Anna").wait_for(timeout=TIMEOUT)
    bot_messages = await widget.locator(".pomocnik-message--bot:not(.pomocnik-message--agent)").count()
    await chat_input.fill("nie dostaje maila aktywacyjnego")
    await chat_input.press("Enter")
    await desk.locator("#transcript", has_text="nie dostaje maila aktywacyjnego").wait_for(timeout=TIMEOUT)
    await desk.locator("#reply-text").fill("Sprawdzę to. Proszę zajrzeć też do folderu spam.")
    await desk.locator("#send").click()
    await widget.locator(".pomocnik-message--agent", has_text="folderu spam").wait_for(timeout=TIMEOUT)
    assert await widget.locator(".pomocnik-message--bot:not(.pomocnik-message--agent)").count() == bot_messages

    # Hand back: the visitor is told, and the assistant answers again.
    await desk.locator("#hand-back").click()
    await widget.locator(".pomocnik-message--returned", has_text="Dalej pomoże Ci asystent").wait_for(timeout=TIMEOUT)
    await widget.locator(".pomocnik-message--bot", has_text="Jestem z powrotem").wait_for(timeout=TIMEOUT)
    await chat_input.fill("jak sie zalogowac")
    await chat_input.press("Enter")
    await widget.locator(".pomocnik-message--bot", has_text="Comarch Cloud").last.wait_for(timeout=TIMEOUT)
    await adviser_context.close()
    await visitor_context.close()
