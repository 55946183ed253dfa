"""Identity verification (actions/identity.py) against the real backend: the code e-mail, the
check that gives a grant, wrong and dead codes, the gateway's grant in the message metadata,
and that neither the code nor the grant is ever logged."""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendError
from actions.identity import (
    ActionAskVerificationCode,
    extract_code,
    says_code_not_received,
    says_mailbox_lost,
    visitor_address_in_message,
    grant_of,
    identity_expired_events,
    is_identity_expired,
    requester_of,
)
from actions.packages import ValidateAccountStatusForm, ValidateChangePackageForm
from tests.actions.helpers import fresh_requester, make_tracker, slot_event, user_event

JAN = "jan.kowalski@majafirma.pl"
ANNA = "anna.nowak@biuro-nowak.pl"
CODE_SUBJECT = "Kod weryfikacyjny"
ASK_CODE_AGAIN = [
    SlotSet("verification_code", None),
    SlotSet("requested_slot", "verification_code"),
]


# --- helpers (also used by test_packages.py) ----------------------------------------------------


def form_tracker(
    form: str,
    *,
    text: str = "",
    intent: str = "inform",
    requested_slot: Optional[str],
    candidates: Optional[Dict[str, Any]] = None,
    slots: Optional[Dict[str, Any]] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
    metadata: Optional[Dict[str, Any]] = None,
    sender_id: str = "identity-test",
):
    """The tracker Rasa sends to `validate_<form>`: the user's answer, the slots
    action_extract_slots set from it, then (appended by the FormAction) the requested slot,
    the form's execution and the candidates to validate. `requested_slot=None`: activation."""
    candidates = candidates or {}
    user = user_event(text, intent, entities)
    if metadata is not None:
        user["parse_data"]["metadata"] = metadata
        user["metadata"] = metadata
    events = []
    if requested_slot is not None:
        events += [
            {"event": "action", "name": form},
            {"event": "active_loop", "name": form},
            slot_event("requested_slot", requested_slot),
        ]
    events += [{"event": "action", "name": "action_listen"}, user]
    events += [slot_event(name, value) for name, value in candidates.items()]
    events += [slot_event("requested_slot", requested_slot), {"event": "action", "name": form}]
    events += [slot_event(name, value) for name, value in candidates.items()]
    all_slots = {
        "verification_code": None,
        "verification_grant": None,
        "verified_name": None,
        "verified_email": None,
        "package": None,
        "confirmation": None,
        "package_change_blocked": None,
        "requested_slot": requested_slot,
    }
    all_slots.update(slots or {})
    all_slots.update(candidates)
    return make_tracker(slots=all_slots, events=events, active_loop=form, sender_id=sender_id)


def responses(dispatcher: CollectingDispatcher) -> List[str]:
    return [message.get("response") for message in dispatcher.messages]


def wait_for_mails(
    live_backend, address: str, subject_part: str, count: int = 1, timeout: float = 20.0
) -> List[Dict[str, Any]]:
    """The messages to `address` whose subject contains `subject_part`, once there are
    `count` of them (the backend sends through its outbox, a moment after answering)."""
    deadline = time.monotonic() + timeout
    while True:
        mails = [
            m for m in live_backend.mails_to(address) if subject_part in (m.get("subject") or "")
        ]
        if len(mails) >= count or time.monotonic() > deadline:
            return mails
        time.sleep(0.2)


def latest_code(live_backend, address: str, count: int = 1) -> str:
    mails = wait_for_mails(live_backend, address, CODE_SUBJECT, count)
    assert len(mails) >= count, f"no verification code was e-mailed to {address}"
    newest = max(mails, key=lambda mail: mail.get("received_at") or "")
    return re.search(r"\b(\d{6})\b", newest["text"]).group(1)


async def request_code(validator, domain, address: str, form: Optional[str] = None):
    form = form or validator.form_name()
    dispatcher = CollectingDispatcher()
    requester = fresh_requester()
    tracker = form_tracker(
        form, text=address, requested_slot="email", candidates={"email": address},
        metadata={"pomocnik_client": {"network": requester["network"]}},
        sender_id=requester["conversation"],
    )
    events = await validator.run(dispatcher, tracker, domain)
    return events, dispatcher


