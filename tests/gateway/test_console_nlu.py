"""The NLU inbox and the conversation review in the console, over real HTTP: which visitor
messages reach the inbox (fallback, low confidence, before a handoff, a low rating), what an
editor sees and decides, who may (editors only), that a planted secret never shows, and the
review of conversations by outcome with each turn's intent, confidence and actions.

The gateway is real (its database, the chat API, the console); Rasa is an HTTP stub whose
channel answers each message's turn summary with the reply, as Rasa's does
(bot/rasa_ext/channel.py): the gateway never reads the tracker after a turn."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select

from bot.gateway.console.texts import ENTITY_LABELS, INTENT_LABELS
from bot.gateway.db import create_engine, create_sessionmaker
from bot.gateway.domain import load_domain
from bot.gateway.models import Author, Conversation, Message
from harness.rasa_stub import HANDOFF_REPLY, HANDOFF_TEXT, StubRasa, parse_data
from tests.support.clock import FakeClock
from tests.support.console import (
    ANNA,
    PIOTR,
    AdviserBrowser,
    Visitor,
    add_agent,
)
from tests.support.waiting import eventually

EURO = "czy mogę wystawić fakturę w euro"  # not understood: the guess had 0.31
PACKAGE = "a ten zielony to ile kosztuje"  # understood, but only 0.55 sure
RESET = "nie pamiętam hasła"  # understood: 0.97
BEFORE_HANDOFF = "gdzie jest KSeF w panelu"  # understood with 0.9, then the visitor gave up
PASSWORD_LINE = "moje hasło to Zima2026!xq i nie działa"
PIN_LINE = "PIN 4821 nie przechodzi przy rejestracji"
UNDERSTOOD = {
    EURO: parse_data("packages_info", 0.31, ("change_package", 0.2)),
    PACKAGE: parse_data("packages_info", 0.55),
    RESET: parse_data("reset_password", 0.97),
    BEFORE_HANDOFF: parse_data("login_help", 0.9),
    HANDOFF_TEXT: parse_data("human_handoff", 0.99),
    PASSWORD_LINE: parse_data("share_password", 0.2),
    PIN_LINE: parse_data("register_account", 0.3),
}
TURN_EVENTS = {
    RESET: [
        {"event": "action", "name": "reset_password_form"},
        {"event": "active_loop", "name": "reset_password_form"},
        {"event": "slot", "name": "requested_slot", "value": "email"},
    ],
    HANDOFF_TEXT: [{"event": "action", "name": "action_handoff"}],
}
TRACKER = {"latest_message": {}, "active_loop": {}, "slots": {}}


@pytest.fixture
async def rasa():
    replies = {HANDOFF_TEXT: HANDOFF_REPLY}
    async with StubRasa(replies_by_message=replies, tracker=TRACKER, understood=UNDERSTOOD,
                        turn_events=TURN_EVENTS) as stub:
        yield stub


@pytest.fixture
async def gateway(rasa, make_settings, start_gateway, database_url):
    settings = make_settings(rasa.url, rasa_api_token="stub-rasa-token")
    async with start_gateway(settings, clock=FakeClock()) as url:
        await add_agent(database_url, *ANNA, editor=True)
        await add_agent(database_url, *PIOTR)
        yield url


async def browser_of(gateway: str, who: tuple[str, str]) -> AdviserBrowser:
    browser = AdviserBrowser(gateway)
    assert (await browser.login(who[0])).status_code == 303
    return browser


@pytest.fixture
async def anna(gateway):
    browser = await browser_of(gateway, ANNA)
    yield browser
    await browser.close()


@pytest.fixture
async def piotr(gateway):
    browser = await browser_of(gateway, PIOTR)
    yield browser
    await browser.close()


@pytest.fixture
async def visitor_http(gateway):
    async with httpx.AsyncClient(base_url=gateway, trust_env=False, timeout=10) as http:
        yield http


async def inbox(browser: AdviserBrowser, status: str = "waiting") -> dict:
    response = await browser.call("GET", f"nlu?status={status}")
    assert response.status_code == 200, response.text
    return response.json()


async def wait_for_inbox(browser: AdviserBrowser, count: int) -> list[dict]:
    async def filled():
        items = (await inbox(browser))["items"]
        return items if len(items) >= count else None

    return await eventually(filled)


async def chat(http: httpx.AsyncClient, *lines: str) -> Visitor:
    visitor = await Visitor.start(http)
    for line in lines:
        await visitor.say(line)
    return visitor


def test_every_intent_and_entity_an_editor_chooses_has_a_polish_label():
    domain = load_domain()

    assert "reset_password" in domain.labels and "out_of_scope" in domain.labels
    assert "handoff_returned" not in domain.labels  # the gateway's own, never typed
    assert [i for i in domain.labels if i not in INTENT_LABELS] == []
    assert [e for e in domain.entities if e not in ENTITY_LABELS] == []
    assert "register" not in domain.entities  # added by a rule, never marked by hand


# ---------------------------------------------------------------- what reaches the inbox


async def test_misunderstood_messages_reach_the_inbox_with_the_guess(visitor_http, anna, rasa):
    await chat(visitor_http, "Dzień dobry", EURO, RESET, PACKAGE)

    items = await wait_for_inbox(anna, 2)

    assert len(rasa.webhook_requests) == 4
    assert rasa.tracker_requests == []  # the channel's answer carried each turn

    by_text = {item["text"]: item for item in items}
    assert set(by_text) == {EURO, PACKAGE}  # the confident ones stay out
    euro = by_text[EURO]
    assert [r["code"] for r in euro["reasons"]] == ["fallback"]
    assert euro["intent"]["name"] == "nlu_fallback"
    assert euro["predicted"] == {"name": "packages_info", "label": "pakiety", "confidence": 0.31}
    assert [r["label"] for r in by_text[PACKAGE]["reasons"]] == ["niska pewność"]
    assert by_text[PACKAGE]["predicted"]["confidence"] == 0.55


async def test_the_question_before_a_handoff_and_a_low_rated_conversation(
    visitor_http, anna, database_url
):
    visitor = await chat(visitor_http, BEFORE_HANDOFF, HANDOFF_TEXT)
    handed = await wait_for_inbox(anna, 1)
    rated = await chat(visitor_http, RESET)
    await understood(database_url, rated)  # as a visitor would, rate after the answer
    rating = await visitor_http.post(
        f"/api/v1/conversations/{rated.session_id}/rating", json={"score": 1})

    items = await wait_for_inbox(anna, 2)

    assert [(i["text"], [r["code"] for r in i["reasons"]]) for i in handed] == [
        (BEFORE_HANDOFF, ["handoff"])]
    assert rating.status_code == 201
    assert (RESET, ["low_rating"]) in [(i["text"], [r["code"] for r in i["reasons"]])
                                        for i in items]
    assert visitor.session_id not in json.dumps(items)  # the visitor's credential never shows


# ---------------------------------------------------------------- deciding


async def test_an_editor_labels_marks_entities_skips_and_undoes(visitor_http, anna):
    await chat(visitor_http, EURO, PACKAGE)
    await chat(visitor_http, EURO)  # the same words from another visitor
    items = await wait_for_inbox(anna, 3)
    euro, package = (next(i for i in items if i["text"] == text) for text in (EURO, PACKAGE))
    zielony = PACKAGE.index("zielony")

    labelled = await anna.call("POST", f"nlu/{euro['id']}/label", {"intent": "out_of_scope"})
    with_entity = await anna.call("POST", f"nlu/{package['id']}/label", {
        "intent": "packages_info",
        "entities": [{"start": zielony, "end": zielony + len("zielony"), "entity": "package"}]})
    waiting_after = (await inbox(anna))["waiting"]
    skipped = await anna.call("POST", f"nlu/{package['id']}/skip")
    reopened = await anna.call("POST", f"nlu/{package['id']}/reopen")

    assert labelled.status_code == 200, labelled.text
    assert labelled.json()["labelled"] == 2  # the identical text waiting too
    assert labelled.json()["item"]["label"]["intent_label"] == "poza zakresem"
    assert with_entity.json()["item"]["label"]["entities"] == [
        {"start": zielony, "end": zielony + 7, "entity": "package", "label": "pakiet",
         "value": "zielony"}]
    assert waiting_after == 0
    assert skipped.json()["item"]["status"] == "skipped"
    assert reopened.json()["item"]["status"] == "waiting"
    assert reopened.json()["item"]["label"] is None and reopened.json()["waiting"] == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"intent": "no_such_intent"}, "inbox_intent_unknown"),
        ({"intent": "handoff_returned"}, "inbox_intent_unknown"),  # never typed by visitors
        ({}, "inbox_intent_unknown"),
        ({"intent": "packages_info", "entities": [{"start": 3, "end": 6, "entity": "package"}]},
         "inbox_entities_invalid"),  # "en ": not a whole word ("ten" at 2–5 would be)
        ({"intent": "packages_info", "entities": [{"start": 6, "end": 10, "entity": "package"}]},
         "inbox_entities_invalid"),  # "ziel": mid-word
        ({"intent": "packages_info", "entities": [{"start": 0, "end": 1, "entity": "nope"}]},
         "inbox_entities_invalid"),
        ({"intent": "packages_info", "entities": [{"start": 0, "end": 999, "entity": "package"}]},
         "inbox_entities_invalid"),
        ({"intent": "packages_info", "entities": [
            {"start": 6, "end": 13, "entity": "package"}, {"start": 2, "end": 13, "entity": "role"}]},
         "inbox_entities_invalid"),  # overlapping
        ({"intent": "packages_info", "entities": "zielony"}, "inbox_entities_invalid"),
    ],
)
async def test_bad_labels_are_refused_with_a_code(visitor_http, anna, assert_error, body, code):
    await chat(visitor_http, PACKAGE)
    [item] = await wait_for_inbox(anna, 1)

    response = await anna.call("POST", f"nlu/{item['id']}/label", body)

    assert_error(response, 422, code)


async def test_unknown_items_and_bad_bodies(anna, assert_error):
    assert_error(await anna.call("POST", "nlu/999/label", {"intent": "greet"}), 404,
                 "inbox_item_not_found")
    assert_error(await anna.call("POST", "nlu/999/skip"), 404, "inbox_item_not_found")
    response = await anna.http.post("/agent/api/nlu/1/label", content=b"{",
                                    headers={"X-CSRF-Token": anna.csrf,
                                             "Content-Type": "application/json"})
    assert_error(response, 400, "malformed_json")


# ---------------------------------------------------------------- permissions


async def test_only_editors_open_the_inbox(gateway, anna, piotr, assert_error):
    page = await piotr.http.get("/agent/nlu")
    desk = await piotr.http.get("/agent")
    listed = await piotr.call("GET", "nlu")
    label = await piotr.call("POST", "nlu/1/label", {"intent": "greet"})
    skip = await piotr.call("POST", "nlu/1/skip")
    reopen = await piotr.call("POST", "nlu/1/reopen")

    assert page.status_code == 403
    assert "tylko dla konsultantów z uprawnieniem redaktora" in page.text
    assert 'href="/agent/nlu"' not in desk.text  # no menu entry for a non-editor
    for response in (listed, label, skip, reopen):
        assert_error(response, 403, "editor_required")
    assert (await anna.http.get("/agent/nlu")).status_code == 200
    assert 'href="/agent/nlu"' in (await anna.http.get("/agent")).text


async def test_without_a_session_or_csrf_token(gateway, anna, assert_error):
    async with httpx.AsyncClient(base_url=gateway, trust_env=False) as stranger:
        page = await stranger.get("/agent/nlu")
        api = await stranger.get("/agent/api/nlu")
        review = await stranger.get("/agent/review")
    forged = await anna.http.post("/agent/api/nlu/1/skip", json={})

    assert page.status_code == 302 and page.headers["location"] == "/agent/login"
    assert review.status_code == 302
    assert_error(api, 401, "agent_unauthorized")
    assert_error(forged, 403, "csrf_failed")


# ---------------------------------------------------------------- secrets


async def test_a_planted_password_or_pin_never_shows(visitor_http, anna, database_url):
    visitor = await chat(visitor_http, PASSWORD_LINE, PIN_LINE, EURO)
    await understood(database_url, visitor)
    rated = await visitor_http.post(f"/api/v1/conversations/{visitor.session_id}/rating",
                                    json={"score": 1})  # a low rating sends the rest, too
    conversation_id = (await wait_for_inbox(anna, 1))[0]["conversation_id"]

    shown = [
        (await anna.http.get(f"/agent/nlu?status={status}")).text
        for status in ("waiting", "all")
    ] + [
        (await anna.call("GET", "nlu?status=all")).text,
        (await anna.http.get(f"/agent/review/{conversation_id}")).text,
        (await anna.http.get("/agent/review?outcome=fallback")).text,
    ]

    everything = "\n".join(shown)
    for secret in ("Zima2026!xq", "4821"):
        assert secret not in everything
    assert rated.status_code == 201
    assert [i["text"] for i in (await inbox(anna, "all"))["items"]] == [EURO]
    assert "[hasło usunięte]" in shown[3] and "PIN •••• nie przechodzi" in shown[3]


# ---------------------------------------------------------------- the statistics page


async def test_the_statistics_page_counts_what_waits(visitor_http, anna, piotr):
    await chat(visitor_http, EURO, PACKAGE)
    await wait_for_inbox(anna, 2)

    for browser, link in ((anna, True), (piotr, False)):
        page = (await browser.http.get("/agent/stats")).text
        tile = page.split('id="stat-inbox">', 1)[1].split("</dd>", 1)[0]
        assert ('<a href="/agent/nlu">2</a>' if link else "2") == tile


# ---------------------------------------------------------------- conversation review


async def test_review_lists_conversations_by_outcome_and_shows_each_turn(
    visitor_http, piotr, database_url
):
    understood = await chat(visitor_http, RESET)
    lost = await chat(visitor_http, EURO)
    handed = await chat(visitor_http, BEFORE_HANDOFF, HANDOFF_TEXT)
    ids = {}
    for name, visitor in (("understood", understood), ("lost", lost), ("handed", handed)):
        ids[name] = await conversation_number(database_url, visitor)

    async def listed(outcome: str) -> set[int]:
        page = (await piotr.http.get(f"/agent/review?outcome={outcome}")).text
        return {number for number in ids.values() if f'href="/agent/review/{number}"' in page}

    async def turns_recorded():
        page = (await piotr.http.get(f"/agent/review/{ids['understood']}")).text
        return page if "reset_password_form" in page else None

    detail = await eventually(turns_recorded)
    assert await eventually(lambda: listed("fallback")) == {ids["lost"]}
    assert await listed("handoff") == {ids["handed"]}
    assert await listed("not_completed") == {ids["understood"]}  # the form is still open
    assert await listed("ticket") == set()
    assert "reset hasła" in detail and "pewność 97%" in detail
    assert "<code>reset_password_form</code>" in detail
    assert "reset hasła: rozpoczęta" in detail
    lost_page = (await piotr.http.get(f"/agent/review/{ids['lost']}")).text
    assert "pewność 31% dla „pakiety”" in lost_page
    missing = await piotr.http.get("/agent/review/999999")
    assert missing.status_code == 404 and "Nie ma takiej rozmowy" in missing.text


async def test_without_a_turn_summary_the_answer_stands_and_nothing_is_recorded(
    visitor_http, anna, rasa, database_url
):
    rasa.reply_body = [{"recipient_id": "x", "text": "Już sprawdzam."}]
    rasa.turn_summaries = False  # Rasa could not summarise the turn: "turn": null

    visitor = await chat(visitor_http, EURO, RESET)

    assert [m["author"] for m in await visitor.transcript()] == ["visitor", "bot"] * 2
    rasa.turn_summaries = True
    await chat(visitor_http, PACKAGE)  # a later turn with a summary is recorded as usual
    [item] = await wait_for_inbox(anna, 1)
    assert item["text"] == PACKAGE
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            intents = (await session.execute(
                select(Message.text, Message.intent)
                .where(Message.author == Author.VISITOR))).all()
    finally:
        await engine.dispose()
    assert sorted(intents) == sorted([(EURO, None), (RESET, None), (PACKAGE, "packages_info")])
    assert rasa.tracker_requests == []


async def understood(database_url: str, visitor: Visitor) -> None:
    """Wait until the gateway has recorded what the assistant understood of every message."""
    engine = create_engine(database_url)

    async def recorded() -> bool:
        async with create_sessionmaker(engine)() as session:
            pending = await session.scalar(
                select(func.count(Message.id))
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Conversation.session_id == visitor.session_id,
                       Message.author == Author.VISITOR, Message.intent.is_(None)))
        return pending == 0

    try:
        await eventually(recorded)
    finally:
        await engine.dispose()


async def conversation_number(database_url: str, visitor: Visitor) -> int:
    """The console's row number of a visitor's conversation (the console never shows the
    visitor's session id)."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await session.scalar(
                select(Conversation.id).where(Conversation.session_id == visitor.session_id))
    finally:
        await engine.dispose()
