"""The desk through the console's JSON API, against the real gateway: a visitor asks for a
person, an adviser takes the conversation, replies, hands it back or closes it. Rasa (with
its tracker API) is an HTTP stub."""

from __future__ import annotations

import subprocess
import shutil
from pathlib import Path

import httpx
import pytest

from harness.rasa_stub import HANDOFF_REPLY, HANDOFF_TEXT, StubRasa
from tests.support.clock import FakeClock
from tests.support.console import (
    ANNA,
    PIOTR,
    AdviserBrowser,
    Visitor,
    add_agent,
)
from tests.support.waiting import eventually

CONSOLE_JS = Path(__file__).resolve().parents[2] / "bot" / "gateway" / "static" / "console.js"
TRACKER = {
    "latest_message": {"intent": {"name": "human_handoff"}},
    "active_loop": {"name": "reset_password_form"},
    "slots": {"verified_name": "Jan Kowalski", "verified_email": "jan.kowalski@majafirma.pl",
              "email": "jan.kowalski@majafirma.pl", "pin": "4821", "package": None},
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # Monday 23.11.2026, 10:00 in Warsaw: advisers work


@pytest.fixture
async def rasa():
    replies = {HANDOFF_TEXT: HANDOFF_REPLY,
               "Dzień dobry": [{"recipient_id": "x", "text": "Dzień dobry! W czym pomóc?"}]}
    async with StubRasa(replies_by_message=replies, tracker=TRACKER) as stub:
        yield stub


@pytest.fixture
async def gateway(rasa, make_settings, start_gateway, clock, database_url):
    settings = make_settings(rasa.url, rasa_api_token="stub-rasa-token")
    async with start_gateway(settings, clock=clock) as url:
        await add_agent(database_url, *ANNA)
        await add_agent(database_url, *PIOTR)
        yield url


@pytest.fixture
async def visitor_http(gateway):
    async with httpx.AsyncClient(base_url=gateway, trust_env=False, timeout=10) as http:
        yield http


@pytest.fixture
async def anna(gateway):
    browser = AdviserBrowser(gateway)
    await browser.login(ANNA[0])
    await browser.call("POST", "heartbeat")
    yield browser
    await browser.close()


@pytest.fixture
async def piotr(gateway):
    browser = AdviserBrowser(gateway)
    await browser.login(PIOTR[0])
    yield browser
    await browser.close()


async def queued_visitor(visitor_http, anna) -> tuple[Visitor, int]:
    visitor = await Visitor.start(visitor_http)
    await visitor.say("Dzień dobry")
    await visitor.say(HANDOFF_TEXT)
    entries = await anna.queue()
    assert entries, "the visitor should wait in the queue"
    return visitor, entries[-1]["conversation_id"]


# ---------------------------------------------------------------- presence


async def test_without_a_heartbeat_nobody_is_available(gateway, visitor_http, database_url):
    # Signed in, but no desk page open: the visitor is told nobody is there.
    browser = AdviserBrowser(gateway)
    try:
        await browser.login(PIOTR[0])
        visitor = await Visitor.start(visitor_http)
        await visitor.say(HANDOFF_TEXT)
        notices = [m for m in await visitor.transcript() if m["author"] == "system"]
        assert notices[-1]["custom"]["handoff"]["state"] == "unavailable"
        assert await browser.queue() == []

        assert (await browser.call("POST", "heartbeat")).json() == {"ok": True}
        await visitor.say(HANDOFF_TEXT)
        assert [e["conversation_id"] for e in await browser.queue()]
    finally:
        await browser.close()


async def test_heartbeats_count_for_90_seconds(gateway, visitor_http, anna, clock):
    clock.advance(seconds=91)
    visitor = await Visitor.start(visitor_http)
    await visitor.say(HANDOFF_TEXT)
    assert await anna.queue() == []


# ---------------------------------------------------------------- the queue and taking


async def test_the_queue_shows_waiting_visitors_with_their_last_words(visitor_http, anna, clock):
    visitor, conversation_id = await queued_visitor(visitor_http, anna)
    clock.advance(minutes=3)

    response = await anna.call("GET", "queue")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["now"] == "2026-11-23T09:03:00Z"
    assert body["queue"] == [{
        "conversation_id": conversation_id,
        "queued_at": "2026-11-23T09:00:00Z",
        "account_name": None,
        "last_text": HANDOFF_TEXT,
    }]


async def test_take_reply_and_the_visitor_sees_the_adviser(visitor_http, anna):
    visitor, conversation_id = await queued_visitor(visitor_http, anna)

    assert (await anna.call("POST", f"conversations/{conversation_id}/take")).json() == {"ok": True}
    assert await anna.queue() == []
    mine = (await anna.call("GET", "conversations/mine")).json()["conversations"]
    assert [c["conversation_id"] for c in mine] == [conversation_id]

    response = await anna.call("POST", f"conversations/{conversation_id}/reply",
                               {"text": "  Dzień dobry, tu Anna. Jak mogę pomóc?  "})
    assert response.status_code == 201
    assert response.json()["message"]["author"] == "agent"

    transcript = await visitor.transcript()
    assert transcript[-1]["author"] == "agent"
    assert transcript[-1]["text"] == "Dzień dobry, tu Anna. Jak mogę pomóc?"
    assert transcript[-1]["agent"] == "Anna"
    assert any("konsultant Anna" in m["text"] for m in transcript if m["author"] == "system")


async def test_two_advisers_cannot_take_the_same_conversation(visitor_http, anna, piotr,
                                                              assert_error):
    _, conversation_id = await queued_visitor(visitor_http, anna)

    assert (await anna.call("POST", f"conversations/{conversation_id}/take")).status_code == 200
    second = await piotr.call("POST", f"conversations/{conversation_id}/take")
    assert_error(second, 409, "conversation_already_taken", "inny konsultant")
    assert_error(await piotr.call("POST", f"conversations/{conversation_id}/reply",
                                  {"text": "Ja też tu jestem"}),
                 409, "conversation_not_yours")


async def test_hand_back_returns_the_visitor_to_the_assistant(visitor_http, anna, rasa):
    visitor, conversation_id = await queued_visitor(visitor_http, anna)
    await anna.call("POST", f"conversations/{conversation_id}/take")

    assert (await anna.call("POST", f"conversations/{conversation_id}/hand-back")).json() == {
        "ok": True}

    detail = (await anna.call("GET", f"conversations/{conversation_id}")).json()
    assert detail["conversation"]["handling"] == "assistant"
    assert (await anna.call("GET", "conversations/mine")).json()["conversations"] == []
    assert any(r.json()["message"] == "/handoff_returned" for r in rasa.webhook_requests)
    assert "Pomocnik" in [m for m in await visitor.transcript() if m["author"] == "system"][-1][
        "text"]


async def test_close_ends_the_conversation_and_offers_a_rating(visitor_http, anna, piotr,
                                                               assert_error):
    visitor, conversation_id = await queued_visitor(visitor_http, anna)
    await anna.call("POST", f"conversations/{conversation_id}/take")

    assert_error(await piotr.call("POST", f"conversations/{conversation_id}/close"),
                 409, "conversation_not_yours")
    assert (await anna.call("POST", f"conversations/{conversation_id}/close")).status_code == 200

    detail = (await anna.call("GET", f"conversations/{conversation_id}")).json()
    assert detail["conversation"]["handling"] == "closed"
    last_notice = [m for m in await visitor.transcript() if m["author"] == "system"][-1]
    assert last_notice["custom"]["offer"] == "rating"
    assert_error(await anna.call("POST", f"conversations/{conversation_id}/reply",
                                 {"text": "Jeszcze coś?"}), 409, "conversation_not_yours")


# ---------------------------------------------------------------- one conversation


async def test_conversation_detail_shows_transcript_identity_intents_and_form(visitor_http, anna):
    visitor, conversation_id = await queued_visitor(visitor_http, anna)

    async def intents_recorded():
        detail = (await anna.call("GET", f"conversations/{conversation_id}")).json()
        return detail if len(detail["intents"]) == 2 else None

    detail = await eventually(intents_recorded)
    conversation = detail["conversation"]
    assert conversation["handling"] == "queued" and conversation["mine"] is False
    assert [m["author"] for m in detail["messages"]][:3] == ["visitor", "bot", "visitor"]
    assert detail["identity"] == {
        "source": "assistant", "verified": True, "name": "Jan Kowalski",
        "email": "jan.kowalski@majafirma.pl", "organisation": None}
    assert detail["intents"][0]["label"] == "prośba o konsultanta"
    assert detail["intents"][0]["text"] == HANDOFF_TEXT
    assert detail["insight"]["form_label"] == "reset hasła"
    assert detail["insight"]["slots"] == {"verified_name": "Jan Kowalski",
                                          "verified_email": "jan.kowalski@majafirma.pl",
                                          "email": "jan.kowalski@majafirma.pl"}
    # The visitor's session id is their credential: the console never gets it.
    assert visitor.session_id not in str(detail)


async def test_unknown_conversation_is_404(anna, assert_error):
    assert_error(await anna.call("GET", "conversations/999999"), 404, "conversation_not_found")
    assert_error(await anna.call("POST", "conversations/999999/take"), 404,
                 "conversation_not_found")


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "reply_missing"), ({"text": "   "}, "reply_missing"), ({"text": 5}, "reply_missing"),
     ({"text": "x" * 2001}, "reply_too_long")],
)
async def test_bad_replies_get_422_with_a_polish_message(visitor_http, anna, assert_error, body,
                                                         code):
    _, conversation_id = await queued_visitor(visitor_http, anna)
    await anna.call("POST", f"conversations/{conversation_id}/take")

    assert_error(await anna.call("POST", f"conversations/{conversation_id}/reply", body),
                 422, code, "za długa" if code == "reply_too_long" else "Wpisz")


