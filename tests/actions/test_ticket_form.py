"""ticket_form: the contact and the matter picked out of the visitor's messages, and the
ticket handed to the gateway as the payload it files (bot/gateway/chat.py)."""

from __future__ import annotations

from typing import Any, Dict

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.support import (
    ActionCancelTicket,
    ActionLeaveTicket,
    NO_MATTER,
    ValidateTicketForm,
    contact_in,
    matter_in,
)
from bot.domain_files import load_domain
from tests.actions.helpers import make_tracker, user_event


@pytest.fixture(scope="module")
def domain() -> Dict[str, Any]:
    return load_domain()


def ticket_turn(text: str, intent: str = "inform", requested: Any = None, **slots) -> Any:
    return make_tracker(
        slots={"requested_slot": requested, **slots},
        events=[user_event(text, intent)],
        active_loop="ticket_form",
    )


async def run_messages(action, tracker, domain):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return events, dispatcher.messages


async def run(action, tracker, domain):
    events, messages = await run_messages(action, tracker, domain)
    return events, [message["response"] for message in messages]


async def test_the_starting_message_gives_the_address_and_the_matter(domain):
    tracker = ticket_turn(
        "dobra, zostawiam zgłoszenie: ewa.lis@biuro-lis.pl – nie mogę wystawić faktury od rana",
        intent="leave_ticket",
    )

    events, responses = await run(ValidateTicketForm(), tracker, domain)

    assert events == [
        SlotSet("ticket_contact", "ewa.lis@biuro-lis.pl"),
        SlotSet("ticket_question", "dobra, zostawiam zgłoszenie: – nie mogę wystawić faktury od rana"),
        SlotSet("email", "ewa.lis@biuro-lis.pl"),  # the visitor's own: not asked again later
    ]
    assert responses == []


async def test_a_bare_request_leaves_both_to_be_asked(domain):
    events, responses = await run(ValidateTicketForm(), ticket_turn("tak, zgłoszenie", "affirm"),
                                  domain)

    assert events == []
    assert responses == []


async def test_a_phone_number_answers_the_contact_question(domain):
    tracker = ticket_turn("dzwońcie na 600-100-200, najlepiej po 16", requested="ticket_contact")

    events, _ = await run(ValidateTicketForm(), tracker, domain)

    assert events == [SlotSet("ticket_contact", "600 100 200")]


async def test_no_contact_in_the_answer_explains_and_asks_again(domain):
    tracker = ticket_turn("a po co wam to", requested="ticket_contact")

    events, responses = await run(ValidateTicketForm(), tracker, domain)

    assert events == []
    assert responses == ["utter_ticket_contact_invalid"]


async def test_the_answer_to_the_question_is_kept_with_secrets_masked(domain):
    tracker = ticket_turn("hasło Tajne#Haslo2026 przestało działać", requested="ticket_question",
                          ticket_contact="jan@firma.pl")

    events, _ = await run(ValidateTicketForm(), tracker, domain)

    [question] = {event["value"] for event in events if event["name"] == "ticket_question"}
    assert "przestało działać" in question and "Tajne#Haslo2026" not in question


async def test_a_one_word_answer_is_not_a_question(domain):
    tracker = ticket_turn("faktura", requested="ticket_question", ticket_contact="jan@firma.pl")

    events, responses = await run(ValidateTicketForm(), tracker, domain)

    assert events == [SlotSet("ticket_question", None)]
    assert responses == ["utter_ticket_question_too_short"]


async def test_the_ticket_goes_to_the_gateway_and_is_forgotten(domain):
    tracker = make_tracker(slots={"ticket_contact": "jan@firma.pl",
                                  "ticket_question": "Proszę o fakturę korygującą."})
    dispatcher = CollectingDispatcher()

    events = await ActionLeaveTicket().run(dispatcher, tracker, domain)

    assert [message["custom"] for message in dispatcher.messages] == [
        {"ticket": {"email": "jan@firma.pl", "question": "Proszę o fakturę korygującą."}}
    ]
    assert events == [SlotSet("ticket_contact", None), SlotSet("ticket_question", None)]


async def test_a_phone_contact_is_sent_as_phone(domain):
    tracker = make_tracker(slots={"ticket_contact": "600 100 200", "ticket_question": "Oddzwońcie."})
    dispatcher = CollectingDispatcher()

    await ActionLeaveTicket().run(dispatcher, tracker, domain)

    assert dispatcher.messages[0]["custom"] == {
        "ticket": {"phone": "600 100 200", "question": "Oddzwońcie."}
    }


async def test_cancelling_forgets_the_ticket(domain):
    events, _ = await run(ActionCancelTicket(), make_tracker(), domain)

    assert events == [SlotSet("ticket_contact", None), SlotSet("ticket_question", None)]


@pytest.mark.parametrize(
    "text, contact",
    [
        ("mail: Jan.Kowalski@MajaFirma.pl.", "jan.kowalski@majafirma.pl"),
        ("+48 600 100 200", "600 100 200"),
        ("NIP 5260250274", None),
        ("600100200 albo 600100201", None),
        ("nie wiem", None),
    ],
)
def test_contact_in(text, contact):
    assert contact_in(text) == contact