async def check_code(validator, domain, address: str, text: str, slots=None):
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        validator.form_name(),
        text=text,
        requested_slot="verification_code",
        candidates={"verification_code": text},
        slots={"email": address, **(slots or {})},
    )
    events = await validator.run(dispatcher, tracker, domain)
    return events, dispatcher


async def verify(live_backend, domain, address: str = JAN) -> str:
    """A fresh grant for `address`, through the validator as in a conversation."""
    validator = ValidateAccountStatusForm()
    await request_code(validator, domain, address)
    code = latest_code(live_backend, address)
    events, _ = await check_code(validator, domain, address, code)
    grant = next(e["value"] for e in events if e["name"] == "verification_grant")
    assert isinstance(grant, str) and grant
    return grant


# --- pure helpers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("482913", "482913"),
        ("482 913", "482913"),
        ("kod to 123-456", "123456"),
        ("Mój kod: 009812.", "009812"),
        ("12345", None),
        ("1234567", None),
        ("123456 albo 654321", None),
        ("nie dostałem kodu", None),
    ],
)
def test_extract_code(text, code):
    assert extract_code(text) == code


def test_grant_of_prefers_the_gateway_metadata_and_ignores_empty_grants():
    def tracker(metadata, slot):
        return form_tracker(
            "account_status_form", requested_slot=None, metadata=metadata,
            slots={"verification_grant": slot},
        )

    identity = {"pomocnik_identity": {"grant": "from-gateway", "name": "Jan", "email": JAN}}
    assert grant_of(tracker(identity, "from-code")) == "from-gateway"
    assert grant_of(tracker(None, "from-code")) == "from-code"
    assert grant_of(tracker({"pomocnik_identity": {"grant": ""}}, None)) is None
    assert grant_of(tracker({"pomocnik_identity": {"grant": 42}}, None)) is None
    assert grant_of(tracker({"pomocnik_identity": "grant"}, None)) is None
    assert grant_of(tracker(None, "")) is None


def test_identity_expired_events_forget_the_identity():
    assert identity_expired_events() == [
        SlotSet("verification_grant", None),
        SlotSet("verified_name", None),
        SlotSet("verified_email", None),
        SlotSet("email", None),
        SlotSet("verification_code", None),
    ]
    assert is_identity_expired(BackendError("verification_required", "", 401))
    assert not is_identity_expired(BackendError("unauthorized", "", 401))
    assert not is_identity_expired(BackendError("not_owner", "", 403))


async def test_required_slots_put_the_identity_first_until_verified(domain):
    validator = ValidateChangePackageForm()
    dispatcher = CollectingDispatcher()
    slots = ["email", "verification_code", "package", "confirmation"]
    unverified = form_tracker("change_package_form", requested_slot="email")
    verified = form_tracker(
        "change_package_form", requested_slot="package", slots={"verification_grant": "g"}
    )
    assert await validator.required_slots(slots, dispatcher, unverified, domain) == slots
    assert await validator.required_slots(slots, dispatcher, verified, domain) == [
        "package",
        "confirmation",
    ]


# --- the gateway's identity, activation -----------------------------------------------------------


async def test_a_grant_in_the_message_metadata_completes_the_account_status_form(domain):
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        "account_status_form",
        text="jaki mam pakiet?",
        intent="account_status",
        requested_slot=None,
        metadata={"pomocnik_identity": {"grant": "gw-grant", "name": "Jan Kowalski", "email": JAN}},
    )

    events = await ValidateAccountStatusForm().run(dispatcher, tracker, domain)

    assert events == [
        SlotSet("verification_grant", "gw-grant"),
        SlotSet("verified_name", "Jan Kowalski"),
        SlotSet("verified_email", JAN),
        SlotSet("email", None),
        SlotSet("verification_code", None),
        SlotSet("requested_slot", None),
    ]
    assert dispatcher.messages == []


