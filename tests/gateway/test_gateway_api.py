"""The JSON API over real HTTP: conversations, relay to (stub) Rasa, errors, health."""

from __future__ import annotations

import json
import logging
import re
from unittest.mock import ANY

import httpx
import pytest

from bot.gateway.conversations import SignedConversations

ID_FORMAT = re.compile(r"[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{22}")
UNAVAILABLE = "Asystent jest chwilowo niedostępny. Spróbuj ponownie za chwilę."


def messages_path(conversation_id: str) -> str:
    return f"/api/v1/conversations/{conversation_id}/messages"


# ---------------------------------------------------------------- conversations


async def test_create_conversation_returns_signed_id(client):
    response = await client.post("/api/v1/conversations")

    assert response.status_code == 201
    assert ID_FORMAT.fullmatch(response.json()["conversation_id"])
    assert response.headers["cache-control"] == "no-store"


async def test_each_conversation_gets_a_new_id(client):
    first = (await client.post("/api/v1/conversations")).json()["conversation_id"]
    second = (await client.post("/api/v1/conversations")).json()["conversation_id"]
    assert first != second


# ---------------------------------------------------------------- relay


async def test_message_is_relayed_to_rasa_and_reply_normalised(client, stub_rasa, conversation_id):
    response = await client.post(
        messages_path(conversation_id), json={"text": "  Nie pamiętam hasła do Panelu Biura  "}
    )

    assert response.status_code == 200
    assert response.json() == {
        "messages": [
            {
                "text": "Kliknij „Nie pamiętam hasła” na stronie logowania.",
                "buttons": [
                    {"title": "Tak, dziękuję", "payload": "/affirm"},
                    {"title": "Nie", "payload": '/deny{"powod":"inny"}'},
                ],
            }
        ]
    }
    [forwarded] = stub_rasa.webhook_requests
    assert forwarded.method == "POST"
    assert forwarded.headers["content-type"] == "application/json"
    assert forwarded.json() == {
        "sender": conversation_id,
        "message": "Nie pamiętam hasła do Panelu Biura",
        # The turn marker: the gateway finds this message's events in Rasa's tracker by it.
        "metadata": {"pomocnik_client": {"network": "127.0.0.0/24"},
                     "pomocnik_turn": {"message": ANY}},
    }


async def test_button_payload_is_forwarded_verbatim(client, stub_rasa, conversation_id):
    payload = '/deny{"powod":"inny"}'
    response = await client.post(messages_path(conversation_id), json={"text": payload})

    assert response.status_code == 200
    assert stub_rasa.webhook_requests[-1].json()["message"] == payload


async def test_several_rasa_messages_keep_their_order(client, stub_rasa, conversation_id):
    stub_rasa.reply_body = [
        {"recipient_id": conversation_id, "text": "Pierwsza"},
        {"recipient_id": conversation_id, "text": "Druga", "image": "https://example.com/a.png"},
        {"recipient_id": conversation_id, "custom": {"handoff": True}},
    ]

    response = await client.post(messages_path(conversation_id), json={"text": "Cześć"})

    assert response.json()["messages"] == [
        {"text": "Pierwsza", "buttons": []},
        {"text": "Druga", "buttons": [], "image": "https://example.com/a.png"},
        {"text": "", "buttons": [], "custom": {"handoff": True}},
    ]


async def test_empty_rasa_reply_gives_empty_list(client, stub_rasa, conversation_id):
    stub_rasa.reply_body = []
    response = await client.post(messages_path(conversation_id), json={"text": "Cześć"})
    assert response.status_code == 200
    assert response.json() == {"messages": []}


async def test_text_of_exactly_the_limit_is_accepted(client, stub_rasa, conversation_id):
    text = "ą" * 1000
    response = await client.post(messages_path(conversation_id), json={"text": text})

    assert response.status_code == 200
    assert stub_rasa.webhook_requests[-1].json()["message"] == text


# ---------------------------------------------------------------- conversation errors


