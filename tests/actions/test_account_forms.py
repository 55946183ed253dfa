"""The address questions of the password reset and of the activation link forgive: a "nie",
"nie wiem" or "nie no, chcę dalej" explains why the address is needed and asks again (only an
explicit stop cancels, data/rules/account.yml); an address typed with it is taken."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ValidateResetPasswordForm
from actions.registration import ValidateResendActivationForm
from tests.actions.helpers import make_tracker, slot_event, user_event

FORMS = {
    "reset_password_form": (ValidateResetPasswordForm, "utter_reset_email_needed"),
    "resend_activation_form": (ValidateResendActivationForm, "utter_activation_email_needed"),
}


def address_turn(form: str, text: str, intent: str, extracted: Optional[str],
                 entities: Optional[List[Dict[str, Any]]] = None):
    """The tracker Rasa sends to the form's validator after the answer to the address question;
    `extracted` is what the mappings took (None: nothing, e.g. "nie" is no answer mapping)."""
    candidates = [] if extracted is None else [slot_event("email", extracted)]
    events = [
        {"event": "action", "name": form},
        {"event": "active_loop", "name": form},
        slot_event("requested_slot", "email"),
        {"event": "action", "name": "action_listen"},
        user_event(text, intent, entities),
        *candidates,
        slot_event("requested_slot", "email"),
        {"event": "action", "name": form},
        *candidates,
    ]
    return make_tracker(slots={"email": extracted, "requested_slot": "email"}, events=events,
                        active_loop=form)


async def run(form: str, tracker, domain):
    validator, _ = FORMS[form]
    dispatcher = CollectingDispatcher()
    events = await validator().run(dispatcher, tracker, domain)
    return events, [message["response"] for message in dispatcher.messages]


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize(
    "text, intent, extracted",
    [
        ("nie", "deny", None),
        ("nie wiem", "dont_know", "nie wiem"),
        ("nie wiem, który to był adres", "dont_know", "nie wiem, który to był adres"),
    ],
)
async def test_no_or_dont_know_explains_and_asks_again(domain, form, text, intent, extracted):
    events, responses = await run(form, address_turn(form, text, intent, extracted), domain)

    assert events == [SlotSet("email", None), SlotSet("requested_slot", "email")]
    assert responses == [FORMS[form][1]]


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_a_yes_asks_again_without_a_lecture(domain, form):
    tracker = address_turn(form, "tak", "affirm", "tak")

    events, responses = await run(form, tracker, domain)

    assert events == [SlotSet("email", None), SlotSet("requested_slot", "email")]
    assert responses == []


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_going_on_is_left_to_the_rules(domain, form):
    # "nie no, chcę dalej" is no answer mapping (not_an_answer): nothing to validate, so Rasa
    # rejects the form and rules/dialogue_control.yml answers, then the form asks again.
    tracker = address_turn(form, "nie no, chcę dalej", "resume", None)

    events, responses = await run(form, tracker, domain)

    assert [e for e in events if e.get("name") != "requested_slot"] == []
    assert responses == []


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_an_address_with_the_no_is_taken(domain, form):
    text = "nie, mój mail to Anna.Nowak@biuro-nowak.pl"
    tracker = address_turn(form, text, "deny", "Anna.Nowak@biuro-nowak.pl")

    events, responses = await run(form, tracker, domain)

    assert events == [SlotSet("email", "anna.nowak@biuro-nowak.pl")]
    assert responses == []


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_responses_exist(domain, form):
    assert FORMS[form][1] in domain["responses"]


JAN = "jan.kowalski@majafirma.pl"


def started_after(*earlier: Dict[str, Any], form: str = "reset_password_form"):
    """The tracker of `validate_<form>` right after the form was started by the latest message."""
    return make_tracker(
        events=[*earlier, {"event": "action", "name": form}],
        active_loop=form,
        latest_action_name=form,
    )


@pytest.mark.parametrize("validator", [ValidateResetPasswordForm, ValidateResendActivationForm])
async def test_the_one_address_written_earlier_is_taken(validator):
    tracker = started_after(
        user_event(f"mam konto w iKsięgowość24 ({JAN}) i nie mogę wejść", "login_help"),
        user_event("a jeśli nie pamiętam hasła?", "reset_password"),
    )
    assert await validator().extract_email(CollectingDispatcher(), tracker, {}) == {"email": JAN}


@pytest.mark.parametrize(
    "earlier",
    [
        # two addresses: which one is meant cannot be told
        [user_event(JAN, "inform"), user_event("albo biuro@majafirma.pl", "inform")],
        # a colleague's address is never the visitor's
        [user_event("dodaj ewa.lis@majafirma.pl jako księgową", "add_user")],
        [user_event("zmień login pracownika na ewa@firma.pl", "inform")],
        # nothing written
        [user_event("zapomniałem hasła", "reset_password")],
    ],
)
async def test_no_address_is_guessed(earlier):
    tracker = started_after(*earlier, user_event("zresetuj hasło", "reset_password"))
    assert await ValidateResetPasswordForm().extract_email(
        CollectingDispatcher(), tracker, {}
    ) == {}


async def test_an_address_asked_for_is_not_replaced_by_an_earlier_one():
    tracker = make_tracker(
        slots={"requested_slot": "email"},
        events=[user_event(JAN, "inform"), user_event("nie wiem który", "dont_know")],
        active_loop="reset_password_form",
    )
    assert await ValidateResetPasswordForm().extract_email(
        CollectingDispatcher(), tracker, {}
    ) == {}