async def test_a_gateway_grant_the_backend_refused_is_not_taken_again(domain):
    """Otherwise a stale grant would complete the form, fail with 401, restart the form and
    complete it again - in a loop, and the user could never verify with a code."""
    identity = {"pomocnik_identity": {"grant": "stale", "name": "Jan Kowalski", "email": JAN}}
    tracker = form_tracker(
        "account_status_form", text="stan konta", intent="account_status",
        requested_slot=None, metadata=identity,
    )
    # taken by the form, then refused by the backend (identity_expired_events)
    tracker.events[0:0] = [slot_event("verification_grant", "stale")] + [
        dict(event) for event in identity_expired_events()
    ]

    assert grant_of(tracker) is None
    events = await ValidateAccountStatusForm().run(CollectingDispatcher(), tracker, domain)
    assert events == [SlotSet("requested_slot", "email")]


@pytest.mark.parametrize("grant", ["", "   ", None, 123])
async def test_a_metadata_grant_must_be_a_non_empty_string(domain, grant):
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        "account_status_form",
        intent="account_status",
        requested_slot=None,
        metadata={"pomocnik_identity": {"grant": grant, "name": "X", "email": JAN}},
    )

    events = await ValidateAccountStatusForm().run(dispatcher, tracker, domain)

    assert events == [SlotSet("requested_slot", "email")]


async def test_activation_ignores_an_address_and_package_left_from_before(domain, live_backend):
    """A new run asks for the address (no code to an old one) and for the package."""
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        "change_package_form",
        text="chcę zmienić pakiet",
        intent="change_package",
        requested_slot=None,
        slots={"email": JAN, "package": "gold", "confirmation": True},
    )

    events = await ValidateChangePackageForm().run(dispatcher, tracker, domain)

    assert events == [
        SlotSet("email", None),
        SlotSet("package", None),
        SlotSet("confirmation", None),
        SlotSet("requested_slot", "email"),
    ]
    assert wait_for_mails(live_backend, JAN, "", timeout=1.0) == []


async def test_activation_keeps_the_package_of_the_triggering_message(domain):
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        "change_package_form",
        text="zmień pakiet na złoty",
        intent="change_package",
        requested_slot=None,
        candidates={"package": "gold"},
    )

    events = await ValidateChangePackageForm().run(dispatcher, tracker, domain)

    assert events == [
        SlotSet("package", "gold"),
        SlotSet("confirmation", None),
        SlotSet("requested_slot", "email"),
    ]


# --- the code, against the real backend -----------------------------------------------------------


async def test_the_code_is_e_mailed_and_the_right_code_gives_a_grant(domain, live_backend):
    validator = ValidateAccountStatusForm()

    events, dispatcher = await request_code(validator, domain, JAN)

    assert events == [
        SlotSet("email", JAN),
        SlotSet("verification_code", None),
        SlotSet("requested_slot", "verification_code"),
    ]
    assert responses(dispatcher) == ["utter_verification_code_sent"]
    assert dispatcher.messages[0]["masked_email"] == "j***@majafirma.pl"
    assert len(wait_for_mails(live_backend, JAN, CODE_SUBJECT)) == 1
    code = latest_code(live_backend, JAN)

    # typed the way people paste it
    events, dispatcher = await check_code(validator, domain, JAN, f"kod to {code[:3]} {code[3:]}")

    grant = next(e["value"] for e in events if e["name"] == "verification_grant")
    assert isinstance(grant, str) and len(grant) >= 20
    assert events == [
        SlotSet("verification_code", None),
        SlotSet("verification_grant", grant),
        SlotSet("verified_name", "Jan Kowalski"),
        SlotSet("verified_email", JAN),
        SlotSet("email", None),
        SlotSet("requested_slot", None),  # account_status_form: verified = done
    ]
    assert responses(dispatcher) == ["utter_identity_verified"]
    # the backend keeps only a hash of the grant; it works for a sensitive call
    assert live_backend.query(
        "SELECT count(*) FROM verification_grants WHERE grant_hash = ?", grant
    ) == [(0,)]
    assert live_backend.query("SELECT count(*) FROM verification_grants") == [(1,)]
    # the code is single-use
    events, dispatcher = await check_code(validator, domain, JAN, code)
    assert responses(dispatcher) == ["utter_verification_code_expired"]
    assert events[-1] == SlotSet("requested_slot", "email")


async def test_change_package_form_asks_for_the_package_after_the_code(domain, live_backend):
    validator = ValidateChangePackageForm()
    await request_code(validator, domain, JAN)
    code = latest_code(live_backend, JAN)

    events, _ = await check_code(validator, domain, JAN, code)

    assert events[-1] == SlotSet("requested_slot", "package")
    assert SlotSet("verified_email", JAN) in events


