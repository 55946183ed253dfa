"""End-to-end tests of the running sink: real SMTP in, real HTTP out, files on disk."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime

import aiosmtplib
import pytest
from sanic.response import json as sanic_json

from mailsink.store import MESSAGE_ID_RE

RESET_SUBJECT = "Resetowanie hasła – iKsięgowość24"
RESET_LINK = "https://app.iksiegowosc24.test/reset-hasla?token=Zx9-abc_123&lang=pl"
SENDER = "no-reply@iksiegowosc24.test"


def build_reset_message(
    to: str = "Jan Kowalski <jan.kowalski@example.com>", subject: str = RESET_SUBJECT
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"iKsięgowość24 <{SENDER}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc))
    message.set_content(
        f"Dzień dobry,\n\naby ustawić nowe hasło, kliknij: {RESET_LINK}.\n\nZespół iKsięgowość24\n"
    )
    message.add_alternative(
        f'<p>Dzień dobry,</p><p><a href="{html.escape(RESET_LINK)}">Ustaw nowe hasło</a></p>'
        "<script>document.title='pwned'</script>\n",
        subtype="html",
    )
    return message


def as_smtp_bytes(message: EmailMessage) -> bytes:
    # CRLF line ends are what travels over SMTP, so the stored bytes can be compared.
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


async def send_reset_mail(sink, to_address: str = "jan.kowalski@example.com") -> bytes:
    raw = as_smtp_bytes(build_reset_message(to=f"Jan Kowalski <{to_address}>"))
    await sink.send(raw, sender=SENDER, recipients=[to_address])
    return raw


async def test_received_message_is_stored_as_eml_file_with_original_bytes(sink):
    raw = await send_reset_mail(sink)

    files = sink.eml_files()
    assert len(files) == 1
    assert MESSAGE_ID_RE.match(files[0].stem)
    stored = files[0].read_bytes()
    # Trace headers are prepended; everything received follows unchanged.
    assert stored.endswith(raw)
    assert stored[: -len(raw)] == (
        f"Return-Path: <{SENDER}>\r\nX-Mailsink-Envelope-To: jan.kowalski@example.com\r\n".encode()
    )
    parsed = BytesParser(policy=policy.default).parsebytes(stored)
    assert parsed["Subject"] == RESET_SUBJECT
    assert not list(sink.mail_dir.glob(".incoming-*")), "temp files must not be left behind"


async def test_api_returns_decoded_subject_text_and_html(sink):
    await send_reset_mail(sink)

    [message] = await sink.api_messages()
    assert MESSAGE_ID_RE.match(message["id"])
    assert message["subject"] == RESET_SUBJECT
    assert message["from"] == f"iKsięgowość24 <{SENDER}>"
    assert message["to"] == "Jan Kowalski <jan.kowalski@example.com>"
    assert message["date"] == "2026-03-02T09:30:00+00:00"
    assert message["envelope_to"] == ["jan.kowalski@example.com"]
    assert "aby ustawić nowe hasło" in message["text"]
    assert "\r" not in message["text"]
    assert re.search(r"https://\S+token=[\w-]+&lang=pl", message["text"]).group() == RESET_LINK
    assert f'href="{html.escape(RESET_LINK)}"' in message["html"]


async def test_api_lists_newest_first_and_returns_single_message(sink):
    await sink.send(build_reset_message(subject="pierwsza"))
    await sink.send(build_reset_message(subject="druga"))

    messages = await sink.api_messages()
    assert [m["subject"] for m in messages] == ["druga", "pierwsza"]
    response = await sink.http.get(f"/api/messages/{messages[1]['id']}")
    assert response.status_code == 200
    assert response.json() == messages[1]


async def test_message_page_renders_text_links_and_sandboxed_html(sink):
    await send_reset_mail(sink)
    [message] = await sink.api_messages()

    response = await sink.http.get(f"/messages/{message['id']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert f"<h1>{RESET_SUBJECT}</h1>" in page
    escaped_link = html.escape(RESET_LINK)
    attributes = 'target="_blank" rel="noopener noreferrer"'
    assert f'<a href="{escaped_link}" {attributes}>{escaped_link}</a>.' in page
    iframe = re.search(r"<iframe [^>]*>", page).group()
    assert 'sandbox="' in iframe
    assert "allow-scripts" not in iframe and "allow-same-origin" not in iframe
    # The mail's HTML lives only inside the escaped srcdoc attribute.
    assert "<script" not in page
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', iframe).group(1))
    assert srcdoc == message["html"]


async def test_inbox_page_lists_messages(sink):
    empty = await sink.http.get("/")
    assert empty.status_code == 200 and "No messages yet" in empty.text

    await send_reset_mail(sink)
    [message] = await sink.api_messages()
    page = (await sink.http.get("/")).text
    assert f'<a href="/messages/{message["id"]}">{RESET_SUBJECT}</a>' in page
    assert "jan.kowalski@example.com" in page


async def test_eml_download_is_byte_identical_to_stored_file(sink):
    await send_reset_mail(sink)
    [message] = await sink.api_messages()

    response = await sink.http.get(f"/messages/{message['id']}.eml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "message/rfc822"
    assert message["id"] in response.headers["content-disposition"]
    assert response.content == (sink.mail_dir / f"{message['id']}.eml").read_bytes()


async def test_to_filter_matches_recipient_case_insensitively(sink):
    await send_reset_mail(sink, "alice@example.com")
    await send_reset_mail(sink, "bob@example.com")
    # Bcc: in no header, only in the SMTP envelope.
    await sink.send(as_smtp_bytes(build_reset_message(to="alice@example.com")),
                    sender=SENDER, recipients=["alice@example.com", "Carol@Example.com"])

    alice = await sink.api_messages(to="ALICE@example.COM")
    bob = await sink.api_messages(to="bob@example.com")
    carol = await sink.api_messages(to="carol@example.com")
    assert len(alice) == 2 and all("alice@example.com" in m["to"] for m in alice)
    assert [m["to"] for m in bob] == ["Jan Kowalski <bob@example.com>"]
    assert len(carol) == 1 and carol[0]["envelope_to"] == ["alice@example.com", "Carol@Example.com"]
    assert await sink.api_messages(to="example.com") == [], "must match whole addresses only"


async def test_delete_clears_all_messages(sink):
    await send_reset_mail(sink)
    await send_reset_mail(sink)
    assert len(sink.eml_files()) == 2

    response = await sink.http.delete("/api/messages")
    assert response.status_code == 200
    assert response.json() == {"deleted": 2}
    assert sink.eml_files() == []
    assert await sink.api_messages() == []


async def test_smtp_accepts_any_login_and_unusual_mail(sink):
    # Apps configured with SMTP credentials must still be able to deliver to the sink.
    await aiosmtplib.send(
        build_reset_message(), hostname=sink.settings.host, port=sink.settings.smtp_port,
        username="any", password="thing", timeout=10,
    )
    # A message without headers or MIME structure is still stored and listed.
    await sink.send(b"just some bytes\r\n", sender="x@example.com", recipients=["y@example.com"])

    messages = await sink.api_messages()
    assert [m["subject"] for m in messages] == ["", RESET_SUBJECT]
    assert messages[0]["text"] == "just some bytes\n"


async def test_stopping_the_app_closes_the_smtp_port(sink_runner, sink_settings):
    async with sink_runner(sink_settings) as sink:
        await send_reset_mail(sink)
    with pytest.raises(OSError):  # connection refused: the SMTP server went down with the app
        await asyncio.open_connection(sink_settings.host, sink_settings.smtp_port)
    assert len(list(sink_settings.mail_dir.glob("*.eml"))) == 1


async def test_json_keeps_polish_letters_without_changing_other_sanic_apps(sink):
    await send_reset_mail(sink)
    body = (await sink.http.get("/api/messages")).content
    assert RESET_SUBJECT.encode() in body
    # Other services may share this process (tests); their JSON must stay untouched.
    assert sanic_json({"x": "ł"}).body == b'{"x":"\\u0142"}'


async def test_health(sink):
    response = await sink.http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "path",
    [
        "/messages/../../etc/passwd",
        "/messages/..%2F..%2Fetc%2Fpasswd",
        "/messages/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/messages/../secret",
        "/messages/../secret.eml",
        "/messages/..%2Fsecret",
        "/messages/..%2Fsecret.eml",
        "/messages/..%5Csecret.eml",
        "/api/messages/../secret",
        "/api/messages/..%2Fsecret",
        "/api/messages/../../etc/passwd",
    ],
)
async def test_path_traversal_ids_get_404(sink, raw_get, path):
    # A real .eml one level above the mail dir: a traversal bug would serve it.
    sink.mail_dir.mkdir(parents=True, exist_ok=True)
    (sink.mail_dir.parent / "secret.eml").write_text("Subject: TOP-SECRET\r\n\r\nTOP-SECRET\r\n")

    status, body = await raw_get(path)
    assert status == 404
    assert "TOP-SECRET" not in body and "root:" not in body
    assert "Traceback" not in body


@pytest.mark.parametrize("message_id", ["20260101T000000000000-" + "0" * 32, "not-an-id", "x.eml"])
async def test_unknown_ids_get_404_without_details(sink, message_id):
    for path, kind in [(f"/messages/{message_id}", "text/html"),
                       (f"/messages/{message_id}.eml", "text/html"),
                       (f"/api/messages/{message_id}", "application/json")]:
        response = await sink.http.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith(kind), path
        assert "Traceback" not in response.text
    assert (await sink.http.get(f"/api/messages/{message_id}")).json() == {"error": "not found"}