async def test_a_reply_that_is_not_json_is_refused_cleanly(visitor_http, anna, assert_error):
    _, conversation_id = await queued_visitor(visitor_http, anna)
    await anna.call("POST", f"conversations/{conversation_id}/take")

    response = await anna.http.post(
        f"/agent/api/conversations/{conversation_id}/reply", content=b"{not json",
        headers={"X-CSRF-Token": anna.csrf, "Content-Type": "application/json"})
    assert_error(response, 400, "malformed_json")


# ---------------------------------------------------------------- the desk page and assets


async def test_the_desk_page_has_canned_answers_for_the_guides_topics(anna):
    page = (await anna.http.get("/agent")).text

    for topic in ("Nie pamiętam hasła", "Aktywacja konta Comarch Cloud", "ID Comarch",
                  "zielony", "32 356 22 23", "jedno zaufane urządzenie", "magazynier"):
        assert topic in page


@pytest.mark.parametrize(("path", "kind"), [("/agent/static/console.js", "text/javascript"),
                                            ("/agent/static/console.css", "text/css")])
async def test_console_assets_are_served(visitor_http, path, kind):
    response = await visitor_http.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(kind)
    assert response.headers["etag"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_console_script_parses():
    result = subprocess.run(["node", "--check", str(CONSOLE_JS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
