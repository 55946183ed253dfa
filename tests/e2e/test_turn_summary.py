"""The turn summary Rasa's channel answers (bot/rasa_ext/channel.py) against the real Rasa server,
model and tracker store: it is what ``bot.understanding.turn_of`` reads from the whole tracker
(Rasa's HTTP API, ``include_events=AFTER_RESTART``: what the gateway used to fetch after every
turn), straight from the webhook and as the gateway records it for the statistics, the review
and the NLU inbox."""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing

import httpx
import pytest

from bot.understanding import TurnRecord, turn_metadata, turn_of
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

JOURNEY = ["nie pamietam hasla", "jan.kowalski@majafirma.pl", "dzieki", "nie, to wszystko"]


async def tracker_events(client: httpx.AsyncClient, stack, sender: str) -> list[dict]:
    response = await client.get(
        f"{stack.url('rasa')}/conversations/{sender}/tracker",
        params={"include_events": "AFTER_RESTART", "token": stack.service_token},
    )
    assert response.status_code == 200
    return response.json()["events"]


async def test_the_webhook_answers_the_turn_the_whole_tracker_gives(stack):
    sender = f"turn-{uuid.uuid4().hex}"
    answers = {}
    async with httpx.AsyncClient(timeout=60) as client:
        for number, text in enumerate(JOURNEY, start=1):
            response = await client.post(
                f"{stack.url('rasa')}/webhooks/pomocnik/webhook",
                json={"sender": sender, "message": text, "metadata": turn_metadata(number)},
            )
            assert response.status_code == 200
            answers[number] = response.json()
            assert answers[number]["messages"], text
        events = await tracker_events(client, stack, sender)

    for number, answer in answers.items():
        assert answer["turn"] == turn_of(events, number).as_dict(number)
    first = TurnRecord.from_dict(answers[1]["turn"], 1)
    assert first.intent == "reset_password" and first.confidence > 0.5
    assert {"form": "reset_password_form", "outcome": "started"} in first.journeys
    for answer in answers.values():
        for text in JOURNEY:
            assert text not in str(answer["turn"])


async def test_the_gateway_records_the_turn_rasa_answered(stack):
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=60) as gateway:
        conversation = (await gateway.post("/api/v1/conversations")).json()["conversation_id"]
        for text in JOURNEY:
            said = await gateway.post(f"/api/v1/conversations/{conversation}/messages",
                                      json={"text": text})
            assert said.status_code == 200, said.text

    async def recorded() -> list[tuple] | None:
        with closing(sqlite3.connect(stack.workdir / "gateway.db")) as db:
            rows = db.execute(
                "SELECT m.id, m.intent, t.predicted_intent, t.confidence, t.actions, "
                "t.journeys, t.active_form FROM messages m "
                "JOIN conversations c ON c.id = m.conversation_id "
                "LEFT JOIN turns t ON t.message_id = m.id "
                "WHERE c.session_id = ? AND m.author = 'visitor' ORDER BY m.seq",
                (conversation,),
            ).fetchall()
        return rows if len(rows) == len(JOURNEY) and all(r[3] is not None for r in rows) else None

    rows = await eventually(recorded)
    async with httpx.AsyncClient(timeout=60) as client:
        events = await tracker_events(client, stack, conversation)

    for message_id, intent, predicted, confidence, actions, journeys, active_form in rows:
        expected = turn_of(events, message_id)
        assert (intent, predicted, confidence) == (
            expected.intent, expected.predicted_intent, expected.confidence)
        assert (json.loads(actions), json.loads(journeys), active_form) == (
            expected.actions, expected.journeys, expected.active_form)
    assert rows[0][1] == "reset_password"
