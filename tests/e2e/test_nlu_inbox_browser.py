"""The NLU inbox against all five services, in Chromium: a visitor writes in the widget things
the assistant does not understand (and a password); the gateway reads each turn from Rasa's
real tracker; an editor (``agent-add --editor``) labels a message with the keyboard in
``/agent/nlu``; ``nlu-inbox-export`` (the operator's command) writes it as Rasa YAML; the
conversation review shows the turn with its intent, confidence and actions. The password is
in none of the pages, the API's JSON or the export."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import httpx
import pytest

from bot.gateway.nlu_export import fold, training_examples
from harness.stack import APP_PY, ROOT
from tests.support.widget import tell

pytestmark = pytest.mark.e2e

TIMEOUT = 30_000
EDITOR_EMAIL = "ewa.redaktor@ingksiegowosc.pl"
EDITOR_PASSWORD = "Redaktorka#2026-bezpieczne"
# Far from anything the assistant knows: each goes to the fallback or is at least unsure.
UNKNOWN = [
    "czy macie aplikację na telewizor",
    "tramwaj jedzie przez most",
    "jak wysłać JPK do urzędu skarbowego",
]
SECRET = "Zima2026!xq"
PASSWORD_LINE = f"moje hasło to {SECRET} i nie mogę wejść"


def gateway_env(stack) -> dict[str, str]:
    return {**os.environ, "POMOCNIK_ENV": "development",
            "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{stack.workdir / 'gateway.db'}"}


def cli(stack, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([APP_PY, "-m", "bot.gateway.cli", *args], cwd=ROOT,
                          env={**gateway_env(stack), **env}, check=True, capture_output=True,
                          text=True, timeout=120)


async def test_an_editor_turns_a_misunderstood_message_into_a_training_example(
    stack, browser, tmp_path
):
    known = training_examples(ROOT / "data")
    assert not [text for text in UNKNOWN if fold(text) in known], "pick texts not in data/"
    cli(stack, "agent-add", "--email", EDITOR_EMAIL, "--name", "Ewa", "--editor",
        AGENT_PASSWORD=EDITOR_PASSWORD)
    gateway = stack.url("gateway")

    visitor_context = await browser.new_context(viewport={"width": 390, "height": 800})
    widget = await visitor_context.new_page()
    await widget.goto(gateway + "/")
    await widget.locator(".pomocnik-launcher").click()
    for line in [PASSWORD_LINE, *UNKNOWN]:
        await tell(widget, line)

    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    await page.goto(gateway + "/agent/login")
    await page.get_by_label("E-mail").fill(EDITOR_EMAIL)
    await page.get_by_label("Hasło").fill(EDITOR_PASSWORD)
    await page.get_by_role("button", name="Zaloguj się").click()
    await page.wait_for_url(gateway + "/agent")
    cards = page.locator(".nlu-card")
    deadline = time.monotonic() + 30
    while True:  # the gateway reads each turn from Rasa's tracker right after the answer
        await page.goto(gateway + "/agent/nlu")
        if await cards.count() or time.monotonic() > deadline:
            break
        await page.wait_for_timeout(500)
    item = json.loads(await cards.first.get_attribute("data-item"))
    html = await page.content()
    api = await page.evaluate("fetch('/agent/api/nlu?status=all').then(r => r.text())")

    # What real Rasa made of it reached the inbox: the intent acted on, the guess, its score.
    assert item["text"] in UNKNOWN
    assert item["intent"]["name"] and item["predicted"]["name"] != "nlu_fallback"
    assert 0 <= item["predicted"]["confidence"] < 0.7
    assert {reason["code"] for reason in item["reasons"]} <= {"fallback", "low_confidence"}
    assert SECRET not in html + api

    # One message with the keyboard: the focus is in the filter; "poza" narrows, Enter saves.
    started = time.monotonic()
    await page.wait_for_function("document.activeElement.id === 'intent-filter'")
    await page.keyboard.type("poza")
    await page.keyboard.press("Enter")
    await page.locator(".nlu-card.done").first.wait_for(timeout=TIMEOUT)
    labelling_seconds = time.monotonic() - started
    assert labelling_seconds < 30
    assert "poza zakresem" in await page.locator(".nlu-card.done").first.inner_text()

    exported = cli(stack, "nlu-inbox-export", "--out", str(tmp_path / "inbox"))
    [written] = (tmp_path / "inbox").glob("*.yml")
    content = written.read_text(encoding="utf-8")
    assert "1 new example(s) written" in exported.stdout
    assert f"  - intent: out_of_scope\n    examples: |\n      - {item['text']}\n" in content
    assert SECRET not in content + exported.stdout

    await page.goto(gateway + "/agent/nlu?status=exported")
    assert item["text"] in await page.locator("#nlu-items").inner_text()

    # The review shows the turn: intent, confidence and the actions Rasa ran.
    await page.goto(f"{gateway}/agent/review/{item['conversation_id']}")
    turn = page.locator("#review-turns li", has_text=item["text"])
    assert re.search(r"pewność \d+%", await turn.inner_text())
    assert await turn.locator(".turn-actions code").count() >= 1
    review = await page.content()
    assert SECRET not in review and "[hasło usunięte]" in review
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=10) as http:
        assert (await http.get("/agent/api/nlu")).status_code == 401
    await context.close()
    await visitor_context.close()
