"""The stored transcript over the REST API: what the widget replays after a reload."""

from __future__ import annotations

import re

import pytest

from bot.gateway.conversations import SignedConversations

REPLY = "Kliknij „Nie pamiętam hasła” na stronie logowania."


def path(conversation_id: str) -> str:
    return f"/api/v1/conversations/{conversation_id}/messages"


async def test_transcript_lists_both_sides_in_order(client, stub_rasa, conversation_id):
    stub_rasa.replies_by_message["Pokaż obraz"] = [
        {"recipient_id": "x", "text": "Proszę:", "image": "https://example.com/a.png"},
        {"recipient_id": "x", "custom": {"handoff": True}},
    ]
    await client.post(path(conversation_id), json={"text": "Nie pamiętam hasła"})
    await client.post(path(conversation_id), json={"text": "/affirm", "title": "Tak, dziękuję"})
    await client.post(path(conversation_id), json={"text": "Pokaż obraz"})

    response = await client.get(path(conversation_id))

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    messages = response.json()["messages"]
    for message in messages:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", message.pop("at"))
    buttons = [
        {"title": "Tak, dziękuję", "payload": "/affirm"},
        {"title": "Nie", "payload": '/deny{"powod":"inny"}'},
    ]
    assert messages == [
        {"seq": 1, "author": "visitor", "text": "Nie pamiętam hasła", "status": "answered"},
        {"seq": 2, "author": "bot", "text": REPLY, "buttons": buttons},
        {"seq": 3, "author": "visitor", "text": "/affirm", "title": "Tak, dziękuję",
         "status": "answered"},
        {"seq": 4, "author": "bot", "text": REPLY, "buttons": buttons},
        {"seq": 5, "author": "visitor", "text": "Pokaż obraz", "status": "answered"},
        {"seq": 6, "author": "bot", "text": "Proszę:", "buttons": [],
         "image": "https://example.com/a.png"},
        {"seq": 7, "author": "bot", "text": "", "buttons": [], "custom": {"handoff": True}},
    ]


async def test_after_returns_only_newer_messages(client, conversation_id):
    await client.post(path(conversation_id), json={"text": "Pierwsza"})
    await client.post(path(conversation_id), json={"text": "Druga"})

    response = await client.get(path(conversation_id), params={"after": "2"})

    assert [m["seq"] for m in response.json()["messages"]] == [3, 4]
    assert (await client.get(path(conversation_id), params={"after": "4"})).json() == {
        "messages": []
    }


async def test_new_conversation_has_an_empty_transcript(client, conversation_id):
    response = await client.get(path(conversation_id))
    assert response.status_code == 200 and response.json() == {"messages": []}


@pytest.mark.parametrize("after", ["-1", "x", "1.5", "9999999999"])
async def test_invalid_after_is_refused(client, conversation_id, assert_error, after):
    response = await client.get(path(conversation_id), params={"after": after})
    assert_error(response, 422, "invalid_after", "after")


async def test_transcript_of_forged_ids_is_not_found(client, assert_error):
    forged = "A" * 24 + "." + "B" * 22
    foreign = SignedConversations("some-other-secret-0123456789-abcdefgh").new_id()
    for conversation_id in (forged, foreign):
        assert_error(await client.get(path(conversation_id)), 404, "conversation_not_found")


async def test_failed_relay_is_kept_as_failed(client, stub_rasa, conversation_id):
    stub_rasa.reply_status = 500

    response = await client.post(path(conversation_id), json={"text": "Cześć"})

    assert response.status_code == 503
    messages = (await client.get(path(conversation_id))).json()["messages"]
    assert [(m["text"], m["status"]) for m in messages] == [("Cześć", "failed")]