async def test_a_wrong_code_asks_again_then_five_wrong_codes_start_over(domain, live_backend):
    validator = ValidateAccountStatusForm()
    await request_code(validator, domain, JAN)
    code = latest_code(live_backend, JAN)
    wrong = "000000" if code != "000000" else "111111"

    events, dispatcher = await check_code(validator, domain, JAN, wrong)

    assert events == ASK_CODE_AGAIN
    assert responses(dispatcher) == ["utter_verification_code_wrong_tries"]
    assert dispatcher.messages[0]["attempts_left"] == 4

    for attempts_left in (3, 2, 1):
        _, dispatcher = await check_code(validator, domain, JAN, wrong)
        assert dispatcher.messages[0]["attempts_left"] == attempts_left
    events, dispatcher = await check_code(validator, domain, JAN, wrong)

    assert responses(dispatcher) == ["utter_verification_code_expired"]
    assert events == [
        SlotSet("verification_code", None),
        SlotSet("email", None),
        SlotSet("requested_slot", "email"),
    ]
    # the right code is dead now too
    _, dispatcher = await check_code(validator, domain, JAN, code)
    assert responses(dispatcher) == ["utter_verification_code_expired"]


async def test_not_six_digits_is_explained_without_asking_the_backend(domain, live_backend):
    events, dispatcher = await check_code(ValidateAccountStatusForm(), domain, JAN, "12345")

    assert responses(dispatcher) == ["utter_verification_code_format"]
    assert events == ASK_CODE_AGAIN
    assert wait_for_mails(live_backend, JAN, CODE_SUBJECT, timeout=1.0) == []


async def test_an_address_instead_of_the_code_sends_a_new_code_there(domain, live_backend):
    events, dispatcher = await check_code(
        ValidateAccountStatusForm(), domain, "jan@gdzie-indziej.pl", f"sorry, to {JAN}"
    )

    assert events == [
        SlotSet("verification_code", None),
        SlotSet("email", JAN),
        SlotSet("requested_slot", "verification_code"),
    ]
    assert responses(dispatcher) == ["utter_verification_code_sent"]
    assert len(wait_for_mails(live_backend, JAN, CODE_SUBJECT)) == 1


async def test_the_same_answer_for_an_unknown_address(domain, live_backend):
    """No enumeration: nothing is sent, and the chat answers exactly as for a real account (a
    later guess is "wrong", not "no account")."""
    validator = ValidateAccountStatusForm()
    address = "ktos@nieznana-firma.pl"

    events, dispatcher = await request_code(validator, domain, address)

    assert events == [
        SlotSet("email", address),
        SlotSet("verification_code", None),
        SlotSet("requested_slot", "verification_code"),
    ]
    assert responses(dispatcher) == ["utter_verification_code_sent"]
    assert wait_for_mails(live_backend, address, "", timeout=2.0) == []

    events, dispatcher = await check_code(validator, domain, address, "123456")
    assert responses(dispatcher) == ["utter_verification_code_wrong_tries"]
    assert events == ASK_CODE_AGAIN


async def test_anna_without_the_cloud_login_can_still_verify(domain, live_backend):
    """Anna never activated her Comarch Cloud login (no password), but her account is active:
    the code proves she controls the mailbox, which is all the chat needs."""
    validator = ValidateAccountStatusForm()
    await request_code(validator, domain, ANNA)
    code = latest_code(live_backend, ANNA)

    events, dispatcher = await check_code(validator, domain, ANNA, code)

    assert responses(dispatcher) == ["utter_identity_verified"]
    assert SlotSet("verified_name", "Anna Nowak") in events


async def test_an_invalid_address_is_refused_before_the_backend(domain, live_backend):
    validator = ValidateAccountStatusForm()

    events, dispatcher = await request_code(validator, domain, "jan.kowalski.majafirma.pl")

    assert events == [SlotSet("email", None), SlotSet("requested_slot", "email")]
    assert responses(dispatcher) == ["utter_invalid_email"]


