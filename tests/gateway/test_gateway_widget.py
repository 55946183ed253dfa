"""The real widget.js under Node: its pure helpers, and full flows against the real gateway.

The browser itself is replaced by a small DOM stand-in (widget_harness.js);
requests go over real HTTP to the in-process gateway and the stub Rasa.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

WIDGET_JS = Path(__file__).resolve().parents[2] / "bot" / "gateway" / "static" / "widget.js"
HARNESS_JS = Path(__file__).resolve().parent / "widget_harness.js"
NODE = shutil.which("node")
ID_FORMAT = re.compile(r"[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{22}")
GREETING = "Dzień dobry! Jestem Pomocnik, asystent iKsięgowość24. W czym mogę pomóc?"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


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
        NODE, str(HARNESS_JS), str(WIDGET_JS), gateway_url, scenario, stored_id,
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
