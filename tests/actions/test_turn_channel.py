"""The gateway's input channel answers each turn's summary with the bot's messages.

`bot.rasa_ext.channel.PomocnikInput` is served by a real Sanic app on a free port and its
webhook is called over HTTP; the turns are saved by the real `RedactingSQLTrackerStore` on a
temporary SQLite file. What stands in for Rasa's `MessageProcessor` (no model is loaded here) does
what the processor does with the store: load the tracker, add the user event with the request's
metadata and the events of the turn, say something, save once. The summary the channel answers
must be what `bot.understanding.turn_of` computes from the whole tracker as Rasa's HTTP API returns
it (`include_events=AFTER_RESTART`), which is what the gateway used to read after every turn.
tests/e2e/test_turn_summary.py checks the same against the real Rasa server and model.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.run import create_http_input_channels
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from sanic import Sanic

from bot.rasa_ext.channel import PomocnikInput
from bot.rasa_ext.tracker_store import RedactingSQLTrackerStore
from bot.understanding import turn_metadata, turn_of
from harness.stack import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
PIN = "4821"
WEBHOOK = "/webhooks/pomocnik/webhook"

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Slot auto-fill", category=UserWarning)
    DOMAIN = Domain.from_dict(
        {
            "version": "3.1",
            "intents": ["greet", "inform", "register_account", "stop", "nlu_fallback"],
            "entities": ["pin"],
            "slots": {
                name: {"type": "text", "influence_conversation": False,
                       "mappings": [{"type": "custom"}]}
                for name in ("pin", "email")
            },
            "forms": {"registration_form": {"required_slots": ["pin"]}},
        }
    )


def understood(intent: str, confidence: float, *also: tuple) -> Dict[str, Any]:
    ranking = [{"name": intent, "confidence": confidence}]
    ranking += [{"name": name, "confidence": score} for name, score in also]
    if confidence < 0.4:
        fallback = {"name": "nlu_fallback", "confidence": 0.4}
        return {"intent": fallback, "intent_ranking": [fallback, *ranking]}
    return {"intent": ranking[0], "intent_ranking": ranking}


# What "the processor" does with each text: what it understood, and the events of the turn
# (made per turn: the store finds the latest session by the events' timestamps).
SCRIPT: Dict[str, tuple] = {
    "dzień dobry": (understood("greet", 0.99), lambda: [ActionExecuted("utter_greet")]),
    "chcę zarejestrować licencję": (
        understood("register_account", 0.93, ("inform", 0.05)),
        lambda: [ActionExecuted("registration_form"), ActiveLoop("registration_form"),
                 SlotSet("requested_slot", "pin")],
    ),
    f"PIN {PIN}": (
        understood("inform", 0.97),
        lambda: [SlotSet("pin", PIN), ActionExecuted("registration_form"),
                 SlotSet("requested_slot", None), ActiveLoop(None),
                 ActionExecuted("action_register")],
    ),
    "coś zupełnie innego": (
        understood("greet", 0.21, ("inform", 0.1)),
        lambda: [ActionExecuted("action_two_stage_fallback"),
                 ActiveLoop("action_two_stage_fallback")],
    ),
    "zacznijmy od nowa": (
        understood("stop", 0.9), lambda: [ActionExecuted("action_restart"), Restarted()]
    ),
    "jeszcze raz rejestracja": (
        understood("register_account", 0.88),
        lambda: [ActionExecuted("registration_form"), ActiveLoop("registration_form")],
    ),
    "stop": (
        understood("stop", 0.95),
        lambda: [ActionExecuted("action_deactivate_loop"), ActiveLoop(None),
                 ActionExecuted("utter_ok")],
    ),
}


class Dialogue:
    """Stands in for `Agent.handle_message`: the store's load, the turn's events, one save."""

    def __init__(self, store: RedactingSQLTrackerStore, pause: float = 0.0) -> None:
        self.store = store
        self.pause = pause  # between the events and the save: lets requests interleave

    async def __call__(self, message: UserMessage) -> None:
        tracker = await self.store.retrieve(message.sender_id)
        if tracker is None:
            tracker = DialogueStateTracker(message.sender_id, DOMAIN.slots)
            for event in (ActionExecuted("action_session_start"), SessionStarted(),
                          ActionExecuted("action_listen")):
                tracker.update(event)
        parse_data, make_events = SCRIPT[message.text]
        parse_data = {"text": message.text, "entities": [], **parse_data}
        tracker.update(UserUttered(message.text, parse_data["intent"], [], parse_data,
                                   input_channel=message.input_channel,
                                   metadata=message.metadata))
        for event in make_events():
            tracker.update(event)
        await message.output_channel.send_text_message(message.sender_id, f"re: {message.text}")
        tracker.update(BotUttered(f"re: {message.text}"))
        tracker.update(ActionExecuted("action_listen"))
        await asyncio.sleep(self.pause)
        await self.store.save(tracker)


class Channel:
    """The channel's blueprint on a real Sanic server; `say` posts to its webhook."""

    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url, self.http = url, http

    async def say(self, sender: str, text: str, metadata: Optional[Dict] = None) -> Dict[str, Any]:
        body = {"sender": sender, "message": text, "metadata": metadata}
        async with self.http.post(self.url + WEBHOOK, json=body) as response:
            assert response.status == 200
            return await response.json()


@pytest.fixture(autouse=True, scope="module")
def sanic_test_mode():
    """Several Sanic apps in one process (Sanic's start-up rewrites its own methods once)."""
    before, Sanic.test_mode = Sanic.test_mode, True
    yield
    Sanic.test_mode = before


