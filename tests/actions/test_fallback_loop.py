"""bot/rasa_ext/fallback_loop.py: at "Czy chodzi o …?" a typed question about something else
ends Rasa's two-stage fallback (and is then answered as a first message); the "Nie, o coś
innego" button (payload /out_of_scope) still means "no" and asks to rephrase."""

from __future__ import annotations

import pytest
from rasa.core.actions.two_stage_fallback import TwoStageFallbackAction
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_ext import fallback_loop


def user(text: str, intent: str, confidence: float = 0.9) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": confidence})


def at_the_affirmation_question(answer: UserUttered) -> DialogueStateTracker:
    """A message not understood, "Czy chodzi o …?" asked, then the visitor's answer."""
    return DialogueStateTracker.from_events(
        "fallback-loop-test",
        [
            ActionExecuted("action_listen"),
            user("mam problem z tym", "nlu_fallback", 0.25),
            ActionExecuted("action_two_stage_fallback"),
            ActiveLoop("action_two_stage_fallback"),
            ActionExecuted("action_listen"),
            answer,
        ],
    )


@pytest.fixture(scope="module", autouse=True)
def patched():
    assert fallback_loop.install()


async def is_done(tracker: DialogueStateTracker) -> bool:
    return await TwoStageFallbackAction().is_done(None, None, tracker, None, [])


@pytest.mark.parametrize(
    "intent, text, expected",
    [
        ("out_of_scope", "a kto wygrał wczoraj mecz?", True),
        ("out_of_scope", "/out_of_scope", False),
        ("out_of_scope", " /out_of_scope", False),
        ("out_of_scope", None, False),
        ("greet", "dzień dobry", False),
    ],
)
def test_typed_out_of_scope(intent, text, expected):
    assert fallback_loop.typed_out_of_scope(intent, text) is expected


async def test_a_typed_out_of_scope_question_ends_the_loop():
    question = user("kto wygrał wczoraj mecz", "out_of_scope")
    assert await is_done(at_the_affirmation_question(question))


async def test_the_no_button_keeps_the_loop_asking_to_rephrase():
    button = user("/out_of_scope", "out_of_scope", 1.0)
    assert not await is_done(at_the_affirmation_question(button))


async def test_a_clear_message_still_ends_the_loop_as_in_rasa():
    assert await is_done(at_the_affirmation_question(user("chcę zmienić pakiet", "change_package")))


async def test_the_ended_loop_hands_the_typed_question_on_as_a_first_message():
    """Rasa's own deactivation: the loop's turns reverted, the question re-issued."""
    tracker = at_the_affirmation_question(user("kto wygrał wczoraj mecz", "out_of_scope"))

    events = await TwoStageFallbackAction().deactivate(None, None, tracker, None, [])

    assert isinstance(events[0], UserUtteranceReverted)
    assert isinstance(events[-1], UserUttered)
    assert events[-1].intent_name == "out_of_scope"
    assert events[-1].text == "kto wygrał wczoraj mecz"
