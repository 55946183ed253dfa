"""Screenshots of the advisers' console for docs/agents.md.

    .venv/app/bin/python scripts/screenshots.py [--out docs/img]

Starts its own gateway (``python -m bot.gateway``) on a throw-away SQLite database with a
stub Rasa (canned replies and a tracker with what it "understood" of each message), adds an
adviser with the NLU inbox permission (``agent-add --editor``), seeds two weeks of statistics,
then drives Debian's Chromium (scripts/ensure-chromium.sh) with Playwright: signs in, lets
visitors ask for a person and write things the assistant did not understand, takes one
conversation, replies with the keyboard and saves

- ``console-desk.png``  – the desk with the queue, the conversation and the visitor's details;
- ``console-stats.png`` – the statistics page;
- ``console-nlu.png`` – the NLU inbox: a message, the assistant's guess, an entity marked and
  the intent list narrowed by typing;
- ``console-review.png``, ``console-review-conversation.png`` – the conversation review: the
  list by outcome, and one conversation turn by turn.

Nothing else runs (no Rasa, no backend); it also serves as a by-hand check of console.js.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.gateway.db import create_engine, create_sessionmaker  # noqa: E402
from bot.gateway.models import Author, Conversation, Message, Ticket  # noqa: E402
from harness.stack import free_port  # noqa: E402
from harness.rasa_stub import HANDOFF_REPLY, HANDOFF_TEXT, StubRasa, parse_data  # noqa: E402

EMAIL, NAME, PASSWORD = "anna.nowicka@ingksiegowosc.pl", "Anna", "Konsultant#2026-zrzuty"
# A Monday morning in Warsaw, so advisers are "at work" whatever the real time is.
HOURS_CLOCK_START = datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]
REPLIES = {
    "Dzień dobry, nie mogę się zalogować": [
        {"text": "Przykro mi! Czy logujesz się przez okno Comarch Cloud?",
         "buttons": [{"title": "Tak", "payload": "/affirm"}, {"title": "Nie", "payload": "/deny"}]},
    ],
    "Tak, ale nie dostałem maila aktywacyjnego": [
        {"text": "Wyślę link aktywacyjny jeszcze raz. Podaj adres e-mail konta."},
    ],
    HANDOFF_TEXT: HANDOFF_REPLY,
    "Chcę zmienić pakiet na złoty, a system mi nie pozwala": [
        {"text": "Pomogę zmienić pakiet. Najpierw potwierdźmy Twoją tożsamość."},
    ],
}
# Visitors who were not understood (or not well): the NLU inbox and the review.
UNSURE = {
    "czy mogę wystawić fakturę w euro": [{"text": "Nie jestem pewien, o co chodzi. Czy chodzi o pakiety?",
                                          "buttons": [{"title": "Tak", "payload": "/packages_info"},
                                                      {"title": "Nie", "payload": "/out_of_scope"}]}],
    "a ten zielony to ile kosztuje": [{"text": "Pakiet zielony kosztuje 49 zł netto miesięcznie."}],
    "gdzie jest KSeF w panelu": [{"text": "Zaloguj się do Panelu Biura i wybierz „Ustawienia”."}],
    "nie mogę wysłać JPK, wyskakuje błąd 403": [{"text": "Przepraszam, nie zrozumiałem."}],
}
REPLIES.update(UNSURE)
UNDERSTOOD = {
    "czy mogę wystawić fakturę w euro": parse_data("packages_info", 0.31, ("change_package", 0.22)),
    "a ten zielony to ile kosztuje": parse_data("packages_info", 0.58, ("change_package", 0.3)),
    "gdzie jest KSeF w panelu": parse_data("login_help", 0.64, ("find_login", 0.2)),
    "nie mogę wysłać JPK, wyskakuje błąd 403": parse_data("login_help", 0.22),
    "Dzień dobry, nie mogę się zalogować": parse_data("login_help", 0.96),
    "Tak, ale nie dostałem maila aktywacyjnego": parse_data("resend_activation", 0.91),
    HANDOFF_TEXT: parse_data("human_handoff", 0.99),
    "Chcę zmienić pakiet na złoty, a system mi nie pozwala": parse_data("change_package", 0.93),
}
TURN_EVENTS = {
    "Dzień dobry, nie mogę się zalogować": [{"event": "action", "name": "utter_ask_cloud_login"}],
    "Tak, ale nie dostałem maila aktywacyjnego": [
        {"event": "action", "name": "resend_activation_form"},
        {"event": "active_loop", "name": "resend_activation_form"},
        {"event": "slot", "name": "requested_slot", "value": "email"}],
    HANDOFF_TEXT: [{"event": "action", "name": "action_handoff"}],
    "czy mogę wystawić fakturę w euro": [
        {"event": "action", "name": "action_two_stage_fallback"},
        {"event": "active_loop", "name": "action_two_stage_fallback"}],
    "nie mogę wysłać JPK, wyskakuje błąd 403": [
        {"event": "action", "name": "action_two_stage_fallback"},
        {"event": "active_loop", "name": "action_two_stage_fallback"}],
    "Chcę zmienić pakiet na złoty, a system mi nie pozwala": [
        {"event": "action", "name": "change_package_form"},
        {"event": "active_loop", "name": "change_package_form"}],
}
TRACKER = {
    "latest_message": {"intent": {"name": "human_handoff"}},
    "active_loop": {"name": "resend_activation_form"},
    "slots": {"verified_name": "Jan Kowalski", "verified_email": "jan.kowalski@majafirma.pl",
              "email": "jan.kowalski@majafirma.pl"},
}


async def wait_healthy(url: str) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        for _ in range(100):
            try:
                if (await http.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("screenshots: the gateway did not start")


async def seed_statistics(database_url: str) -> None:
    """Two weeks of plausible traffic for the statistics page."""
    rng = random.Random(7)
    today = datetime.now(timezone.utc)  # the statistics count back from the real date
    intents = ["reset_password", "login_help", "resend_activation", "packages_info",
               "pair_phone", "add_user", "register_account", "human_handoff"]
    fallbacks = ["czy mogę wystawić fakturę w euro", "gdzie jest KSeF", "abonament faktura vat"]
    engine = create_engine(database_url)
    async with create_sessionmaker(engine).begin() as session:
        for back in range(1, 14):
            day = today - timedelta(days=back)
            for n in range(rng.randint(6, 22) if day.weekday() < 5 else rng.randint(1, 5)):
                created = day.replace(hour=rng.randint(6, 17), minute=rng.randint(0, 59))
                taken = rng.random() < 0.18
                row = Conversation(
                    session_id=f"seeded-{back}-{n}", created_at=created, last_message_at=created,
                    handoffs_requested=1 if taken or rng.random() < 0.08 else 0,
                    handoffs_taken=1 if taken else 0,
                    rating=rng.choice([4, 5, 5, 3]) if taken else None,
                    rated_at=created if taken else None,
                )
                session.add(row)
                await session.flush()
                intent = rng.choice(intents + ["nlu_fallback"])
                text = rng.choice(fallbacks) if intent == "nlu_fallback" else "…"
                session.add(Message(conversation_id=row.id, seq=1, author=Author.VISITOR,
                                    text=text, intent=intent, created_at=created))
            if rng.random() < 0.4:
                session.add(Ticket(question="Proszę o kontakt", contact_email="jan@majafirma.pl",
                                   created_at=day))
    await engine.dispose()


async def visitor_asks_for_a_person(url: str, lines: list[str]) -> None:
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=10) as http:
        session_id = (await http.post("/api/v1/conversations")).json()["conversation_id"]
        for line in lines:
            await http.post(f"/api/v1/conversations/{session_id}/messages", json={"text": line})


async def shoot(url: str, out: Path) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1440, "height": 900}, locale="pl-PL")
        await page.goto(f"{url}/agent/login")
        await page.get_by_label("E-mail").fill(EMAIL)
        await page.get_by_label("Hasło").fill(PASSWORD)
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{url}/agent")
        await page.wait_for_selector("#connection:has-text('Połączono')")
        await visitor_asks_for_a_person(url, list(REPLIES)[:3])
        await visitor_asks_for_a_person(url, [list(REPLIES)[3], HANDOFF_TEXT])
        await page.wait_for_selector("#queue-list .card >> nth=1")
        # Keyboard only: Tab to the first card, Enter, then the buttons.
        await page.locator("#queue-list .card").first.focus()
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#take:not([disabled])")
        await page.locator("#take").click()
        await page.wait_for_selector("#reply-text:not([disabled])")
        await page.locator(".canned-item", has_text="E-mail aktywacyjny").click()
        await page.keyboard.press("Control+Enter")
        await page.wait_for_selector("#transcript .message.agent")
        await page.locator("#reply-text").fill("Sprawdzę też, czy adres e-mail jest poprawny.")
        await page.evaluate("window.scrollTo(0, 0)")
        await page.screenshot(path=str(out / "console-desk.png"))
        await page.goto(f"{url}/agent/stats")
        await page.screenshot(path=str(out / "console-stats.png"), full_page=True)
        await shoot_inbox_and_review(page, url, out)
        await browser.close()


async def shoot_inbox_and_review(page, url: str, out: Path) -> None:
    """Visitors the assistant did not understand, then the inbox and the review."""
    unsure = list(UNSURE)
    await visitor_asks_for_a_person(url, unsure[:2])
    await visitor_asks_for_a_person(url, unsure[2:])
    await page.goto(f"{url}/agent/nlu")
    card = page.locator(".nlu-card", has_text="zielony")
    for _ in range(50):  # the gateway reads each turn from the tracker just after answering
        if await card.count():
            break
        await asyncio.sleep(0.1)
        await page.reload()
    await card.click()
    text = await page.locator("#nlu-text").input_value()
    start = text.index("zielony")
    await page.locator("#nlu-text").evaluate(
        f"(area) => {{ area.focus(); area.setSelectionRange({start}, {start + 7}); }}")
    await page.locator("#entity-type").select_option("package")
    await page.locator("#mark-entity").click()
    await page.locator("#intent-filter").type("pak")
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(out / "console-nlu.png"), full_page=True)
    await page.keyboard.press("Enter")  # saved: the inbox moves on to the next message
    await page.wait_for_selector(".nlu-card.done")
    await page.goto(f"{url}/agent/review")
    await page.screenshot(path=str(out / "console-review.png"))
    await page.goto(f"{url}/agent/review?outcome=not_completed")
    await page.locator("#review-list tbody a").first.click()  # the desk's visitor
    await page.screenshot(path=str(out / "console-review-conversation.png"), full_page=True)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite+aiosqlite:///{tmp}/gateway.db"
        port = free_port()
        async with StubRasa(replies_by_message=REPLIES, tracker=TRACKER, understood=UNDERSTOOD,
                            turn_events=TURN_EVENTS) as rasa:
            env = {**os.environ, "POMOCNIK_ENV": "development", "GATEWAY_PORT": str(port),
                   "GATEWAY_DATABASE_URL": database_url, "RASA_URL": rasa.url,
                   "RASA_API_TOKEN": "screenshots", "AGENT_PASSWORD": PASSWORD,
                   "GATEWAY_HOURS_CLOCK_START": HOURS_CLOCK_START.isoformat()}
            subprocess.run([sys.executable, "-m", "bot.gateway.cli", "agent-add", "--email", EMAIL,
                            "--name", NAME, "--editor"], env=env, cwd=ROOT, check=True)
            gateway = subprocess.Popen([sys.executable, "-m", "bot.gateway"], env=env, cwd=ROOT,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                url = f"http://127.0.0.1:{port}"
                await wait_healthy(url)
                await seed_statistics(database_url)
                await shoot(url, args.out)
            finally:
                gateway.terminate()
                gateway.wait(timeout=10)
    print(f"screenshots: console-desk.png, console-stats.png, console-nlu.png, console-review.png, "
          f"console-review-conversation.png in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
