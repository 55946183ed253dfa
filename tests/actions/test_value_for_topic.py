"""action_value_for_topic: a bare value after the topic it belongs to starts that topic's form
again with the value; anywhere else the visitor is asked what they need."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import ActionMailNotReceived, ActionValueForTopic
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


# ------------------------------------------------------------ an e-mail that did not arrive


async def run_not_received(events: List[Dict[str, Any]], slots: Dict[str, Any]):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(events=events, slots=slots)
    result = await ActionMailNotReceived().run(dispatcher, tracker, {})
    return result, [m.get("response") for m in dispatcher.messages]


def reset_sent(address: str = ADDRESS) -> List[Dict[str, Any]]:
    return [
        user_event("zapomniałem hasła", "reset_password"),
        bot("reset_password_form"), bot("action_listen"),
        user_event(address, "inform"),
        bot("reset_password_form"), bot("action_request_password_reset"),
        bot("utter_password_reset_sent"), bot("action_listen"),
    ]


async def test_a_reset_link_that_did_not_arrive_is_sent_again_to_the_same_address():
    events = reset_sent() + [user_event("nic nie przyszło", "code_not_received")]
    assert await run_not_received(events, {"last_reset_email": ADDRESS}) == (
        [SlotSet("email", ADDRESS), FollowupAction("reset_password_form")],
        ["utter_mail_not_received_sending_again"],
    )


@pytest.mark.parametrize("sender", ["action_register_account", "action_resend_activation"])
async def test_an_activation_link_that_did_not_arrive_is_sent_again(sender):
    events = [
        user_event("tak", "affirm"), bot(sender), bot("utter_activation_resent"),
        bot("action_listen"),
        user_event("dalej nie ma, sprawdziłam spam", "code_not_received"),
    ]
    assert await run_not_received(events, {"activation_email": ADDRESS}) == (
        [SlotSet("email", ADDRESS), FollowupAction("resend_activation_form")],
        ["utter_mail_not_received_sending_again"],
    )


async def test_a_link_sent_again_that_still_did_not_arrive_points_to_a_person():
    events = reset_sent() + [
        user_event("nic nie przyszło", "code_not_received"),
        bot("action_mail_not_received"), bot("reset_password_form"),
        bot("action_request_password_reset"), bot("utter_password_reset_sent"),
        bot("action_listen"),
        user_event("dalej nic", "code_not_received"),
    ]
    assert await run_not_received(events, {"last_reset_email": ADDRESS}) == (
        [], ["utter_mail_still_not_received"]
    )


@pytest.mark.parametrize(
    ("events", "slots"),
    [
        # nothing was sent in this conversation
        ([user_event("kod nie przyszedł", "code_not_received")], {}),
        # the reset was refused (no address recorded as sent)
        (reset_sent() + [user_event("nic nie przyszło", "code_not_received")], {}),
        # the link was sent four messages ago: another topic since
        (
            reset_sent()
            + [user_event("ile kosztuje srebrny?", "packages_info"), bot("action_packages_info"),
               bot("action_listen")] * 3
            + [user_event("nic nie przyszło", "code_not_received")],
            {"last_reset_email": ADDRESS},
        ),
    ],
)
async def test_with_no_link_sent_lately_the_visitor_hears_what_codes_are_for(events, slots):
    assert await run_not_received(events, slots) == (
        [], ["utter_verification_code_not_pending"]
    )


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("link do zmiany hasła nie przyszedł", "reset_password_form"),
        ("mail z resetem nie doszedl", "reset_password_form"),
        ("nie dostałam linku aktywacyjnego", "resend_activation_form"),
    ],
)
async def test_a_named_link_that_did_not_arrive_starts_its_form_when_none_was_sent_here(
    text, form
):
    events = [user_event(text, "code_not_received")]
    assert await run_not_received(events, {}) == ([FollowupAction(form)], [])