async def test_backend_unavailable(domain, use_backend, closed_port_url):
    use_backend(closed_port_url, timeout_seconds=1.0)
    validator = ValidateAccountStatusForm()

    events, dispatcher = await request_code(validator, domain, JAN)
    assert events == [SlotSet("email", None), SlotSet("requested_slot", "email")]
    assert responses(dispatcher) == ["utter_identity_unavailable"]

    events, dispatcher = await check_code(validator, domain, JAN, "123456")
    assert events == ASK_CODE_AGAIN
    assert responses(dispatcher) == ["utter_identity_unavailable"]


async def test_the_code_and_the_grant_are_never_logged(domain, live_backend, caplog):
    caplog.set_level(logging.DEBUG)
    validator = ValidateAccountStatusForm()
    await request_code(validator, domain, JAN)
    code = latest_code(live_backend, JAN)
    await check_code(validator, domain, JAN, "999999" if code != "999999" else "888888")

    events, _ = await check_code(validator, domain, JAN, code)

    grant = next(e["value"] for e in events if e["name"] == "verification_grant")
    assert grant
    assert code not in caplog.text
    assert grant not in caplog.text
    assert JAN not in caplog.text  # addresses only masked
    assert "j***@majafirma.pl" in caplog.text


# --- asking for the code ------------------------------------------------------------------------


async def test_the_code_question_is_not_repeated_right_after_the_code_was_sent(domain):
    """utter_verification_code_sent says "Wpisz go tutaj" already."""
    tracker = form_tracker(
        "change_package_form", text=JAN, requested_slot="email",
        candidates={"email": JAN},
    )
    tracker.events.append(slot_event("email", JAN))  # what the validator returned
    dispatcher = CollectingDispatcher()

    assert await ActionAskVerificationCode().run(dispatcher, tracker, domain) == []
    assert dispatcher.messages == []


async def test_the_code_is_asked_again_after_a_wrong_one_or_a_question(domain):
    tracker = form_tracker(
        "change_package_form", text="111111", requested_slot="verification_code",
        candidates={"verification_code": "111111"}, slots={"email": JAN},
    )
    tracker.events.append(slot_event("verification_code", None))
    dispatcher = CollectingDispatcher()

    await ActionAskVerificationCode().run(dispatcher, tracker, domain)

    assert responses(dispatcher) == ["utter_ask_verification_code_to"]
    assert dispatcher.messages[0]["masked_email"] == "j***@majafirma.pl"


# --- limits on code requests: the assistant tells the truth ------------------------------------

CLIENT = {"pomocnik_client": {"network": "203.0.113.0/24"}}


def test_the_requester_is_the_conversation_and_the_reported_network():
    with_network = form_tracker(
        "account_status_form", requested_slot="email", metadata=CLIENT, sender_id="conv-9"
    )
    assert requester_of(with_network) == {"conversation": "conv-9", "network": "203.0.113.0/24"}
    for metadata in (None, {}, {"pomocnik_client": {}}, {"pomocnik_client": {"network": ""}},
                     {"pomocnik_client": "203.0.113.0/24"}, {"pomocnik_client": {"network": 7}}):
        tracker = form_tracker(
            "account_status_form", requested_slot="email", metadata=metadata, sender_id="conv-9"
        )
        assert requester_of(tracker) == {"conversation": "conv-9"}


async def test_the_code_request_names_the_requester(domain, fake_backend, use_backend):
    use_backend(fake_backend.url)
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        "account_status_form", text=JAN, requested_slot="email", candidates={"email": JAN},
        metadata=CLIENT, sender_id="conv-requester",
    )

    await ValidateAccountStatusForm().run(dispatcher, tracker, domain)

    [request] = fake_backend.requests
    assert request.json == {
        "email": JAN,
        "requester": {"conversation": "conv-requester", "network": "203.0.113.0/24"},
    }
    assert responses(dispatcher) == ["utter_verification_code_sent"]


