"""Secrets the visitor volunteers are masked in the stored transcript, asked for or not.

Real gateway, real database file; Rasa is the HTTP stub. What the assistant receives is what
the visitor typed (it needs the values); what the gateway keeps and shows back is masked.
"""

from __future__ import annotations

import re

import pytest

from bot.redaction import PASSWORD_REDACTED_TEXT as GONE

PLANTED = [
    ("moje hasło to Zima2026!", f"moje hasło to {GONE}"),
    ("Lato#2024x", GONE),
    (
        "loguję się x@y.pl i hasłem Wiosna2025! i nie działa",
        f"loguję się x@y.pl i hasłem {GONE} i nie działa",
    ),
    ("ID 68577 PIN 4821", "ID ••••• PIN ••••"),
    ('/inform{"pin":"9930"}', '/inform{"pin":"••••"}'),
    ("kod 739184 nie działa", "kod •••••• nie działa"),
]
ORDINARY = [
    "chcę zmienić pakiet na złoty",
    "mój mail to jan.kowalski@majafirma.pl",
    "ile kosztuje 799 zł z VAT 23%",
    "NIP mam gdzieś w papierach",
    "zadzwońcie 32 356 22 23",
]
SECRET_VALUES = ["Zima2026!", "Lato#2024x", "Wiosna2025!", "68577", "4821", "9930", "739184"]


def messages_path(conversation_id: str) -> str:
    return f"/api/v1/conversations/{conversation_id}/messages"


async def test_volunteered_secrets_are_masked_in_the_transcript(
    client, conversation_id, stub_rasa, database_url
):
    for text, _ in PLANTED + [(text, text) for text in ORDINARY]:
        response = await client.post(messages_path(conversation_id), json={"text": text})
        assert response.status_code == 200, response.text

    # The assistant got the real values ...
    relayed = [r.json()["message"] for r in stub_rasa.webhook_requests]
    assert relayed == [text for text, _ in PLANTED] + ORDINARY
    # ... the transcript keeps them masked, and ordinary messages exactly as typed.
    history = (await client.get(messages_path(conversation_id))).json()["messages"]
    visitor_texts = [m["text"] for m in history if m["author"] == "visitor"]
    assert visitor_texts == [stored for _, stored in PLANTED] + ORDINARY
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1]
        raw = b""
        for suffix in ("", "-wal", "-shm"):
            try:
                with open(path + suffix, "rb") as handle:
                    raw += handle.read()
            except FileNotFoundError:
                pass
        for value in SECRET_VALUES:
            # Digits not next to other digits: a timestamp's microseconds may contain "4821".
            assert not re.search(rb"(?<![0-9])" + re.escape(value.encode()) + rb"(?![0-9])", raw), value


@pytest.mark.parametrize("text", ORDINARY)
async def test_ordinary_messages_are_stored_as_typed(client, conversation_id, text):
    await client.post(messages_path(conversation_id), json={"text": text})
    history = (await client.get(messages_path(conversation_id))).json()["messages"]
    assert [m["text"] for m in history if m["author"] == "visitor"] == [text]