async def test_forged_conversation_id_is_not_found(client, stub_rasa, assert_error):
    forged = "A" * 24 + "." + "B" * 22

    response = await client.post(messages_path(forged), json={"text": "Cześć"})

    assert_error(response, 404, "conversation_not_found", "Nie znaleziono rozmowy")
    assert stub_rasa.webhook_requests == []


async def test_id_signed_with_another_secret_is_not_found(client, stub_rasa, assert_error):
    foreign = SignedConversations("some-other-secret-0123456789-abcdefgh").new_id()

    response = await client.post(messages_path(foreign), json={"text": "Cześć"})

    assert_error(response, 404, "conversation_not_found")
    assert stub_rasa.webhook_requests == []


async def test_garbage_conversation_id_is_not_found(client, assert_error):
    response = await client.post(messages_path("..%2F..%2Fetc"), json={"text": "Cześć"})
    assert_error(response, 404, "conversation_not_found")


# ---------------------------------------------------------------- request validation


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}, {}],
)
async def test_non_json_content_type_is_rejected(client, conversation_id, assert_error, headers):
    response = await client.post(
        messages_path(conversation_id), content=b'{"text": "Cze\xc5\x9b\xc4\x87"}', headers=headers
    )
    assert_error(response, 415, "unsupported_media_type", "JSON")


async def test_json_content_type_with_charset_is_accepted(client, conversation_id):
    response = await client.post(
        messages_path(conversation_id),
        content=json.dumps({"text": "Cześć"}).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize("body", [b"{", b"", b"{'text': 'x'}", b"\xff\xfe\x00"])
async def test_malformed_json_is_rejected(client, conversation_id, assert_error, body):
    response = await client.post(
        messages_path(conversation_id), content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "malformed_json", "JSON")


@pytest.mark.parametrize(
    "body",
    [{}, {"text": ""}, {"text": "  \n\t "}, {"text": None}, {"text": 42}, {"text": ["a"]}, [], "x"],
)
async def test_missing_or_invalid_text_is_rejected(
    client, stub_rasa, conversation_id, assert_error, body
):
    response = await client.post(messages_path(conversation_id), json=body)

    assert_error(response, 422, "validation_error", "„text”")
    assert stub_rasa.webhook_requests == []


async def test_text_over_the_limit_is_rejected(client, stub_rasa, conversation_id, assert_error):
    response = await client.post(messages_path(conversation_id), json={"text": "a" * 1001})

    assert_error(response, 422, "message_too_long", "1000 znaków")
    assert stub_rasa.webhook_requests == []


async def test_body_over_16_kib_is_rejected(client, stub_rasa, conversation_id, assert_error):
    body = json.dumps({"text": "a", "padding": "x" * 17_000}).encode()

    response = await client.post(
        messages_path(conversation_id), content=body, headers={"Content-Type": "application/json"}
    )

    assert_error(response, 413, "payload_too_large", "16 KiB")
    assert stub_rasa.webhook_requests == []


# ---------------------------------------------------------------- routing errors


async def test_unknown_route_is_json_404(client, assert_error):
    response = await client.get("/api/v1/nie-ma-takiego-adresu")
    assert_error(response, 404, "not_found", "Nie znaleziono")


async def test_wrong_method_is_json_405(client, conversation_id, assert_error):
    response = await client.delete(messages_path(conversation_id))

    assert_error(response, 405, "method_not_allowed", "metoda")
    assert {"GET", "POST"} <= set(response.headers["allow"].replace(" ", "").split(","))


async def test_wrong_method_on_conversations_is_json_405(client, assert_error):
    response = await client.delete("/api/v1/conversations")
    assert_error(response, 405, "method_not_allowed")


# ---------------------------------------------------------------- Rasa failures


async def test_rasa_unreachable_gives_503(rasa_down_client, assert_error):
    created = await rasa_down_client.post("/api/v1/conversations")
    conversation_id = created.json()["conversation_id"]

    response = await rasa_down_client.post(messages_path(conversation_id), json={"text": "Cześć"})

    assert_error(response, 503, "assistant_unavailable")
    assert response.json()["error"]["message"] == UNAVAILABLE


@pytest.mark.parametrize("status", [500, 502, 404])
async def test_rasa_error_status_gives_503(
    client, stub_rasa, conversation_id, assert_error, status
):
    stub_rasa.reply_status = status
    stub_rasa.reply_body = {"status": "failure"}

    response = await client.post(messages_path(conversation_id), json={"text": "Cześć"})

    assert_error(response, 503, "assistant_unavailable", "chwilowo niedostępny")


@pytest.mark.parametrize("reply", [b"<html>oops</html>", {"not": "a list"}])
async def test_rasa_unexpected_reply_gives_503(
    client, stub_rasa, conversation_id, assert_error, reply
):
    stub_rasa.reply_body = reply
    response = await client.post(messages_path(conversation_id), json={"text": "Cześć"})
    assert_error(response, 503, "assistant_unavailable")


async def test_rasa_timeout_gives_503(stub_rasa, start_gateway, make_settings, assert_error):
    stub_rasa.delay_seconds = 2.0
    settings = make_settings(stub_rasa.url, rasa_timeout_seconds=0.3)
    async with start_gateway(settings) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=10) as http:
            conversation_id = (await http.post("/api/v1/conversations")).json()["conversation_id"]

            response = await http.post(messages_path(conversation_id), json={"text": "Cześć"})

    assert_error(response, 503, "assistant_unavailable")
    assert response.elapsed.total_seconds() < 1.5