@pytest.mark.parametrize(
    "details, response, minutes",
    [
        ({"retry_after_seconds": 1501}, "utter_verification_code_limited", 26),
        ({}, "utter_verification_code_limited_later", None),
    ],
)
async def test_a_refused_code_request_is_not_reported_as_sent(
    domain, fake_backend, use_backend, details, response, minutes
):
    use_backend(fake_backend.url)
    fake_backend.reply(
        429, {"error": {"code": "verification_codes_limited", "message": "…", "details": details}}
    )

    events, dispatcher = await request_code(ValidateAccountStatusForm(), domain, JAN)

    # the address stays (a code from an earlier message can still be typed)
    assert events == [
        SlotSet("email", JAN),
        SlotSet("verification_code", None),
        SlotSet("requested_slot", "verification_code"),
    ]
    assert responses(dispatcher) == [response]
    assert dispatcher.messages[0].get("minutes") == minutes


async def test_codes_requested_until_a_limit_refuses(domain, live_backend):
    """Against the real backend's limits: once a request is refused, the assistant says that no
    new code was sent and when to try again - never "wysłałem kod"."""
    validator = ValidateAccountStatusForm()
    sent = 0
    for attempt in range(1, 30):
        dispatcher = CollectingDispatcher()
        tracker = form_tracker(
            validator.form_name(), text=ANNA, requested_slot="email",
            candidates={"email": ANNA}, metadata=CLIENT, sender_id="conv-limits",
        )
        events = await validator.run(dispatcher, tracker, domain)
        if responses(dispatcher) != ["utter_verification_code_sent"]:
            break
        sent += 1
    else:
        pytest.fail("the backend never refused a code request")

    assert sent >= 1
    assert responses(dispatcher) == ["utter_verification_code_limited"]
    minutes = dispatcher.messages[0]["minutes"]
    assert isinstance(minutes, int) and 1 <= minutes <= 60
    assert events == [
        SlotSet("email", ANNA),
        SlotSet("verification_code", None),
        SlotSet("requested_slot", "verification_code"),
    ]
    # nothing was sent for the refused request
    time.sleep(1.0)
    assert len(wait_for_mails(live_backend, ANNA, CODE_SUBJECT, count=sent)) == sent
    assert len(wait_for_mails(live_backend, ANNA, CODE_SUBJECT, count=sent + 1, timeout=2)) == sent


# --- an address in the message that starts the form; a code that did not arrive ----------------


def email_entity(value: str, role: Optional[str] = None) -> Dict[str, Any]:
    entity: Dict[str, Any] = {"entity": "email", "value": value}
    if role is not None:
        entity["role"] = role
    return entity


async def start_form(validator, domain, text, intent, *, entities=None, slots=None,
                     candidates=None):
    requester = fresh_requester()
    dispatcher = CollectingDispatcher()
    tracker = form_tracker(
        validator.form_name(), text=text, intent=intent, requested_slot=None,
        entities=entities, slots=slots, candidates=candidates,
        metadata={"pomocnik_client": {"network": requester["network"]}},
        sender_id=requester["conversation"],
    )
    events = await validator.run(dispatcher, tracker, domain)
    return events, dispatcher


async def test_an_address_in_the_message_that_starts_the_form_gets_the_code_at_once(
    domain, live_backend
):
    """"do kiedy mam pakiet? jan.kowalski@majafirma.pl": the code goes there, the address is
    never asked for (an address left from an earlier journey does not count)."""
    events, dispatcher = await start_form(
        ValidateAccountStatusForm(), domain, f"do kiedy mam pakiet? {JAN}", "account_status",
        entities=[email_entity(JAN)], slots={"email": "stary.adres@majafirma.pl"},
    )

    assert events == [
        SlotSet("email", JAN),
        SlotSet("verification_code", None),
        SlotSet("requested_slot", "verification_code"),
    ]
    assert responses(dispatcher) == ["utter_verification_code_sent"]
    assert len(wait_for_mails(live_backend, JAN, CODE_SUBJECT)) == 1
    assert wait_for_mails(live_backend, "stary.adres@majafirma.pl", "", timeout=0.5) == []


async def test_the_package_and_the_address_of_the_first_message_are_both_taken(
    domain, live_backend
):
    """"chcę zmienić pakiet na srebrny, mail jan@…" - also when the NLU found no e-mail entity."""
    events, dispatcher = await start_form(
        ValidateChangePackageForm(), domain,
        f"chcę zmienić pakiet na srebrny, mail {JAN.upper()}", "change_package",
        candidates={"package": "silver"},
    )

    assert SlotSet("package", "silver") in events
    assert SlotSet("email", JAN) in events
    assert events[-1] == SlotSet("requested_slot", "verification_code")
    assert responses(dispatcher) == ["utter_verification_code_sent"]
    assert len(wait_for_mails(live_backend, JAN, CODE_SUBJECT)) == 1