def test_a_request_with_a_contact_has_no_matter_of_its_own():
    assert matter_in("ok zgłoszenie, mail lukasz@firma.pl, telefon w stopce maila") is None


@pytest.mark.parametrize(
    "text, intent",
    [("dzięki", "thanks"), ("Dziękuję, czekam na kontakt.", "done"), ("do widzenia", "goodbye")],
)
async def test_thanks_instead_of_a_description_files_the_matter_written_earlier(
    domain, text, intent
):
    tracker = make_tracker(
        slots={"requested_slot": "ticket_question", "ticket_contact": "jan@firma.pl"},
        events=[
            user_event("od wczoraj nie mogę wystawić faktury korygującej", "out_of_scope"),
            user_event("poproszę konsultanta", "human_handoff"),
            user_event("tak, zgłoszenie", "affirm"),
            user_event("jan@firma.pl", "inform"),
            user_event(text, intent),
        ],
        active_loop="ticket_form",
    )

    events, responses = await run(ValidateTicketForm(), tracker, domain)

    assert events == [
        SlotSet("ticket_question", "od wczoraj nie mogę wystawić faktury korygującej")
    ]
    assert responses == []


@pytest.mark.parametrize("text, intent", [("tak", "affirm"), ("nie", "deny")])
async def test_an_answer_with_nothing_written_earlier_asks_for_a_few_words(domain, text, intent):
    tracker = make_tracker(
        slots={"requested_slot": "ticket_question", "ticket_contact": "jan@firma.pl"},
        events=[user_event("konsultant", "human_handoff"), user_event(text, intent)],
        active_loop="ticket_form",
    )

    events, responses = await run(ValidateTicketForm(), tracker, domain)

    assert events == [SlotSet("ticket_question", None)]
    assert responses == ["utter_ticket_question_too_short"]


async def test_a_request_for_a_person_that_describes_the_matter_is_the_matter(domain):
    request = "Dzień dobry, poproszę konsultanta – od rana nie mogę wystawić faktury korygującej"
    tracker = make_tracker(
        slots={"requested_slot": "ticket_question", "ticket_contact": "jan@firma.pl"},
        events=[
            user_event("chcę rozmawiać z człowiekiem", "human_handoff"),  # no matter in it
            user_event(request, "human_handoff"),
            user_event("tak", "affirm"),
            user_event("Dziękuję, czekam na kontakt.", "thanks"),
        ],
        active_loop="ticket_form",
    )

    events, _ = await run(ValidateTicketForm(), tracker, domain)

    assert events == [SlotSet("ticket_question", request)]


CLOSING = [("dzięki", "thanks"), ("Dziękuję, czekam na kontakt.", "thanks"),
           ("ok, to tyle", "done"), ("do widzenia", "goodbye")]


@pytest.mark.parametrize("text, intent", CLOSING)
async def test_thanks_instead_of_the_matter_files_the_ticket_without_one(domain, text, intent):
    """The adviser has the contact and the ticket's copy of the conversation."""
    tracker = make_tracker(
        slots={"requested_slot": "ticket_question", "ticket_contact": "jan@firma.pl"},
        events=[user_event("konsultant", "human_handoff"), user_event(text, intent)],
        active_loop="ticket_form",
    )

    events, responses = await run(ValidateTicketForm(), tracker, domain)

    assert events == [SlotSet("ticket_question", NO_MATTER)]
    assert responses == []


@pytest.mark.parametrize("text, intent", CLOSING)
async def test_thanks_instead_of_the_contact_fills_nothing(domain, text, intent):
    """No ticket without a contact: the form takes no value, so Rasa hands the message to the
    form's rules, which leave no ticket and say so (rules/support.yml)."""
    tracker = make_tracker(
        slots={"requested_slot": "ticket_contact"},
        events=[user_event("konsultant", "human_handoff"), user_event(text, intent)],
        active_loop="ticket_form",
    )

    events, responses = await run(ValidateTicketForm(), tracker, domain)

    assert events == []
    assert responses == []


@pytest.mark.parametrize(
    "text, intent, closing",
    [("dziękuję, czekam", "thanks", ["utter_you_are_welcome"]),
     ("do widzenia", "goodbye", ["utter_goodbye"]),
     ("nie mogę wystawić faktury od rana", "out_of_scope", [])],
)
async def test_a_ticket_filed_on_thanks_answers_the_thanks(domain, text, intent, closing):
    tracker = make_tracker(
        slots={"ticket_contact": "jan@firma.pl", "ticket_question": NO_MATTER},
        events=[user_event(text, intent)],
    )

    events, messages = await run_messages(ActionLeaveTicket(), tracker, domain)

    assert messages[0]["custom"] == {"ticket": {"email": "jan@firma.pl", "question": NO_MATTER}}
    assert [message["response"] for message in messages[1:]] == closing