@pytest.fixture
def store(tmp_path: Path) -> RedactingSQLTrackerStore:
    return RedactingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"),
                                    environ={"POMOCNIK_ENV": "development"})


async def serve(on_new_message) -> tuple:
    app = Sanic(f"turn_channel_{free_port()}", configure_logging=False)
    app.blueprint(PomocnikInput().blueprint(on_new_message), url_prefix="/webhooks/pomocnik")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    return server, f"http://127.0.0.1:{port}"


@pytest.fixture
async def channel(store):
    server, url = await serve(Dialogue(store))
    async with aiohttp.ClientSession() as http:
        yield Channel(url, http)
    server.close()
    await server.wait_closed()


async def full_events(store: RedactingSQLTrackerStore, sender: str) -> List[Dict[str, Any]]:
    """The events as Rasa's HTTP API returns them (`include_events=AFTER_RESTART`)."""
    tracker = await store.retrieve_full_tracker(sender)
    return tracker.current_state(EventVerbosity.AFTER_RESTART)["events"]


async def test_each_answer_carries_the_turn_the_whole_tracker_gives(channel, store):
    answers = {}
    for number, text in enumerate(SCRIPT, start=1):
        answers[number] = await channel.say("conv-1", text, turn_metadata(number))
        assert answers[number]["messages"] == [{"recipient_id": "conv-1",
                                                "text": f"re: {text}"}]

    events = await full_events(store, "conv-1")
    for number, answer in answers.items():
        if number <= 5:  # up to the restart (in turn 5): Rasa's API leaves those out
            continue
        assert answer["turn"] == turn_of(events, number).as_dict(number)
    # every turn against the whole conversation (all sessions, nothing left out)
    everything = [e.as_dict() for e in (await store.retrieve_full_tracker("conv-1")).events]
    for number, answer in answers.items():
        assert answer["turn"] == turn_of(everything, number).as_dict(number)

    assert answers[2]["turn"] == {
        "message": 2, "intent": "register_account", "predicted_intent": "register_account",
        "confidence": 0.93, "actions": ["registration_form"],
        "journeys": [{"form": "registration_form", "outcome": "started"}],
        "active_form": "registration_form",
    }
    assert answers[3]["turn"]["journeys"] == [
        {"form": "registration_form", "outcome": "completed"}]
    assert answers[3]["turn"]["active_form"] is None
    assert (answers[4]["turn"]["intent"], answers[4]["turn"]["predicted_intent"],
            answers[4]["turn"]["confidence"]) == ("nlu_fallback", "greet", 0.21)
    assert answers[7]["turn"]["journeys"] == [
        {"form": "registration_form", "outcome": "cancelled"}]


async def test_the_summary_holds_no_text_and_no_slot_value(channel):
    await channel.say("conv-2", "chcę zarejestrować licencję", turn_metadata(1))
    answer = await channel.say("conv-2", f"PIN {PIN}", turn_metadata(2))

    summary = json.dumps(answer["turn"])
    assert PIN not in summary and "PIN" not in summary and "re:" not in summary
    assert set(answer["turn"]) == {"message", "intent", "predicted_intent", "confidence",
                                   "actions", "journeys", "active_form"}


async def test_a_message_without_the_marker_gets_its_answer_and_no_turn(channel):
    answer = await channel.say("conv-3", "dzień dobry", {"pomocnik_handoff": {"outcome": "x"}})
    unmarked = await channel.say("conv-3", "dzień dobry")

    assert answer == {"messages": [{"recipient_id": "conv-3", "text": "re: dzień dobry"}],
                      "turn": None}
    assert unmarked["turn"] is None


async def test_concurrent_conversations_each_get_their_own_turn(store):
    server, url = await serve(Dialogue(store, pause=0.05))
    try:
        async with aiohttp.ClientSession() as http:
            channel = Channel(url, http)
            first, second = await asyncio.gather(
                channel.say("conv-a", "chcę zarejestrować licencję", turn_metadata(10)),
                channel.say("conv-b", "coś zupełnie innego", turn_metadata(20)),
            )
    finally:
        server.close()
        await server.wait_closed()

    assert (first["turn"]["message"], first["turn"]["intent"]) == (10, "register_account")
    assert (second["turn"]["message"], second["turn"]["intent"]) == (20, "nlu_fallback")


async def test_a_turn_that_fails_before_the_save_answers_what_was_said_and_no_turn(store):
    async def failing(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "chwileczkę")
        raise RuntimeError("the action server is down")

    server, url = await serve(failing)
    try:
        async with aiohttp.ClientSession() as http:
            answer = await Channel(url, http).say("conv-4", "dzień dobry", turn_metadata(1))
    finally:
        server.close()
        await server.wait_closed()

    assert answer == {"messages": [{"recipient_id": "conv-4", "text": "chwileczkę"}],
                      "turn": None}


def test_the_credentials_rasa_starts_with_register_the_channel() -> None:
    channels = create_http_input_channels(None, str(REPO_ROOT / "credentials.yml"))

    assert [c.name() for c in channels if isinstance(c, PomocnikInput)] == ["pomocnik"]
    assert PomocnikInput().url_prefix() == "pomocnik"


def test_the_summary_of_a_conversation_not_marked_is_nothing() -> None:
    from bot.rasa_ext.channel import summarise

    events: List[Event] = [ActionExecuted("action_listen"),
                           UserUttered("x", metadata=turn_metadata(1))]
    assert summarise(events, 2) is None
    assert summarise(events, 1)["message"] == 1