async def test_a_signed_in_visitor_is_not_sent_a_code_for_the_address_in_the_message(
    domain, live_backend
):
    events, dispatcher = await start_form(
        ValidateAccountStatusForm(), domain, f"stan konta {ANNA}", "account_status",
        entities=[email_entity(ANNA)], slots={"verification_grant": "earlier-grant"},
    )

    assert events == [SlotSet("requested_slot", None)]
    assert dispatcher.messages == []
    assert wait_for_mails(live_backend, ANNA, CODE_SUBJECT, timeout=1.0) == []


@pytest.mark.parametrize(
    ("text", "entities", "collects_other", "expected"),
    [
        # the untagged one is the visitor's, the tagged one someone else's
        (f"dodaj {ANNA}, mój mail {JAN}", [email_entity(ANNA, "new"), email_entity(JAN)],
         True, JAN),
        (f"dodaj {ANNA}", [email_entity(ANNA, "member")], True, None),
        (f"dodaj {ANNA}", [email_entity(ANNA, "member")], False, None),
        # no entity: a form collecting another person's address never guesses from the text
        (f"dodaj {ANNA}", [], True, None),
        (f"stan konta {ANNA}.", [], False, ANNA),
        # two different addresses of unknown owners: none is taken
        (f"{JAN} albo {ANNA}", [email_entity(JAN), email_entity(ANNA)], False, None),
        (f"{JAN} {JAN}", [email_entity(JAN), email_entity(JAN.upper())], False, JAN),
        ("chcę zmienić pakiet", [], False, None),
    ],
)
def test_visitor_address_in_message(text, entities, collects_other, expected):
    tracker = form_tracker(
        "add_user_form", text=text, intent="add_user", requested_slot=None, entities=entities
    )
    assert visitor_address_in_message(tracker, collects_other_address=collects_other) == expected


async def test_a_company_form_never_verifies_the_members_address(domain, live_backend):
    """"dodaj anna.nowak@… jako pracownika": Anna's address is the member's, not a code's."""
    from actions.company import ValidateAddUserForm

    events, dispatcher = await start_form(
        ValidateAddUserForm(), domain, f"dodaj {ANNA} jako pracownika", "add_user",
        entities=[email_entity(ANNA, "member")],
    )

    assert SlotSet("email", ANNA) not in events
    assert "utter_verification_code_sent" not in responses(dispatcher)
    assert wait_for_mails(live_backend, ANNA, CODE_SUBJECT, timeout=1.0) == []


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("kod nie przyszedł, sprawdziłem spam", "code_not_received", True),
        ("nie dostałem maila", "resend_activation", True),
        ("nie dostalem kodu", "inform", True),
        ("Nie przyszło nic, nawet w spamie", "nlu_fallback", True),
        ("wyślij jeszcze raz", "affirm", True),
        ("poproszę nowy kod", "inform", True),
        ("brak maila", "inform", True),
        ("12345", "inform", False),
        ("chwileczkę, sprawdzam skrzynkę", "inform", False),
    ],
)
def test_says_code_not_received(text, intent, expected):
    tracker = form_tracker(
        "account_status_form", text=text, intent=intent, requested_slot="verification_code"
    )
    assert says_code_not_received(tracker, text) is expected


async def test_a_code_that_did_not_arrive_gets_the_spam_hint_and_a_new_code(
    domain, live_backend
):
    validator = ValidateAccountStatusForm()
    await request_code(validator, domain, JAN)
    assert len(wait_for_mails(live_backend, JAN, CODE_SUBJECT)) == 1

    dispatcher = CollectingDispatcher()
    requester = fresh_requester()
    text = "nie dostałem kodu, sprawdziłem spam"
    tracker = form_tracker(
        validator.form_name(), text=text, intent="code_not_received",
        requested_slot="verification_code", candidates={"verification_code": text},
        slots={"email": JAN}, metadata={"pomocnik_client": {"network": requester["network"]}},
        sender_id=requester["conversation"],
    )
    events = await validator.run(dispatcher, tracker, domain)

    assert responses(dispatcher) == [
        "utter_verification_code_not_received",
        "utter_verification_code_sent",
    ]
    assert events == [
        SlotSet("verification_code", None),
        SlotSet("email", JAN),
        SlotSet("requested_slot", "verification_code"),
    ]
    assert len(wait_for_mails(live_backend, JAN, CODE_SUBJECT, count=2)) == 2


