"""Rasa's socket.io channel protocol through the gateway, with a stock python-socketio client.

The client knows nothing of Pomocnik: it speaks what Rasa's own socket.io channel speaks
(session_request/session_confirm, user_uttered/bot_uttered). The gateway's extra events and
fields (history, client message ids, acknowledgements) are exercised next to it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from unittest.mock import ANY

import httpx
import pytest
import socketio

from bot.gateway.conversations import SignedConversations

ID_FORMAT = re.compile(r"[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{22}")
REPLY = "Kliknij „Nie pamiętam hasła” na stronie logowania."
PIN_QUESTION = [
    {"recipient_id": "x", "text": "Podaj PIN do licencji."},
    {"recipient_id": "x", "custom": {"input": "secret"}},
]


def history_path(conversation_id: str) -> str:
    return f"/api/v1/conversations/{conversation_id}/messages"


# ---------------------------------------------------------------- a stock client's conversation


async def test_stock_client_holds_a_conversation(visitors, stub_rasa):
    stub_rasa.replies_by_message["Cześć"] = [
        {"recipient_id": "x", "text": "Dzień dobry!\n\nW czym pomóc?",
         "buttons": [{"title": "Hasło", "payload": "/haslo"}]},
        {"recipient_id": "x", "image": "https://example.com/a.png"},
    ]
    visitor = await visitors()

    session_id = await visitor.request_session(None)
    assert ID_FORMAT.fullmatch(session_id)
    await visitor.client.emit("user_uttered", {"message": "Cześć", "session_id": session_id})
    await visitor.wait_for("bot_uttered", 3)
    await visitor.client.emit("user_uttered", {"message": "/haslo", "session_id": session_id})
    await visitor.wait_for("bot_uttered", 4)

    # Rasa's own shapes: paragraphs, quick_replies on the last one, an image attachment.
    assert visitor.events("bot_uttered") == [
        {"text": "Dzień dobry!"},
        {"text": "W czym pomóc?",
         "quick_replies": [{"content_type": "text", "title": "Hasło", "payload": "/haslo"}]},
        {"attachment": {"type": "image", "payload": {"src": "https://example.com/a.png"}}},
        {"text": REPLY, "quick_replies": [
            {"content_type": "text", "title": "Tak, dziękuję", "payload": "/affirm"},
            {"content_type": "text", "title": "Nie", "payload": '/deny{"powod":"inny"}'},
        ]},
    ]
    # Rasa sees the gateway only: sender = the conversation id, metadata only what the
    # gateway knows (the client's network, for the assistant's per-requester limits; the turn
    # marker by which it finds the message's events in the tracker).
    client = {"pomocnik_client": {"network": "127.0.0.0/24"}, "pomocnik_turn": {"message": ANY}}
    assert [r.json() for r in stub_rasa.webhook_requests] == [
        {"sender": session_id, "message": "Cześć", "metadata": client},
        {"sender": session_id, "message": "/haslo", "metadata": client},
    ]


async def test_a_visitor_cannot_inject_metadata(visitors, stub_rasa):
    visitor = await visitors()
    session_id = await visitor.request_session()

    await visitor.say(
        "Cześć", session_id, customData={"verified_email": "jan.kowalski@majafirma.pl"},
        metadata={"role": "admin"},
    )
    await visitor.wait_for("bot_uttered")

    assert stub_rasa.webhook_requests[0].json()["metadata"] == {
        "pomocnik_client": {"network": "127.0.0.0/24"}, "pomocnik_turn": {"message": ANY}
    }


async def test_unknown_or_forged_session_ids_are_replaced(visitors):
    visitor = await visitors()
    forged = "A" * 24 + "." + "B" * 22
    foreign = SignedConversations("some-other-secret-0123456789-abcdefgh").new_id()

    first = await visitor.request_session(forged)
    assert first != forged and ID_FORMAT.fullmatch(first)
    second = await SocketRequest(visitor).session(foreign)
    assert second != foreign and ID_FORMAT.fullmatch(second)


async def test_a_known_session_is_kept(visitors, conversation_id):
    visitor = await visitors()
    assert await visitor.request_session(conversation_id) == conversation_id


async def test_polling_transport_works_too(visitors, stub_rasa):
    visitor = await visitors(transports=("polling",))
    session_id = await visitor.request_session()

    ack = await visitor.say("Cześć", session_id)

    assert ack["ok"] is True
    assert (await visitor.wait_for("bot_uttered"))["text"] == REPLY


class SocketRequest:
    """A second session_request on the same socket (as Rasa widgets do on "restart")."""

    def __init__(self, visitor) -> None:
        self.visitor = visitor

    async def session(self, session_id: str) -> str:
        count = len(self.visitor.events("session_confirm"))
        await self.visitor.client.emit("session_request", {"session_id": session_id})
        return await self.visitor.wait_for("session_confirm", count + 1)


# ---------------------------------------------------------------- transcript and tabs


async def test_history_after_a_reload(visitors, stub_rasa, client):
    first = await visitors()
    session_id = await first.request_session()
    await first.say("Nie pamiętam hasła", session_id, cid="cid-00000001")
    await first.wait_for("pomocnik_status")
    await first.disconnect()

    # A reload: a new connection with the stored id asks for the history.
    reloaded = await visitors()
    await reloaded.request_session(session_id, history_after=0)
    history = await reloaded.wait_for("pomocnik_history")

    assert history["session_id"] == session_id
    messages = history["messages"]
    assert [(m["seq"], m["author"], m["text"]) for m in messages] == [
        (1, "visitor", "Nie pamiętam hasła"),
        (2, "bot", REPLY),
    ]
    assert messages[0]["status"] == "answered" and messages[0]["cid"] == "cid-00000001"
    assert messages[1]["buttons"][0] == {"title": "Tak, dziękuję", "payload": "/affirm"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", m["at"]) for m in messages)

    # Only what came after a seq, and the same through the REST API.
    await reloaded.client.emit("session_request", {"session_id": session_id, "history_after": 1})
    assert [m["seq"] for m in (await reloaded.wait_for("pomocnik_history", 2))["messages"]] == [2]
    rest = (await client.get(history_path(session_id))).json()["messages"]
    assert rest == messages


async def test_stock_clients_get_no_history_unless_they_ask(visitors, conversation_id, client):
    await client.post(history_path(conversation_id), json={"text": "Cześć"})
    visitor = await visitors()

    await visitor.request_session(conversation_id)
    await asyncio.sleep(0.2)

    assert visitor.events("pomocnik_history") == []


async def test_a_second_tab_sees_the_conversation_live(visitors, stub_rasa, client):
    tab1 = await visitors()
    session_id = await tab1.request_session()
    tab2 = await visitors()
    await tab2.request_session(session_id)

    await tab1.say("Cześć", session_id, cid="cid-tab-one-1")
    await tab2.wait_for("pomocnik_status")
    # A message sent through the REST API (e.g. the terminal client) shows too.
    await client.post(history_path(session_id), json={"text": "Druga"})
    for tab in (tab1, tab2):
        await tab.wait_for("pomocnik_status", 2)

    seen = [(m["seq"], m["author"], m["text"]) for m in tab2.events("pomocnik_message")]
    assert seen == [(1, "visitor", "Cześć"), (2, "bot", REPLY), (3, "visitor", "Druga"),
                    (4, "bot", REPLY)]
    assert [s["status"] for s in tab2.events("pomocnik_status")] == ["answered", "answered"]
    assert [p["text"] for p in tab2.events("bot_uttered")] == [REPLY, REPLY]
    assert tab1.events("pomocnik_message") == tab2.events("pomocnik_message")


# ---------------------------------------------------------------- reconnects and idempotency


async def test_resent_message_after_a_drop_is_stored_and_relayed_once(
    visitors, stub_rasa, client
):
    stub_rasa.delay_seconds = 0.5
    first = await visitors()
    session_id = await first.request_session()
    # The message leaves, then the connection drops before anything comes back.
    await first.client.emit(
        "user_uttered", {"message": "Nie pamiętam hasła", "session_id": session_id,
                         "cid": "cid-dropped-1"}
    )
    await asyncio.sleep(0.1)
    await first.disconnect()

    # The widget reconnects, catches up and re-sends what was not acknowledged.
    again = await visitors()
    await again.request_session(session_id, history_after=0)
    ack = await again.say("Nie pamiętam hasła", session_id, cid="cid-dropped-1")
    assert ack == {"ok": True, "seq": 1, "duplicate": True}
    await again.wait_until(
        lambda v: any(m["author"] == "bot" for m in v.events("pomocnik_message"))
        or any(m["author"] == "bot" for h in v.events("pomocnik_history") for m in h["messages"])
    )

    assert len(stub_rasa.webhook_requests) == 1
    stored = (await client.get(history_path(session_id))).json()["messages"]
    assert [(m["author"], m["text"]) for m in stored] == [
        ("visitor", "Nie pamiętam hasła"), ("bot", REPLY)
    ]


async def test_resending_an_answered_message_changes_nothing(visitors, stub_rasa):
    visitor = await visitors()
    session_id = await visitor.request_session()
    first = await visitor.say("Cześć", session_id, cid="cid-twice-0001")
    await visitor.wait_for("pomocnik_status")

    second = await visitor.say("Cześć", session_id, cid="cid-twice-0001")

    assert first == {"ok": True, "seq": 1, "duplicate": False}
    assert second == {"ok": True, "seq": 1, "duplicate": True}
    await asyncio.sleep(0.2)
    assert len(stub_rasa.webhook_requests) == 1
    assert len(visitor.events("pomocnik_message")) == 2  # the message and its one reply


async def test_rest_retry_with_the_same_client_id_gets_the_stored_replies(
    client, stub_rasa, conversation_id
):
    body = {"text": "Cześć", "client_message_id": "rest-retry-0001"}
    first = await client.post(history_path(conversation_id), json=body)
    second = await client.post(history_path(conversation_id), json=body)

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and first.json()["messages"][0]["text"] == REPLY
    assert len(stub_rasa.webhook_requests) == 1


@pytest.mark.parametrize("cid", ["short", "x" * 65, "has space!", 42])
async def test_malformed_client_ids_are_refused(client, conversation_id, assert_error, cid):
    response = await client.post(
        history_path(conversation_id), json={"text": "Cześć", "client_message_id": cid}
    )
    assert_error(response, 422, "invalid_client_message_id", "client_message_id")


# ---------------------------------------------------------------- the assistant unavailable


async def test_rasa_down_marks_the_message_failed_and_a_resend_retries(visitors, stub_rasa, client):
    stub_rasa.reply_status = 500
    visitor = await visitors()
    session_id = await visitor.request_session()

    ack = await visitor.say("Cześć", session_id, cid="cid-rasa-down-1")
    status = await visitor.wait_for("pomocnik_status")

    assert ack["ok"] is True
    assert status == {
        "seq": 1,
        "cid": "cid-rasa-down-1",
        "status": "failed",
        "error": {
            "code": "assistant_unavailable",
            "message": "Asystent jest chwilowo niedostępny. Spróbuj ponownie za chwilę.",
        },
    }
    assert await visitor.wait_for("bot_uttered") == {
        "text": "Asystent jest chwilowo niedostępny. Spróbuj ponownie za chwilę."
    }
    stored = (await client.get(history_path(session_id))).json()["messages"]
    assert [(m["text"], m["status"]) for m in stored] == [("Cześć", "failed")]

    # Rasa is back: sending the same message again relays the stored one.
    stub_rasa.reply_status = 200
    await visitor.say("Cześć", session_id, cid="cid-rasa-down-1")
    await visitor.wait_until(
        lambda v: [s["status"] for s in v.events("pomocnik_status")][-1:] == ["answered"]
    )
    stored = (await client.get(history_path(session_id))).json()["messages"]
    assert [(m["author"], m.get("status")) for m in stored] == [
        ("visitor", "answered"), ("bot", None)
    ]
    assert len(stub_rasa.webhook_requests) == 2


async def test_too_long_and_empty_messages_are_refused_in_polish(visitors, stub_rasa):
    visitor = await visitors()
    session_id = await visitor.request_session()

    too_long = await visitor.say("a" * 1001, session_id)
    empty = await visitor.say("   ", session_id)

    assert too_long == {"ok": False, "error": {
        "code": "message_too_long",
        "message": "Wiadomość jest za długa. Maksymalna długość to 1000 znaków.",
    }}
    assert empty["error"]["code"] == "validation_error"
    # A stock client sees the notice as a bot message.
    await visitor.wait_for("bot_uttered", 2)
    assert visitor.events("bot_uttered")[0]["text"].startswith("Wiadomość jest za długa")
    assert stub_rasa.webhook_requests == []


async def test_user_uttered_before_session_request_uses_its_session_id(
    visitors, stub_rasa, conversation_id
):
    visitor = await visitors()

    ack = await visitor.say("Cześć", conversation_id)

    assert ack["ok"] is True
    assert (await visitor.wait_for("bot_uttered"))["text"] == REPLY
    no_session = await (await visitors()).say("Cześć", "nie-ma-takiej-rozmowy")
    assert no_session["error"]["code"] == "conversation_not_found"


# ---------------------------------------------------------------- secrets


async def test_pin_is_relayed_but_stored_and_shown_masked(
    visitors, stub_rasa, client, caplog, database_url
):
    caplog.set_level(logging.DEBUG)
    stub_rasa.replies_by_message["Chcę zmienić e-mail"] = PIN_QUESTION
    tab = await visitors()
    session_id = await tab.request_session()
    other_tab = await visitors()
    await other_tab.request_session(session_id)

    await tab.say("Chcę zmienić e-mail", session_id)
    await tab.wait_for("pomocnik_status")
    await tab.say("739184", session_id, cid="cid-secret-001")
    await tab.wait_for("pomocnik_status", 2)
    await tab.say("Dziękuję", session_id)  # the next message is plain again
    await other_tab.wait_for("pomocnik_status", 3)

    assert [r.json()["message"] for r in stub_rasa.webhook_requests] == [
        "Chcę zmienić e-mail", "739184", "Dziękuję",
    ]
    visitor_lines = [
        (m["text"], m.get("secret", False))
        for m in other_tab.events("pomocnik_message") if m["author"] == "visitor"
    ]
    assert visitor_lines == [("Chcę zmienić e-mail", False), ("••••", True), ("Dziękuję", False)]
    stored = (await client.get(history_path(session_id))).json()["messages"]
    assert [m["text"] for m in stored if m["author"] == "visitor"] == [
        "Chcę zmienić e-mail", "••••", "Dziękuję",
    ]
    # Stock clients get the flag as Rasa would send a custom payload.
    assert {"input": "secret"} in tab.events("bot_uttered")
    # Never in a log line, never in the database files; no full conversation id in logs either.
    assert "739184" not in "\n".join(r.getMessage() for r in caplog.records)
    gateway_logs = "\n".join(
        r.getMessage() for r in caplog.records
        if r.name.startswith(("pomocnik", "sanic", "socketio", "engineio"))
    )
    assert f"conv={session_id[:6]}" in gateway_logs and session_id not in gateway_logs
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1]
        for suffix in ("", "-wal"):
            with open(path + suffix, "rb") as db_file:
                assert b"739184" not in db_file.read()


async def test_button_payload_is_not_taken_for_the_secret(visitors, stub_rasa, client):
    stub_rasa.replies_by_message["Chcę zmienić e-mail"] = PIN_QUESTION
    visitor = await visitors()
    session_id = await visitor.request_session()
    await visitor.say("Chcę zmienić e-mail", session_id)
    await visitor.wait_for("pomocnik_status")

    await visitor.say("/anuluj", session_id, title="Anuluj")
    await visitor.wait_for("pomocnik_status", 2)

    stored = (await client.get(history_path(session_id))).json()["messages"]
    assert [m for m in stored if m["author"] == "visitor"][-1]["title"] == "Anuluj"
    assert "••••" not in [m["text"] for m in stored]


# ---------------------------------------------------------------- origins


async def test_other_sites_cannot_open_the_socket(gateway_url):
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            gateway_url, transports=["websocket"], headers={"Origin": "https://evil.example"},
            wait_timeout=5,
        )


async def test_listed_origins_can_open_the_socket(stub_rasa, start_gateway, make_settings):
    settings = make_settings(stub_rasa.url, allowed_origins=("https://www.iksiegowosc24.pl",))
    async with start_gateway(settings) as url:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(
            url, transports=["websocket"], headers={"Origin": "https://www.iksiegowosc24.pl"},
            wait_timeout=5,
        )
        assert client.connected
        await client.disconnect()


async def test_socket_io_answers_are_not_cached(client):
    response = await client.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"


async def test_health_still_answers_with_sockets_attached(gateway_url):
    async with httpx.AsyncClient(base_url=gateway_url, trust_env=False) as http:
        assert (await http.get("/health")).json() == {"status": "ok"}