# ---------------------------------------------------------------- unexpected failures


class ExplodingConversations:
    """A conversation store whose backend fails (e.g. a database outage)."""

    async def start(self) -> str:
        raise RuntimeError("database password=hunter2 rejected")

    async def exists(self, conversation_id: str) -> bool:
        raise RuntimeError("database password=hunter2 rejected")


async def test_unexpected_exception_is_generic_500_and_logged(
    stub_rasa, start_gateway, make_settings, assert_error, caplog
):
    caplog.set_level(logging.ERROR, logger="pomocnik.gateway")
    settings = make_settings(stub_rasa.url)
    async with start_gateway(settings, conversations=ExplodingConversations()) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            response = await http.post("/api/v1/conversations")

    assert_error(response, 500, "internal_error", "nieoczekiwany błąd")
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    logged = [r for r in caplog.records if r.name == "pomocnik.gateway" and r.exc_info]
    assert logged and "hunter2" in str(logged[0].exc_info[1])


# ---------------------------------------------------------------- logging


async def test_message_texts_and_full_ids_are_not_logged(client, conversation_id, caplog):
    caplog.set_level(logging.DEBUG)
    secret_text = "Mój PIN to 4821-9930"

    response = await client.post(messages_path(conversation_id), json={"text": secret_text})

    assert response.status_code == 200
    # The test's own httpx client logs its URLs; only the gateway's loggers matter here.
    gateway_records = [r for r in caplog.records if r.name.startswith(("pomocnik", "sanic"))]
    log_text = "\n".join(record.getMessage() for record in gateway_records)
    assert f"conv={conversation_id[:6]}" in log_text
    assert "4821-9930" not in log_text
    assert conversation_id not in log_text


# ---------------------------------------------------------------- health


async def test_health(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_rasa_answers(client, stub_rasa):
    response = await client.get("/health/ready")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert [r.path for r in stub_rasa.requests] == ["/"]


async def test_not_ready_when_rasa_answers_with_error(client, stub_rasa):
    stub_rasa.root_status = 500
    response = await client.get("/health/ready")
    assert response.status_code == 503


async def test_not_ready_when_rasa_is_down(rasa_down_client):
    response = await rasa_down_client.get("/health/ready")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"rasa": "unavailable"}}
    # Liveness does not depend on Rasa.
    assert (await rasa_down_client.get("/health")).status_code == 200
