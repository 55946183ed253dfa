"""actions/support.py: the handoff contract with the gateway and the Polish first stage of the
two-stage fallback. No backend involved."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest
import yaml
from rasa_sdk.events import SlotSet, UserUtteranceReverted
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

from actions.support import (
    ANSWERS_IN_FORM,
    HANDOFF_PAYLOAD,
    HANDOFF_REQUESTED_SLOT,
    UTTER_ASK_REPHRASE,
    UTTER_DEFAULT,
    UTTER_DEFAULT_AGAIN,
    UTTER_HANDOFF_REQUESTED,
    UTTER_HANDOFF_RETURNED,
    UTTER_SUPPORT_CONTACT,
    UTTER_TICKET_REQUESTED,
    ActionDefaultAskAffirmation,
    ActionCheckPresence,
    ActionDefaultFallback,
    ActionExplainAgain,
    ActionHandoff,
    ActionHandoffReturned,
    affirmation_response,
    guessed_intent,
)
from tests.actions.helpers import make_tracker, user_event
from bot.domain_files import load_domain

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def full_domain() -> Dict[str, Any]:
    return load_domain()


def fallback_tracker(ranking, intent="nlu_fallback"):
    event = user_event("coś niejasnego", intent)
    event["parse_data"]["intent_ranking"] = ranking
    return make_tracker(events=[event])


async def run(action, tracker, domain):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return events, dispatcher.messages


# --- action_check_presence ------------------------------------------------------------------


async def test_halo_as_the_first_message_is_answered_with_the_greeting(full_domain):
    tracker = make_tracker(events=[{"event": "session_started"}, user_event("halo", "check_presence")])

    events, messages = await run(ActionCheckPresence(), tracker, full_domain)

    assert events == []
    assert [message["response"] for message in messages] == ["utter_greet"]


async def test_halo_later_says_the_assistant_is_still_here(full_domain):
    tracker = make_tracker(events=[
        user_event("halo", "check_presence"),
        {"event": "bot", "text": "Dzień dobry!"},
        {"event": "session_started"},  # a new session: its first message is a hello again …
        user_event("dzień dobry", "greet"),
        {"event": "bot", "text": "Dzień dobry!"},
        user_event("halo? jest tam ktoś?", "check_presence"),  # … but not its second one
    ])

    events, messages = await run(ActionCheckPresence(), tracker, full_domain)

    assert events == []
    assert [message["response"] for message in messages] == ["utter_still_here"]


# --- action_handoff -------------------------------------------------------------------------


async def test_handoff_answers_with_contact_and_sends_the_gateway_payload(full_domain):
    events, messages = await run(ActionHandoff(), make_tracker(), full_domain)

    assert events == [SlotSet(HANDOFF_REQUESTED_SLOT, True)]
    assert [message["response"] for message in messages] == [
        UTTER_HANDOFF_REQUESTED,
        UTTER_SUPPORT_CONTACT,
        None,
    ]
    assert messages[-1]["custom"] == {"handoff": {"requested": True}}
    assert all(message["text"] is None for message in messages)  # text only from the domain


def returned_tracker(outcome):
    event = user_event("/handoff_returned", "handoff_returned")
    event["parse_data"]["metadata"] = {"pomocnik_handoff": {"outcome": outcome}}
    return make_tracker(slots={HANDOFF_REQUESTED_SLOT: True}, events=[event])


async def test_handed_back_conversation_greets_again_and_resets_the_request(full_domain):
    events, messages = await run(ActionHandoffReturned(), returned_tracker("returned"), full_domain)

    assert events == [SlotSet(HANDOFF_REQUESTED_SLOT, False)]
    assert [message["response"] for message in messages] == [UTTER_HANDOFF_RETURNED]
    assert UTTER_HANDOFF_RETURNED in full_domain["responses"]


async def test_closed_conversation_resets_the_request_silently(full_domain):
    events, messages = await run(ActionHandoffReturned(), returned_tracker("closed"), full_domain)

    assert events == [SlotSet(HANDOFF_REQUESTED_SLOT, False)]
    assert messages == []


def test_handoff_payload_is_the_documented_contract():
    assert HANDOFF_PAYLOAD == {"handoff": {"requested": True}}


def test_handoff_responses_and_slot_exist(full_domain):
    responses = full_domain["responses"]
    contact = responses[UTTER_SUPPORT_CONTACT][0]["text"]
    for fact in ("32 356 22 23", "wsparcie@ingksiegowosc.pl", "8:00–18:00", "czat"):
        assert fact in contact
    assert UTTER_HANDOFF_REQUESTED in responses
    slot = full_domain["slots"][HANDOFF_REQUESTED_SLOT]
    assert slot["type"] == "bool"
    assert slot["mappings"] == [{"type": "custom"}]


# --- action_default_ask_affirmation ---------------------------------------------------------


async def test_affirmation_asks_about_the_second_ranked_intent_in_polish(full_domain):
    tracker = fallback_tracker(
        [
            {"name": "nlu_fallback", "confidence": 0.4},
            {"name": "reset_password", "confidence": 0.35},
            {"name": "login_help", "confidence": 0.3},
        ]
    )

    events, messages = await run(ActionDefaultAskAffirmation(), tracker, full_domain)

    assert events == []
    assert [message["response"] for message in messages] == [
        "utter_ask_affirmation_reset_password"
    ]
    response = full_domain["responses"]["utter_ask_affirmation_reset_password"][0]
    assert response["text"] == "Czy chodzi o reset hasła?"
    assert [button["payload"] for button in response["buttons"]] == [
        "/reset_password",
        "/out_of_scope",
    ]


@pytest.mark.parametrize("intent", ["greet", "affirm", "inform", "share_password", "stop"])
async def test_no_affirmation_for_small_talk_yes_no_or_secrets(full_domain, intent):
    tracker = fallback_tracker(
        [{"name": "nlu_fallback", "confidence": 0.4}, {"name": intent, "confidence": 0.3}]
    )

    _, messages = await run(ActionDefaultAskAffirmation(), tracker, full_domain)

    assert [message["response"] for message in messages] == [UTTER_ASK_REPHRASE]


async def test_affirmation_without_a_ranking_asks_to_rephrase(full_domain):
    _, messages = await run(ActionDefaultAskAffirmation(), fallback_tracker([]), full_domain)

    assert [message["response"] for message in messages] == [UTTER_ASK_REPHRASE]


async def test_affirmation_without_the_domain_asks_to_rephrase():
    tracker = fallback_tracker(
        [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "login_help", "confidence": 0.3}]
    )

    _, messages = await run(ActionDefaultAskAffirmation(), tracker, {})

    assert [message["response"] for message in messages] == [UTTER_ASK_REPHRASE]


def test_guessed_intent_skips_the_fallback_intent():
    assert guessed_intent({"intent": {"name": "login_help"}}) == "login_help"
    assert guessed_intent({"intent": {"name": "nlu_fallback"}}) is None
    assert guessed_intent({}) is None
    assert (
        guessed_intent(
            {
                "intent": {"name": "nlu_fallback"},
                "intent_ranking": [{"name": "nlu_fallback"}, {"name": "pair_phone"}],
            }
        )
        == "pair_phone"
    )


def test_affirmation_response_names(full_domain):
    assert affirmation_response("login_help", full_domain) == "utter_ask_affirmation_login_help"
    assert affirmation_response("no_such_intent", full_domain) == UTTER_ASK_REPHRASE
    assert affirmation_response(None, full_domain) == UTTER_ASK_REPHRASE


def test_every_affirmation_response_names_a_real_intent_and_is_well_formed(full_domain):
    prefix = "utter_ask_affirmation_"
    names = [name for name in full_domain["responses"] if name.startswith(prefix)]
    assert len(names) >= 15
    for name in names:
        intent = name[len(prefix):]
        assert intent in full_domain["intents"], name
        # the informal variant and, where it addresses the user, its formal twin (register)
        variants = full_domain["responses"][name]
        assert 1 <= len(variants) <= 2, name
        for variant in variants:
            assert variant["text"].endswith("?"), name
            yes, no = variant["buttons"]
            assert yes == {"title": "Tak", "payload": f"/{intent}"}, name
            # Rasa's two-stage fallback reads /out_of_scope as "no, not that"
            assert no["payload"] == "/out_of_scope", name


def test_rephrase_and_give_up_responses_offer_topics_and_a_consultant(full_domain):
    rephrase = full_domain["responses"][UTTER_ASK_REPHRASE][0]
    payloads = {button["payload"] for button in rephrase["buttons"]}
    assert {"/login_help", "/reset_password", "/human_handoff"} <= payloads
    for payload in payloads:
        assert payload[1:] in full_domain["intents"]
    # the first "I did not understand" offers the same topics; only "nadal" offers just a person
    default = full_domain["responses"][UTTER_DEFAULT][0]
    assert default["buttons"] == rephrase["buttons"]
    again = full_domain["responses"][UTTER_DEFAULT_AGAIN][0]
    assert [button["payload"] for button in again["buttons"]] == ["/human_handoff"]


def test_only_the_second_fallback_says_nadal(full_domain):
    """The issue: the very first fallback said "Przepraszam, nadal nie rozumiem"."""
    first = full_domain["responses"][UTTER_DEFAULT][0]["text"]
    again = full_domain["responses"][UTTER_DEFAULT_AGAIN][0]["text"]
    assert first.startswith("Przepraszam, nie jestem pewien, o co chodzi")
    assert "nadal" not in first
    assert "nadal nie rozumiem" in again
    assert "nadal" not in full_domain["responses"][UTTER_ASK_REPHRASE][0]["text"]


def bot_event(response):
    return {"event": "bot", "text": "…", "metadata": {"utter_action": response}}


def listen():
    return {"event": "action", "name": "action_listen"}


async def test_the_first_core_fallback_is_not_sure_and_forgets_the_message(full_domain):
    tracker = make_tracker(events=[
        listen(), user_event("dzień dobry", "greet"), bot_event("utter_greet"),
        listen(), user_event("ok zmienione, działa", "thanks"),
    ])

    events, messages = await run(ActionDefaultFallback(), tracker, full_domain)

    assert [message["response"] for message in messages] == [UTTER_DEFAULT]
    assert events == [UserUtteranceReverted()]


@pytest.mark.parametrize(
    "previous", [UTTER_DEFAULT, UTTER_ASK_REPHRASE, "utter_ask_affirmation_login_help"]
)
async def test_a_fallback_right_after_a_fallback_says_nadal(full_domain, previous):
    # the core fallback forgot the first message (rewind): its reply stays in the tracker
    tracker = make_tracker(events=[
        listen(), user_event("xyz", "nlu_fallback"), {"event": "action", "name": "x"},
        bot_event(previous), {"event": "rewind"},
        listen(), user_event("abc", "nlu_fallback"),
    ])

    _, messages = await run(ActionDefaultFallback(), tracker, full_domain)

    assert [message["response"] for message in messages] == [UTTER_DEFAULT_AGAIN]


async def test_a_fallback_after_an_earlier_understood_turn_is_a_first_one_again(full_domain):
    tracker = make_tracker(events=[
        listen(), user_event("xyz", "nlu_fallback"), bot_event(UTTER_DEFAULT), {"event": "rewind"},
        listen(), user_event("nie pamiętam hasła", "reset_password"), bot_event("utter_ask_email"),
        listen(), user_event("abc", "nlu_fallback"),
    ])

    _, messages = await run(ActionDefaultFallback(), tracker, full_domain)

    assert [message["response"] for message in messages] == [UTTER_DEFAULT]


async def test_the_two_stage_fallback_giving_up_says_nadal(full_domain):
    tracker = make_tracker(
        events=[listen(), user_event("abc", "nlu_fallback")],
        active_loop="action_two_stage_fallback",
    )

    _, messages = await run(ActionDefaultFallback(), tracker, full_domain)

    assert [message["response"] for message in messages] == [UTTER_DEFAULT_AGAIN]


@pytest.mark.parametrize(
    "form, requested, text, intent, answer, question",
    [
        ("registration_form", "person_name", "Czyli co mam zrobić, żeby się zalogować?",
         "login_help", "utter_login_help", "utter_ask_registration_form_person_name"),
        ("reset_password_form", "email", "a jakie musi być to hasło?",
         "password_requirements", "utter_password_requirements", "utter_ask_email"),
        # the package is asked by a custom action (current package, buttons): not repeated here
        ("change_package_form", "package", "a jak się z wami skontaktować?",
         "support_contact", "utter_support_contact", None),
        # so is the code (action_ask_verification_code), although utter_ask_verification_code
        # exists too
        ("change_package_form", "verification_code", "a gdzie mam login?",
         "find_login", "utter_find_login", None),
        # "nie rozumiem" at a question: a lead-in and the question again ...
        ("reset_password_form", "email", "nie rozumiem, o co chodzi",
         "explain_again", "utter_explain_form_question", "utter_ask_email"),
        # ... or, where the form's own action asks it, a pointer to the question above
        ("change_package_form", "package", "nie łapię",
         "explain_again", "utter_explain_form_question_above", None),
    ],
)
async def test_a_question_in_a_form_without_its_rule_is_answered_and_the_form_asks_again(
    full_domain, form, requested, text, intent, answer, question
):
    tracker = make_tracker(
        slots={"requested_slot": requested},
        events=[listen(), user_event(text, intent)],
        active_loop=form,
    )

    events, messages = await run(ActionDefaultFallback(), tracker, full_domain)

    assert [message["response"] for message in messages] == [answer] + ([question] if question else [])
    assert events == [UserUtteranceReverted()]  # the form goes on with the next message


async def test_not_understood_in_a_form_repeats_the_question_as_it_was_asked(full_domain):
    # asked by the form's custom action, with the current package in it
    asked = {"event": "bot", "text": "…", "metadata": {
        "utter_action": "utter_ask_change_package_form_package_current",
        "current_name": "Srebrny", "valid_until": "31.12.2026"}}
    tracker = make_tracker(
        slots={"requested_slot": "package"},
        events=[listen(), user_event("zmiana pakietu", "change_package"),
                {"event": "action", "name": "change_package_form"}, asked,
                listen(), user_event("nie rozumiem", "explain_again")],
        active_loop="change_package_form",
    )

    events, messages = await run(ActionDefaultFallback(), tracker, full_domain)

    assert [(m["response"], m.get("current_name")) for m in messages] == [
        ("utter_explain_form_question", None),
        ("utter_ask_change_package_form_package_current", "Srebrny"),
    ]
    assert messages[1]["valid_until"] == "31.12.2026"
    assert events == [UserUtteranceReverted()]


def test_every_answer_in_a_form_is_a_response_of_the_domain(full_domain):
    assert set(ANSWERS_IN_FORM.values()) <= set(full_domain["responses"])
    assert set(ANSWERS_IN_FORM) <= set(full_domain["intents"])


async def test_a_question_without_a_fixed_answer_in_a_form_is_the_fallback(full_domain):
    tracker = make_tracker(
        slots={"requested_slot": "package"},
        events=[listen(), user_event("a jaki mam teraz?", "account_status")],
        active_loop="change_package_form",
    )

    _, messages = await run(ActionDefaultFallback(), tracker, full_domain)

    assert [message["response"] for message in messages] == [UTTER_DEFAULT]


# --- action_explain_again -------------------------------------------------------------------


async def test_not_understood_explanation_comes_again_with_its_values_then_an_offer(full_domain):
    paired = {"event": "bot", "text": "…",
              "metadata": {"utter_action": "utter_device_paired", "device_name": "iPhone 15"}}
    tracker = make_tracker(events=[
        listen(), user_event("jaki telefon mam podpięty", "device_status"),
        {"event": "action", "name": "action_device_status"},
        paired, bot_event("utter_device_one_device_rule"), bot_event("utter_offer_reset"),
        listen(), user_event("nie rozumiem", "explain_again"),
    ])

    events, messages = await run(ActionExplainAgain(), tracker, full_domain)

    assert [(m["response"], m.get("device_name")) for m in messages] == [
        ("utter_device_paired", "iPhone 15"),
        ("utter_device_one_device_rule", None),
        ("utter_explain_again_follow_up", None),
    ]
    assert events == []


@pytest.mark.parametrize("previous", [UTTER_DEFAULT, "utter_ask_email", "utter_greet", None])
async def test_not_understood_with_no_explanation_before_asks_what_is_unclear(
    full_domain, previous
):
    events = [listen(), user_event("dzień dobry", "greet")]
    if previous:
        events.append(bot_event(previous))
    tracker = make_tracker(events=events + [listen(), user_event("nie rozumiem", "explain_again")])

    _, messages = await run(ActionExplainAgain(), tracker, full_domain)

    assert [message["response"] for message in messages] == ["utter_ask_what_unclear"]


# --- leave_ticket -----------------------------------------------------------------------------


async def test_a_ticket_request_takes_the_handoff_path_with_its_own_words(full_domain):
    tracker = make_tracker(events=[user_event("chcę zostawić zgłoszenie", "leave_ticket")])

    events, messages = await run(ActionHandoff(), tracker, full_domain)

    assert events == [SlotSet(HANDOFF_REQUESTED_SLOT, True)]
    assert [message["response"] for message in messages] == [
        UTTER_TICKET_REQUESTED,
        UTTER_SUPPORT_CONTACT,
        None,
    ]
    # the same payload: the gateway's desk queues (an adviser free) or offers the ticket
    assert messages[-1]["custom"] == HANDOFF_PAYLOAD
    text = full_domain["responses"][UTTER_TICKET_REQUESTED][0]["text"]
    assert "zgłoszenie" in text


def test_support_actions_are_in_the_domain(full_domain):
    executor = ActionExecutor()
    for action_class in (ActionHandoff, ActionDefaultAskAffirmation, ActionDefaultFallback):
        executor.register_action(action_class)
    assert set(executor.actions) == {
        "action_handoff",
        "action_default_ask_affirmation",
        "action_default_fallback",
    }
    assert set(executor.actions) <= set(full_domain["actions"])
