"""The real widget.js under Node: its pure helpers, and full flows against the real gateway.

The browser itself is replaced by a small DOM stand-in (widget_harness.js);
requests go over real HTTP to the in-process gateway and the stub Rasa.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.gateway.hours import BusinessHours
from tests.support.clock import FakeClock

WIDGET_JS = Path(__file__).resolve().parents[2] / "bot" / "gateway" / "static" / "widget.js"
HARNESS_JS = Path(__file__).resolve().parent / "widget_harness.js"
NODE = shutil.which("node")
ID_FORMAT = re.compile(r"[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{22}")
GREETING = "Dzień dobry! Jestem Pomocnik, asystent iKsięgowość24. W czym mogę pomóc?"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def node_flags() -> list[str]:
    """Node 20 has WebSocket (which the socket.io client needs) only behind a flag."""
    if NODE is None:
        return []
    probe = subprocess.run(
        [NODE, "-e", "process.stdout.write(typeof WebSocket)"], capture_output=True, text=True
    )
    return [] if probe.stdout == "function" else ["--experimental-websocket"]


NODE_FLAGS = node_flags()


def run_helper(expression: str):
    """Evaluate a JS expression with the widget's exported helpers bound to `h`."""
    program = (
        f"const h = require({json.dumps(str(WIDGET_JS))});"
        f"process.stdout.write(JSON.stringify({expression}));"
    )
    result = subprocess.run([NODE, "-e", program], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def run_harness(gateway_url: str, scenario: str, stored_id: str = "") -> dict:
    process = await asyncio.create_subprocess_exec(
        NODE, *NODE_FLAGS, str(HARNESS_JS), str(WIDGET_JS), gateway_url, scenario, stored_id,
        env={**os.environ},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return json.loads(stdout)


# ---------------------------------------------------------------- safe rendering


def test_widget_script_parses():
    result = subprocess.run([NODE, "--check", str(WIDGET_JS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_html_in_bot_text_is_escaped():
    html = run_helper('h.toSafeHtml("<img src=x onerror=alert(1)> & \\"cudzysłów\\" \'x\'")')
    assert html == "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;cudzysłów&quot; &#39;x&#39;"


def test_urls_become_safe_links_and_newlines_become_br():
    html = run_helper('h.toSafeHtml("Wejdź na https://www.iksiegowosc24.pl/.\\nPotem kliknij.")')
    assert html == (
        'Wejdź na <a href="https://www.iksiegowosc24.pl/" target="_blank" '
        'rel="noopener noreferrer">https://www.iksiegowosc24.pl/'
        '<span class="pomocnik-sr-only"> (otwiera się w nowej karcie)</span>'
        "</a>.<br>Potem kliknij."
    )


def test_www_and_email_are_linked():
    html = run_helper('h.toSafeHtml("www.ingksiegowosc.pl lub kontakt@iksiegowosc24.pl")')
    assert '<a href="https://www.ingksiegowosc.pl" target="_blank"' in html
    assert '<a href="mailto:kontakt@iksiegowosc24.pl">kontakt@iksiegowosc24.pl</a>' in html


@pytest.mark.parametrize(
    "text",
    [
        '"https://evil.example/" onmouseover="alert(1)',
        "https://a.pl/\"><script>alert(1)</script>",
        "javascript:alert(1)",
        "<a href=\"javascript:alert(1)\">x</a>",
        "www.a.pl/<img/src=x/onerror=alert(1)>",
        "x@y.pl\"onclick=\"alert(1)",
    ],
)
def test_bot_text_cannot_inject_markup(text):
    html = run_helper(f"h.toSafeHtml({json.dumps(text)})")

    for tag, attrs in parse_tags(html):
        assert tag in {"a", "span", "br"}, tag
        assert set(attrs) <= {"href", "target", "rel", "class"}, attrs
        assert attrs.get("href", "https://").startswith(("https://", "http://", "mailto:")), attrs


def parse_tags(html: str) -> list[tuple[str, dict]]:
    tags = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.append((tag, dict(attrs)))

    Collector().feed(html)
    return tags


def test_time_is_hh_mm():
    times = run_helper(
        "[h.formatTime(new Date(2024, 0, 5, 7, 3)), h.formatTime(new Date(2024, 0, 5, 23, 59))]"
    )
    assert times == ["07:03", "23:59"]


# ---------------------------------------------------------------- full flows


async def test_conversation_flow(gateway_url, stub_rasa):
    stub_rasa.reply_body = [
        {"recipient_id": "x", "text": "Zobacz https://www.iksiegowosc24.pl\n<b>Uwaga</b>",
         "buttons": [{"title": "Tak", "payload": "/affirm"}]}
    ]

    out = await run_harness(gateway_url, "conversation")

    assert out["stylesheet"] == [f"{gateway_url}/widget/widget.css"]
    assert out["launcher"] == {
        "label": "Czat z Pomocnikiem",
        "expanded": "false",
        "text": "Czat z Pomocnikiem",
    }
    assert out["dialog"] == {
        "role": "dialog",
        "label": "Pomocnik – asystent iKsięgowość24",
        "heading": "Pomocnik – asystent iKsięgowość24",
        "closeLabel": "Zamknij czat",
        "logLive": "polite",
        "inputLabel": [["Twoja wiadomość", "pomocnik-input"]],
        "inputId": "pomocnik-input",
        "maxLength": 1000,
    }

    opened = out["opened"]
    assert (opened["panelHidden"], opened["expanded"], opened["focus"]) == (False, "true", "input")
    assert opened["botBubbles"] == [GREETING]
    assert opened["quickReplyGroups"] == [
        [
            {"title": "Nie pamiętam hasła", "disabled": False},
            {"title": "Jak się zalogować?", "disabled": False},
        ]
    ]
    assert opened["stored"] is None  # no conversation is created just by opening

    pending = out["quickReplyPending"]
    assert pending["typingShown"] and pending["userBubbles"] == ["Nie pamiętam hasła"]
    assert all(button["disabled"] for button in pending["quickReplyGroups"][0])

    answered = out["afterQuickReply"]
    assert not answered["typingShown"]
    assert all(button["disabled"] for button in answered["quickReplyGroups"][0])
    reply_html = answered["botBubbles"][1]
    assert reply_html.startswith('Zobacz <a href="https://www.iksiegowosc24.pl" target="_blank"')
    assert reply_html.endswith("<br>&lt;b&gt;Uwaga&lt;/b&gt;")
    assert answered["quickReplyGroups"][1] == [{"title": "Tak", "disabled": False}]
    conversation_id = answered["stored"]
    assert ID_FORMAT.fullmatch(conversation_id)

    typed = out["typedPending"]
    assert typed["typingShown"] and typed["inputValue"] == ""
    assert out["afterTyped"]["userBubbles"] == ["Nie pamiętam hasła", "Jak zmienić adres e-mail?"]
    assert all(re.fullmatch(r"\d\d:\d\d", time) for time in out["afterTyped"]["times"])
    assert out["afterTyped"]["stored"] == conversation_id

    assert [(r.json()["sender"], r.json()["message"]) for r in stub_rasa.webhook_requests] == [
        (conversation_id, "Nie pamiętam hasła"),
        (conversation_id, "Jak zmienić adres e-mail?"),
    ]

    closed = out["afterEscape"]
    assert closed["panelHidden"] and closed["expanded"] == "false"
    assert closed["focus"] == "launcher"
    reopened = out["reopened"]
    assert reopened["focus"] == "input"
    assert reopened["botBubbles"].count(GREETING) == 1  # the greeting is not repeated


async def test_failed_send_keeps_text_and_shows_polish_notice(gateway_url, stub_rasa):
    stub_rasa.reply_status = 500

    out = await run_harness(gateway_url, "failure")

    failed = out["afterFailedText"]
    assert failed["inputValue"] == "Mój kod to 123456"
    assert not failed["noticeHidden"]
    assert failed["notice"] == "Asystent jest chwilowo niedostępny. Spróbuj ponownie za chwilę."
    assert failed["failedMessages"] == 1
    assert not failed["typingShown"]
    # A quick reply that failed can be chosen again.
    quick = out["afterFailedQuickReply"]
    assert all(not button["disabled"] for button in quick["quickReplyGroups"][0])
    assert quick["failedMessages"] == 2


async def test_stored_conversation_is_reused(gateway_url, stub_rasa, conversation_id):
    out = await run_harness(gateway_url, "send_once", conversation_id)

    assert out["after"]["stored"] == conversation_id
    assert stub_rasa.webhook_requests[-1].json()["sender"] == conversation_id


async def test_stale_stored_conversation_is_replaced(gateway_url, stub_rasa):
    forged = "A" * 24 + "." + "B" * 22

    out = await run_harness(gateway_url, "send_once", forged)

    new_id = out["after"]["stored"]
    assert new_id != forged and ID_FORMAT.fullmatch(new_id)
    assert out["after"]["noticeHidden"]
    assert [r.json()["sender"] for r in stub_rasa.webhook_requests] == [new_id]


async def test_gateway_down_shows_network_notice(closed_port):
    out = await run_harness(f"http://127.0.0.1:{closed_port}", "send_once")

    assert out["after"]["notice"] == (
        "Nie udało się połączyć z serwerem. Sprawdź połączenie z internetem i spróbuj ponownie."
    )
    assert out["after"]["inputValue"] == "Dzień dobry"


# ---------------------------------------------------------------- transcript, secrets, reconnects


async def test_reload_restores_the_transcript_from_the_gateway(
    gateway_url, stub_rasa, client, conversation_id
):
    # An earlier page view of the same visitor: one typed message, one quick reply.
    path = f"/api/v1/conversations/{conversation_id}/messages"
    await client.post(path, json={"text": "Nie pamiętam hasła"})
    await client.post(path, json={"text": "/affirm", "title": "Tak, dziękuję"})

    out = await run_harness(gateway_url, "reload", conversation_id)

    # Nothing is loaded before the chat is opened.
    assert out["beforeOpen"] == {"stored": conversation_id, "loaded": 0}
    restored = out["restored"]
    assert restored["userBubbles"] == ["Nie pamiętam hasła", "Tak, dziękuję"]
    reply = "Kliknij „Nie pamiętam hasła” na stronie logowania."
    assert restored["botBubbles"] == [GREETING, reply, reply]
    assert restored["seqs"] == [1, 2, 2, 3, 4, 4]  # each reply with its quick-reply group
    # Only the newest quick replies can still be chosen.
    assert [all(b["disabled"] for b in group) for group in restored["quickReplyGroups"]] == [
        True, True, False,
    ]
    assert not restored["typingShown"] and restored["stored"] == conversation_id
    assert all(re.fullmatch(r"\d\d:\d\d", time) for time in restored["times"])
    assert out["loadedScripts"] == [f"{gateway_url}/widget/socket.io.min.js"]

    after = out["after"]
    assert after["userBubbles"][-1] == "Dziękuję" and after["seqs"][-3:] == [5, 6, 6]
    assert [r.json()["sender"] for r in stub_rasa.webhook_requests] == [conversation_id] * 3


async def test_pin_request_masks_the_field_and_the_value(gateway_url, stub_rasa, client):
    stub_rasa.replies_by_message["Chcę zmienić e-mail"] = [
        {"recipient_id": "x", "text": "Podaj PIN do licencji."},
        {"recipient_id": "x", "custom": {"input": "secret"}},
    ]

    out = await run_harness(gateway_url, "secret")

    asked = out["asked"]
    assert asked["secretMode"] is True
    assert asked["input"] == {
        "id": "pomocnik-secret-input",
        "type": "password",
        "labelFor": "pomocnik-secret-input",
        "label": "Kod lub PIN (wpisywane znaki są ukryte)",
        "textHidden": True,
        "secretHidden": False,
    }
    assert asked["focus"] == "input"
    assert asked["botBubbles"][-1] == "Podaj PIN do licencji."  # the flag itself shows nothing
    assert out["secretPending"]["userBubbles"][-1] == "••••"
    after = out["afterSecret"]
    assert after["userBubbles"] == ["Chcę zmienić e-mail", "••••"]
    assert after["secretMode"] is False and after["input"]["id"] == "pomocnik-input"
    # Rasa got the real value; the gateway's transcript only dots.
    assert stub_rasa.webhook_requests[-1].json()["message"] == "739184"
    conversation_id = after["stored"]
    history = (await client.get(f"/api/v1/conversations/{conversation_id}/messages")).json()
    visitor = [m for m in history["messages"] if m["author"] == "visitor"]
    assert [(m["text"], m.get("secret", False)) for m in visitor] == [
        ("Chcę zmienić e-mail", False),
        ("••••", True),
    ]
    assert "739184" not in json.dumps(history)


async def test_dropped_connection_loses_and_doubles_nothing(gateway_url, stub_rasa, client):
    stub_rasa.delay_seconds = 0.4  # the answer comes while the connection is down

    out = await run_harness(gateway_url, "reconnect")

    assert out["dropped"]["connectionState"] == (
        "Połączenie z czatem zostało przerwane. Łączę ponownie…"
    )
    assert out["afterReconnect"]["userBubbles"] == ["Pierwsza", "Druga"]
    final = out["final"]
    reply = "Kliknij „Nie pamiętam hasła” na stronie logowania."
    assert final["userBubbles"] == ["Pierwsza", "Druga", "Trzecia"]
    assert final["botBubbles"] == [GREETING, reply, reply, reply]
    assert final["failedMessages"] == 0 and final["noticeHidden"]
    assert final["connectionState"] is None
    assert final["seqs"] == sorted(final["seqs"])
    # Each message reached Rasa once and is stored once.
    assert [r.json()["message"] for r in stub_rasa.webhook_requests] == [
        "Pierwsza", "Druga", "Trzecia",
    ]
    history = (await client.get(f"/api/v1/conversations/{final['stored']}/messages")).json()
    assert [(m["author"], m["text"]) for m in history["messages"]] == [
        ("visitor", "Pierwsza"), ("bot", reply),
        ("visitor", "Druga"), ("bot", reply),
        ("visitor", "Trzecia"), ("bot", reply),
    ]


async def test_over_the_limit_the_text_stays_and_a_polish_notice_shows(
    stub_rasa, start_gateway, make_settings
):
    settings = make_settings(stub_rasa.url, session_messages_per_minute=1)
    # A fixed clock: the one-minute window cannot roll over between the two messages.
    async with start_gateway(settings, clock=FakeClock()) as url:
        out = await run_harness(url, "rate_limited")

    refused = out["refused"]
    assert refused["inputValue"] == "Druga"
    assert re.fullmatch(
        r"Wysyłasz wiadomości zbyt szybko\. Odczekaj \d+ sekund[ęy]? i wyślij wiadomość ponownie\.",
        refused["notice"],
    ), refused["notice"]
    assert refused["failedMessages"] == 1 and not refused["typingShown"]
    assert [r.json()["message"] for r in stub_rasa.webhook_requests] == ["Pierwsza"]


# ---------------------------------------------------------------- advisers: notices and forms

HANDOFF_REPLY = [
    {"recipient_id": "x", "text": "Dobrze, przekazuję prośbę o rozmowę z konsultantem."},
    {"recipient_id": "x", "custom": {"handoff": {"requested": True}}},
]
SATURDAY_EVENING = datetime(2026, 11, 21, 20, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
DEFAULT_HEADING = "Pomocnik – asystent iKsięgowość24"


def test_notice_helpers():
    assert run_helper(
        "[h.headerTitle('P', {state: 'agent', agent: 'Anna'}), h.headerTitle('P', {state: 'agent'}),"
        " h.headerTitle('P', {state: 'closed'}), h.headerTitle('P', null)]"
    ) == ["Anna – konsultant", "Konsultant", "P", "P"]
    assert run_helper("[h.queueText(3), h.queueText(0), h.queueText(undefined)]") == [
        "Czekasz na konsultanta – jesteś 3. w kolejce.",
        "Czekasz na konsultanta.",
        "Czekasz na konsultanta.",
    ]
    assert run_helper(
        "[h.offerOf({custom: {offer: 'ticket'}}), h.offerOf({custom: {offer: 'x'}}),"
        " h.offerOf({}), h.handoffOf({custom: {handoff: {state: 'queued', position: 1}}}),"
        " h.handoffOf({custom: {handoff: 'queued'}})]"
    ) == ["ticket", None, None, {"state": "queued", "position": 1}, None]
    assert run_helper(
        "[h.ticketFieldFor('ticket_email_invalid'), h.ticketFieldFor('ticket_contact_missing'),"
        " h.ticketFieldFor('ticket_phone_invalid'), h.ticketFieldFor('ticket_question_too_long'),"
        " h.ticketFieldFor('too_many_tickets')]"
    ) == ["email", "email", "phone", "question", None]
    assert run_helper("h.ticketErrors({email: '', phone: '', question: ''})") == {
        "email": "Podaj adres e-mail albo numer telefonu, żebyśmy mogli odpowiedzieć.",
        "question": "Napisz, w czym możemy pomóc.",
    }
    assert run_helper("h.ticketErrors({email: '', phone: '600100200', question: 'x'})") == {}
    assert run_helper(
        "[h.errorMessage({status: 0}), h.errorMessage({status: 500, data: null}),"
        " h.errorMessage({status: 409, data: {error: {code: 'x', message: 'Już.'}}})]"
    ) == [
        "Nie udało się połączyć z serwerem. Sprawdź połączenie z internetem i spróbuj ponownie.",
        "Coś poszło nie tak. Spróbuj ponownie za chwilę.",
        "Już.",
    ]
    assert run_helper("h.RATING_LABELS") == [
        "1 – bardzo źle", "2 – źle", "3 – średnio", "4 – dobrze", "5 – bardzo dobrze",
    ]


async def test_live_notices_drive_the_header_the_queue_and_the_forms(gateway_url):
    out = await run_harness(gateway_url, "notices")

    queued = out["queued"]
    assert queued["notices"][0]["kind"] == ["pomocnik-message--queued"]
    assert queued["notices"][0]["srPrefix"] == "Informacja: "
    assert queued["queue"] == {
        "text": "Czekasz na konsultanta – jesteś 1. w kolejce.",
        "role": "status",
        "button": "Anuluj oczekiwanie",
    }
    assert queued["botBubbles"] == [GREETING]  # a notice is not a bot bubble
    assert out["movedUp"]["queue"]["text"] == "Czekasz na konsultanta – jesteś 2. w kolejce."

    agent = out["agent"]
    assert agent["heading"] == "Anna – konsultant"
    assert agent["queue"] is None
    assert agent["notices"][-1]["kind"] == ["pomocnik-message--joined"]
    assert agent["notices"][-1]["text"] == "Do rozmowy dołącza konsultant Anna."
    assert agent["agentMessages"] == [
        {"author": "Konsultant Anna", "text": "Dzień dobry, w czym pomóc?Sprawdzę to."}
    ]

    back = out["back"]
    assert back["heading"] == DEFAULT_HEADING
    assert back["notices"][-1]["kind"] == ["pomocnik-message--returned"]

    offered = out["ticketOffered"]
    unavailable = offered["notices"][-1]
    assert unavailable["kind"] == ["pomocnik-message--unavailable"]
    assert "<br>" in unavailable["html"]
    assert '<a href="mailto:wsparcie@ingksiegowosc.pl">' in unavailable["html"]
    [ticket] = offered["cards"]
    assert ticket["title"] == "Zostaw zgłoszenie" and ticket["seq"] == 5
    assert ticket["labelledBy"] == ticket["titleId"]
    assert [(f["label"], f["tag"], f["type"], f["maxLength"]) for f in ticket["fields"]] == [
        ("E-mail", "input", "email", 320),
        ("Telefon", "input", "tel", 30),
        ("Twoje pytanie", "textarea", None, 2000),
    ]
    assert all(f["describedBy"].endswith("-error") for f in ticket["fields"])
    assert ticket["buttons"] == [{"text": "Wyślij zgłoszenie", "type": "submit"}]
    assert offered["focused"] == "pomocnik-ticket-1-email"  # focus moves into the new form

    done = out["ticketDone"]
    assert done["cards"] == [] and done["focused"] == "input"
    assert done["notices"][-1]["kind"] == ["pomocnik-message--confirmed"]

    rating_offered = out["ratingOffered"]
    [rating] = rating_offered["cards"]
    assert rating["title"] == "Oceń rozmowę" and rating["legend"] == "Jak oceniasz tę rozmowę?"
    assert [r["label"] for r in rating["radios"]] == [
        "1 – bardzo źle", "2 – źle", "3 – średnio", "4 – dobrze", "5 – bardzo dobrze",
    ]
    assert len({r["name"] for r in rating["radios"]}) == 1  # one radio group: arrow keys
    assert [(f["label"], f["maxLength"]) for f in rating["fields"]] == [
        ("Komentarz (opcjonalnie)", 1000)
    ]
    assert rating_offered["focused"] == "pomocnik-rating-2-score-1"

    rated = out["rated"]
    assert rated["cards"] == [] and rated["focused"] == "input"
    assert rated["notices"][-1]["text"] == "Dziękujemy za ocenę!"


async def test_reloaded_notices_keep_used_forms_closed_and_take_no_focus(gateway_url):
    out = await run_harness(gateway_url, "replay")

    everything = out["all"]
    assert [n["seq"] for n in everything["notices"]] == [1, 2, 4, 5, 6, 7, 8]
    assert everything["cards"] == []  # the ticket was sent, the conversation rated
    assert everything["heading"] == DEFAULT_HEADING and everything["queue"] is None
    assert everything["focused"] == "input"

    open_offer = out["openOffer"]
    assert [card["kind"] for card in open_offer["cards"]] == ["ticket"]
    assert open_offer["heading"] == "Marek – konsultant"
    assert open_offer["focused"] == "input"  # history never moves the focus

    assert out["closed"]["cards"] == []


async def test_after_hours_ticket_form(stub_rasa, start_gateway, make_settings, client):
    stub_rasa.replies_by_message["chce rozmawiac z konsultantem"] = HANDOFF_REPLY
    hours = BusinessHours(lambda: SATURDAY_EVENING)
    async with start_gateway(make_settings(stub_rasa.url), hours=hours) as url:
        out = await run_harness(url, "ticket")

    offered = out["offered"]
    notice = offered["notices"][-1]
    assert notice["kind"] == ["pomocnik-message--unavailable"]
    assert "w poniedziałek 23.11 od 8:00" in notice["text"]
    assert offered["focused"].endswith("-email")

    empty = out["empty"]["cards"][0]
    assert [(f["label"], f["error"], f["invalid"]) for f in empty["fields"]] == [
        ("E-mail", "Podaj adres e-mail albo numer telefonu, żebyśmy mogli odpowiedzieć.", "true"),
        ("Telefon", None, None),
        ("Twoje pytanie", "Napisz, w czym możemy pomóc.", "true"),
    ]
    assert out["empty"]["focused"].endswith("-email")

    invalid = out["invalid"]
    fields = invalid["cards"][0]["fields"]
    assert fields[0]["error"] == "To nie wygląda na poprawny adres e-mail, np. jan@firma.pl."
    assert fields[0]["invalid"] == "true" and invalid["focused"].endswith("-email")
    # What was typed stays.
    assert [f["value"] for f in fields] == [
        "jan.kowalski(at)majafirma", "", "Nie mogę wystawić faktury.",
    ]

    sent = out["sent"]
    assert sent["cards"] == [] and sent["focused"] == "input"
    confirmation = sent["notices"][-1]
    assert re.search(r"Przyjęliśmy zgłoszenie nr PM-\d{6}\.", confirmation["text"])
    assert confirmation["kind"] == ["pomocnik-message--confirmed"]


async def test_rating_from_the_header(stub_rasa, gateway_url):
    out = await run_harness(gateway_url, "rating")

    assert out["before"]["headerBar"] is None  # no conversation yet: nothing to rate
    assert out["conversation"]["headerBar"] == {"identity": None, "rate": "Zakończ i oceń rozmowę"}
    opened = out["opened"]
    [card] = opened["cards"]
    assert card["kind"] == "rating" and card["seq"] is None
    assert opened["focused"].endswith("-score-1")
    no_score = out["noScore"]["cards"][0]
    assert no_score["scoreError"] == "Wybierz ocenę od 1 do 5."
    chosen = out["chosen"]["cards"][0]
    assert [r["on"] for r in chosen["radios"]] == [True, True, True, True, False]
    assert chosen["caption"] == "4 – dobrze" and chosen["scoreError"] is None

    rated = out["rated"]
    assert rated["cards"] == [] and rated["focused"] == "input"
    assert rated["notices"][-1]["text"] == "Dziękujemy za ocenę!"
    assert rated["headerBar"] is None  # rated once: the button is gone
    assert out["again"]["cards"] == []


async def test_cancelling_the_wait_when_no_longer_queued(stub_rasa, gateway_url):
    out = await run_harness(gateway_url, "queue_cancel")

    assert out["queued"]["queue"]["text"] == "Czekasz na konsultanta – jesteś 1. w kolejce."
    cancelled = out["cancelled"]
    assert cancelled["queue"] is None and cancelled["focused"] == "input"
    assert cancelled["notice"] == "Ta rozmowa nie czeka w kolejce do konsultanta."


async def test_session_token_goes_with_session_request_only(gateway_url, monkeypatch):
    monkeypatch.setenv("WIDGET_SESSION_TOKEN", "platform-session-token-123")

    out = await run_harness(gateway_url, "identity")

    # Sent on connect, before anything was typed (a signed-in visitor sees who they are).
    [request] = out["sessionRequests"]
    assert request["session_token"] == "platform-session-token-123"
    assert request["session_id"] is None
    assert out["identities"] == [{"verified": False}]  # no backend in this test
    # Not verified: no "Zalogowano jako"; the new conversation can be rated already.
    assert out["refused"]["headerBar"] == {"identity": None, "rate": "Zakończ i oceń rozmowę"}
    assert list(out["storage"]) == ["pomocnik.conversation"]
    assert "platform-session-token-123" not in json.dumps(out["storage"])
    assert out["verified"]["headerBar"]["identity"] == "Zalogowano jako Jan Kowalski"
