"""action_value_for_topic: a bare value after the topic it belongs to starts that topic's form
again with the value; anywhere else the visitor is asked what they need."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import ActionValueForTopic
from tests.actions.helpers import make_tracker, user_event


def bot(name: str) -> Dict[str, Any]:
    return {"event": "action", "name": name}


async def run(events: List[Dict[str, Any]]):
    dispatcher = CollectingDispatcher()
    result = await ActionValueForTopic().run(dispatcher, make_tracker(events=events), {})
    return result, [m.get("response") for m in dispatcher.messages]


ADDRESS = "jan.kowalski@majafirma.pl"


async def test_an_address_after_the_reset_offer_starts_the_reset_with_it():
    events = [
        user_event("nie mogę się zalogować", "login_help"),
        bot("utter_login_help"), bot("utter_offer_reset"), bot("action_listen"),
        user_event("sorry. to co zrobić?", "dont_know"),
        bot("utter_how_can_help"), bot("action_listen"),
        user_event(ADDRESS, "inform"),
    ]
    assert await run(events) == (
        [SlotSet("email", ADDRESS), FollowupAction("reset_password_form")], []
    )


async def test_a_corrected_address_after_a_sent_link_sends_it_again():
    events = [
        user_event("zapomniałem hasła", "reset_password"),
        bot("reset_password_form"), bot("action_listen"),
        user_event("jan.kowalsky@majafirma.pl", "inform"),
        bot("reset_password_form"), bot("action_request_password_reset"),
        bot("utter_password_reset_sent"), bot("action_listen"),
        user_event(f"kurde literówka, {ADDRESS} miało być", "inform"),
    ]
    assert await run(events) == (
        [SlotSet("email", ADDRESS), FollowupAction("reset_password_form")], []
    )


async def test_licence_values_after_where_to_find_them_start_the_registration():
    entities = [{"entity": "comarch_id", "value": "68577"}]
    events = [
        user_event("chcę założyć konto, ale skąd wziąć ID i PIN", "forgot_comarch_id"),
        bot("utter_forgot_comarch_id"), bot("action_listen"),
        user_event("aa dobra, znalazłam w mailu. ID 68577", "inform", entities),
    ]
    assert await run(events) == (
        [SlotSet("comarch_id", "68577"), FollowupAction("registration_form")], []
    )


@pytest.mark.parametrize(
    "earlier",
    [
        [],  # the first message
        [user_event("ile kosztuje srebrny?", "packages_info"), bot("action_packages_info")],
        # the reset topic is four messages back: too long ago
        [bot("utter_offer_reset"), bot("action_listen")]
        + [user_event("hej", "greet"), bot("utter_greet"), bot("action_listen")] * 3,
    ],
)
async def test_an_address_with_no_topic_for_it_asks_what_the_visitor_needs(earlier):
    events = earlier + [user_event(ADDRESS, "inform")]
    assert await run(events) == ([], ["utter_how_can_help"])


async def test_a_value_the_topic_does_not_take_asks_what_the_visitor_needs():
    events = [
        bot("utter_offer_reset"), bot("action_listen"),
        user_event("5260250274", "inform", [{"entity": "nip", "value": "5260250274"}]),
    ]
    assert await run(events) == ([], ["utter_how_can_help"])


async def test_an_address_after_the_password_rules_starts_the_reset():
    events = [
        user_event("haslo", "password_requirements"),
        bot("utter_password_requirements"), bot("action_listen"),
        user_event(ADDRESS, "inform"),
    ]
    assert await run(events) == (
        [SlotSet("email", ADDRESS), FollowupAction("reset_password_form")], []
    )


@pytest.mark.parametrize("answer", ["utter_password_requirements", "utter_support_contact"])
async def test_a_follow_up_with_no_value_gets_the_answer_again(answer):
    events = [
        user_event("jakie haslo?", "password_requirements"),
        bot(answer), bot("action_listen"),
        user_event("8?", "inform"),
    ]
    assert await run(events) == ([], [answer])
