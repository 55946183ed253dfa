"""One visitor message's turn in Rasa's events (``bot.understanding``, shared by Rasa's channel
and the gateway): found by the gateway's marker even when the visitor wrote again, the
classifier's guess behind a fallback, the actions, and journeys started, completed (by the form
itself) or cancelled; and the summary's trip over the wire."""

from __future__ import annotations

from bot.understanding import CONTEXT_EVENTS, TurnRecord, turn_metadata, turn_of
from harness.rasa_stub import parse_data


def user(message_id: int, parsed: dict) -> dict:
    return {"event": "user", "text": "…", "parse_data": parsed,
            "metadata": {"pomocnik_client": {"network": "127.0.0.0/24"},
                         **turn_metadata(message_id)}}


def action(name: str) -> dict:
    return {"event": "action", "name": name, "policy": "RulePolicy", "confidence": 1.0}


def loop(name: str | None) -> dict:
    return {"event": "active_loop", "name": name}


LISTEN = action("action_listen")
CONVERSATION = [
    action("action_session_start"), {"event": "session_started"}, LISTEN,
    # 1: not understood; the two-stage fallback is a loop, not a journey
    user(1, parse_data("packages_info", 0.31, ("change_package", 0.2))),
    action("action_two_stage_fallback"), loop("action_two_stage_fallback"), LISTEN,
    {"event": "user_utterance_reverted"},
    # 2: a journey starts
    user(2, parse_data("reset_password", 0.97)),
    loop(None), action("reset_password_form"), loop("reset_password_form"),
    {"event": "slot", "name": "requested_slot", "value": "email"}, LISTEN,
    # 3: the form itself closes it: completed
    user(3, parse_data("inform", 0.99)),
    action("reset_password_form"), {"event": "slot", "name": "requested_slot", "value": None},
    loop(None), action("action_request_password_reset"), LISTEN,
    # 4: another journey, 5: cancelled by another action
    user(4, parse_data("change_package", 0.88)),
    action("change_package_form"), loop("change_package_form"), LISTEN,
    user(5, parse_data("stop", 0.95)),
    action("action_deactivate_loop"), loop(None), action("utter_ok"), LISTEN,
    # 6: the visitor wrote again before the gateway read message 5's turn
    user(6, parse_data("greet", 0.99)), action("utter_greet"), LISTEN,
]


def test_a_fallback_keeps_the_classifiers_guess():
    turn = turn_of(CONVERSATION, 1)

    assert (turn.intent, turn.fallback) == ("nlu_fallback", True)
    assert (turn.predicted_intent, turn.confidence) == ("packages_info", 0.31)
    assert turn.actions == ["action_two_stage_fallback"]
    assert (turn.journeys, turn.active_form) == ([], None)


def test_journeys_start_complete_and_are_cancelled():
    started, completed, other, cancelled = (turn_of(CONVERSATION, n) for n in (2, 3, 4, 5))

    assert started.journeys == [{"form": "reset_password_form", "outcome": "started"}]
    assert started.active_form == "reset_password_form"
    assert completed.journeys == [{"form": "reset_password_form", "outcome": "completed"}]
    assert completed.actions == ["reset_password_form", "action_request_password_reset"]
    assert (completed.active_form, completed.journey_cancelled) == (None, False)
    assert other.active_form == "change_package_form"
    assert cancelled.journeys == [{"form": "change_package_form", "outcome": "cancelled"}]
    assert cancelled.journey_cancelled and cancelled.active_form is None
    assert cancelled.actions == ["action_deactivate_loop", "utter_ok"]  # not message 6's


def test_a_message_rasa_never_saw_or_a_broken_tracker_gives_nothing():
    assert turn_of(CONVERSATION, 7) is None
    assert turn_of({"latest_message": {}}, 1) is None
    assert turn_of("nope", 1) is None
    assert turn_of([], 1) is None
    weird = turn_of([user(1, {"intent": "x", "intent_ranking": [{"name": 3}]})], 1)
    assert (weird.intent, weird.predicted_intent, weird.confidence) == (None, None, None)


def test_only_the_loop_events_before_the_message_matter():
    """Rasa's channel serialises only these before the message (bot/rasa_ext/channel.py)."""
    for message_id in range(1, 7):
        start = next(i for i, e in enumerate(CONVERSATION)
                     if e.get("metadata", {}).get("pomocnik_turn") == {"message": message_id})
        lean = [e for e in CONVERSATION[:start] if e["event"] in CONTEXT_EVENTS]
        assert turn_of(lean + CONVERSATION[start:], message_id) == turn_of(CONVERSATION, message_id)


def test_a_summary_survives_the_wire_and_a_bad_one_is_refused():
    for message_id in range(1, 6):
        turn = turn_of(CONVERSATION, message_id)
        assert TurnRecord.from_dict(turn.as_dict(message_id), message_id) == turn

    good = turn_of(CONVERSATION, 3).as_dict(3)
    assert TurnRecord.from_dict(good, 4) is None  # another message's turn
    for broken in (None, [], {**good, "message": "3"}, {**good, "confidence": "high"},
                   {**good, "confidence": True}, {**good, "actions": "utter_ok"},
                   {**good, "actions": [None]}, {**good, "intent": 7},
                   {**good, "journeys": [{"form": "x_form", "outcome": "won"}]},
                   {**good, "journeys": [{"form": "", "outcome": "started"}]}):
        assert TurnRecord.from_dict(broken, 3) is None
    assert set(good) == {"message", "intent", "predicted_intent", "confidence", "actions",
                         "journeys", "active_form"}  # names and a number: no texts, no values