async def test_a_code_that_did_not_arrive_when_the_limit_refuses_a_new_one(
    domain, fake_backend, use_backend
):
    use_backend(fake_backend.url)
    fake_backend.reply(
        429,
        {"error": {"code": "verification_codes_limited", "message": "…",
                   "details": {"retry_after_seconds": 600}}},
    )

    events, dispatcher = await check_code(
        ValidateAccountStatusForm(), domain, JAN, "kod nie przyszedł"
    )

    assert responses(dispatcher) == [
        "utter_verification_code_not_received",
        "utter_verification_code_limited",
    ]
    assert dispatcher.messages[1]["minutes"] == 10
    assert events == [
        SlotSet("verification_code", None),
        SlotSet("email", JAN),
        SlotSet("requested_slot", "verification_code"),
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Chcę zmienić e-mail na który się loguję, ale do starego nie mam już dostępu", True),
        ("no nie mam jak odebrać kodu", True),
        ("nie mam juz dostepu do tej skrzynki", True),
        ("brak dostępu do poczty firmowej", True),
        ("stary mail już nie działa", True),
        ("skrzynka została usunięta po zmianie firmy", True),
        ("nie mam dostępu do konta", False),
        ("nie mam maila z kodem", False),
        ("jan.kowalski@majafirma.pl", False),
    ],
)
def test_says_mailbox_lost(text, expected):
    assert says_mailbox_lost(text) is expected


@pytest.mark.parametrize(
    "text, intent",
    [
        ("no nie mam jak odebrać kodu", "code_not_received"),
        ("nie przyszedł kod", "code_not_received"),
        ("do tej skrzynki nie mam już dostępu", "inform"),
    ],
)
async def test_no_mailbox_where_the_address_is_asked_offers_a_consultant(
    domain, live_backend, text, intent
):
    """Nothing was sent yet and a code can only go to the account's mailbox: the visitor is
    told so and offered a consultant or a ticket; the form keeps asking for the address."""
    validator = ValidateAccountStatusForm()
    requester = fresh_requester()
    tracker = form_tracker(
        validator.form_name(), text=text, intent=intent, requested_slot="email",
        candidates={"email": text},
        metadata={"pomocnik_client": {"network": requester["network"]}},
        sender_id=requester["conversation"],
    )
    dispatcher = CollectingDispatcher()

    events = await validator.run(dispatcher, tracker, domain)

    assert events == [SlotSet("email", None), SlotSet("requested_slot", "email")]
    assert responses(dispatcher) == ["utter_verification_mailbox_needed"]


async def test_a_lost_mailbox_in_the_first_message_is_answered_before_the_address_is_asked(
    domain,
):
    events, dispatcher = await start_form(
        ValidateAccountStatusForm(), domain,
        "chcę sprawdzić pakiet, ale do starego maila nie mam już dostępu", "account_status",
    )

    assert responses(dispatcher) == ["utter_verification_mailbox_needed"]
    assert events[-1] == SlotSet("requested_slot", "email")


async def test_an_address_at_the_prompt_is_taken_even_with_a_code_intent(domain, live_backend):
    """The mailbox notice is only for a message without an address."""
    validator = ValidateAccountStatusForm()
    requester = fresh_requester()
    text = f"kod nie doszedl, moj mail {JAN}"
    tracker = form_tracker(
        validator.form_name(), text=text, intent="code_not_received", requested_slot="email",
        candidates={"email": text},
        metadata={"pomocnik_client": {"network": requester["network"]}},
        sender_id=requester["conversation"],
    )
    dispatcher = CollectingDispatcher()

    await validator.run(dispatcher, tracker, domain)

    assert responses(dispatcher) == ["utter_verification_code_sent"]
