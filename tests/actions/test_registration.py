"""Registration with a Comarch licence and the activation link (actions/registration.py).

- pure value checks (NIP checksum, PIN, ID, name) and the idempotency key;
- validate_registration_form with trackers shaped like the one Rasa's form sends;
- action_register_account / action_resend_activation against the real backend (state in the
  database, mail in the sink) and, for answers the real backend cannot be made to give, a fake.

Tests of one module share one seeded database and run in file order: Anna's account gets at most
3 activation links per hour, and failed licence checks count towards a lock.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pytest
from rasa_sdk.events import ActionExecutionRejected, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.registration import (
    FORM_SLOTS,
    ActionAskRegistrationConfirmation,
    ActionRegisterAccount,
    ActionResendActivation,
    ActionResetRegistration,
    NipCheck,
    RegistrationStatus,
    ValidateRegistrationForm,
    format_nip,
    next_registration_question,
    nip_checksum_ok,
    parse_comarch_id,
    parse_nip,
    parse_person_name,
    parse_pin,
    registration_idempotency_key,
    summary_values,
    package_answered_first,
)
from tests.actions.helpers import make_tracker, slot_event, user_event

FORM = "registration_form"
JAN_EMAIL = "jan.nowicki@biuro-nowicki.pl"
ANNA_EMAIL = "anna.nowak@biuro-nowak.pl"
FREE_LICENCE = {"comarch_id": "68577", "pin": "4821", "nip": "5260250274"}
ANNA_LICENCE = {"comarch_id": "70012", "pin": "1234", "nip": "9541238769"}
ACTIVATION_SUBJECT = "Aktywacja konta Comarch Cloud"


# --- pure checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("nip", ["5260250274", "9541238769", "1234563218"])
def test_nip_checksum_accepts_valid_numbers(nip):
    assert nip_checksum_ok(nip)


@pytest.mark.parametrize(
    "nip",
    [
        "7776665544",  # the guide's example: its weighted sum mod 11 is 10, never valid
        "5260250275",  # last digit changed
        "5260250247",  # two digits swapped
        "526025027",  # 9 digits
        "52602502744",  # 11 digits
        "526025027a",
        "",
    ],
)
def test_nip_checksum_rejects(nip):
    assert not nip_checksum_ok(nip)


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("5260250274", "5260250274"),
        ("526-025-02-74", "5260250274"),
        ("526 025 02 74", "5260250274"),
        ("954-12-38-769", "9541238769"),
        ("PL5260250274", "5260250274"),
        ("pl 526-025-02-74", "5260250274"),
        ("mój NIP to 526-025-02-74.", "5260250274"),
    ],
)
def test_parse_nip_normalises(text, digits):
    assert parse_nip(text) == NipCheck(digits=digits)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("7776665544", "checksum"),
        ("777-666-55-44", "checksum"),
        ("12345", "format"),
        ("526-025-02-7", "format"),
        ("5260250274 albo 9541238769", "format"),  # two numbers: which one?
        ("nie wiem", "format"),
        (None, "format"),
    ],
)
def test_parse_nip_explains_the_problem(text, problem):
    assert parse_nip(text) == NipCheck(problem=problem)


@pytest.mark.parametrize(
    ("text", "pin"),
    [("4821", "4821"), (" 0712 ", "0712"), ("PIN 4821", "4821"), ("mój pin to 4821", "4821"),
     ("ID 68577, PIN 4821, NIP 526-025-02-74", "4821")],
)
def test_parse_pin(text, pin):
    assert parse_pin(text) == pin


@pytest.mark.parametrize("text", ["482", "48210", "pin to 482", "abcd", "", None, "48 21", "４８２１"])
def test_parse_pin_refuses(text):
    assert parse_pin(text) is None


@pytest.mark.parametrize(
    ("text", "comarch_id"),
    [("68577", "68577"), ("ID 68577", "68577"), ("moje id comarch to 70012", "70012"),
     ("ID 68577, PIN 4821, NIP 526-025-02-74", "68577")],
)
def test_parse_comarch_id(text, comarch_id):
    assert parse_comarch_id(text) == comarch_id


@pytest.mark.parametrize("text", ["abc", "68577 i 70012", "", None, "1" * 21])
def test_parse_comarch_id_refuses(text):
    assert parse_comarch_id(text) is None


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Jan Kowalski", "Jan Kowalski"),
        ("  jan   kowalski ", "Jan Kowalski"),
        ("nazywam się Anna Nowak", "Anna Nowak"),
        ("Małgorzata Wiśniewska-Kowalczyk", "Małgorzata Wiśniewska-Kowalczyk"),
        ("to Jan Nowicki.", "Jan Nowicki"),
    ],
)
def test_parse_person_name(text, name):
    assert parse_person_name(text) == name


@pytest.mark.parametrize("text", ["Jan", "Jan K0walski", "68577", "", None, "A " * 150])
def test_parse_person_name_refuses(text):
    assert parse_person_name(text) is None


def test_format_nip():
    assert format_nip("5260250274") == "526-025-02-74"


def test_idempotency_key_leaves_the_pin_out_and_changes_per_attempt():
    body = {"email": JAN_EMAIL, **FREE_LICENCE, "full_name": "Jan Nowicki", "package": "green",
            "terms_accepted": True}

    def confirmed(sender: str, stamp: float):
        answer = user_event("tak", "affirm")
        answer["timestamp"] = stamp
        return make_tracker(events=[answer], sender_id=sender)

    key = registration_idempotency_key(confirmed("user-1", 1.0), body)

    assert key == registration_idempotency_key(confirmed("user-1", 1.0), dict(body))
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert key == registration_idempotency_key(confirmed("user-1", 1.0), {**body, "pin": "9999"})
    assert key != registration_idempotency_key(confirmed("user-1", 2.0), body)
    assert key != registration_idempotency_key(confirmed("user-2", 1.0), body)
    assert key != registration_idempotency_key(
        confirmed("user-1", 1.0), {**body, "nip": "9541238769"}
    )


def test_next_question_order():
    slots: Dict[str, Any] = {}
    # who registers first, the package last
    for slot, value in [("email", JAN_EMAIL), ("comarch_id", "68577"), ("pin", "4821"),
                        ("nip", "5260250274"), ("person_name", "Jan Nowicki"),
                        ("package", "green")]:
        assert next_registration_question(slots) == slot
        slots[slot] = value
    assert next_registration_question(slots) == "terms_accepted"
    slots["terms_accepted"] = True
    assert next_registration_question(slots) == "confirmation"
    slots["confirmation"] = False
    assert next_registration_question(slots) == "correction"
    slots["confirmation"] = True
    assert next_registration_question(slots) is None


def test_summary_masks_the_pin():
    values = summary_values({"package": "gold", "email": JAN_EMAIL, "pin": "4821",
                             "nip": "5260250274", "comarch_id": "68577",
                             "person_name": "Jan Nowicki"})
    assert values == {
        "summary_package": "złoty",
        "summary_email": JAN_EMAIL,
        "summary_comarch_id": "68577",
        "summary_nip": "526-025-02-74",
        "summary_person_name": "Jan Nowicki",
    }
    assert "4821" not in str(values)


# --- the form validator -----------------------------------------------------------------------

FILLED = {"package": "green", "email": JAN_EMAIL, "comarch_id": "68577", "pin": "4821",
          "nip": "5260250274", "person_name": "Jan Nowicki", "terms_accepted": True}


def entity(text: str, name: str, value: str, value_text: Optional[str] = None) -> Dict[str, Any]:
    """An entity as the entity extractor reports it (with its position, used for the bare-value check)."""
    shown = value_text or value
    start = text.index(shown)
    return {"entity": name, "value": value, "start": start, "end": start + len(shown)}


def form_turn(
    text: str,
    extracted: Sequence[Tuple[str, Any]],
    *,
    requested: Optional[str],
    before: Optional[Dict[str, Any]] = None,
    intent: str = "inform",
    entities: Optional[List[Dict[str, Any]]] = None,
):
    """The tracker Rasa sends to validate_registration_form: earlier values, the user message,
    the slots the mappings extracted from it (the validation candidates at the end)."""
    before = dict(before or {})
    prior = [slot_event(name, value) for name, value in before.items()]
    candidates = [slot_event(name, value) for name, value in extracted]
    events = [
        {"event": "action", "name": FORM},
        {"event": "active_loop", "name": FORM},
        *prior,
        slot_event("requested_slot", requested),
        {"event": "action", "name": "action_listen"},
        user_event(text, intent, entities),
        *candidates,
        # what FormAction._temporary_tracker appends before calling the validation action
        slot_event("requested_slot", requested),
        {"event": "action", "name": FORM},
        *candidates,
    ]
    slots = {name: None for name in FORM_SLOTS}
    slots.update(before)
    slots.update(dict(extracted))
    slots["requested_slot"] = requested
    return make_tracker(slots=slots, events=events, active_loop=FORM)


async def validate(tracker, domain) -> Tuple[List[Dict[str, Any]], List[str]]:
    dispatcher = CollectingDispatcher()
    events = await ValidateRegistrationForm().run(dispatcher, tracker, domain)
    return events, [message["response"] for message in dispatcher.messages]


async def test_guide_nip_is_explained_and_asked_again(domain):
    tracker = form_turn("7776665544", [("nip", "7776665544")], requested="nip",
                        before={k: FILLED[k] for k in ("package", "email", "comarch_id", "pin")},
                        entities=[entity("7776665544", "nip", "7776665544")])

    events, responses = await validate(tracker, domain)

    assert events == [SlotSet("nip", None), SlotSet("requested_slot", "nip")]
    assert responses == ["utter_registration_invalid_nip_checksum"]


async def test_nip_in_a_sentence_is_normalised(domain):
    text = "mój NIP to 526-025-02-74"
    tracker = form_turn(text, [("nip", "526-025-02-74")], requested="nip",
                        before={k: FILLED[k] for k in ("package", "email", "comarch_id", "pin")},
                        entities=[entity(text, "nip", "526-025-02-74")])

    events, responses = await validate(tracker, domain)

    assert events == [SlotSet("nip", "5260250274"), SlotSet("requested_slot", "person_name")]
    assert responses == []


@pytest.mark.parametrize("text", ["482", "pin to 48210"])
async def test_pin_of_wrong_length(domain, text):
    tracker = form_turn(text, [("pin", text)], requested="pin",
                        before={k: FILLED[k] for k in ("package", "email", "comarch_id")})

    events, responses = await validate(tracker, domain)

    assert events == [SlotSet("pin", None), SlotSet("requested_slot", "pin")]
    assert responses == ["utter_registration_invalid_pin"]


async def test_invalid_email_is_asked_again(domain):
    tracker = form_turn("jan.nowicki.biuro.pl", [("email", "jan.nowicki.biuro.pl")],
                        requested="email", before={"package": "green"})

    events, responses = await validate(tracker, domain)

    assert events == [SlotSet("email", None), SlotSet("requested_slot", "email")]
    assert responses == ["utter_invalid_email"]


async def test_several_values_at_once(domain):
    text = "ID 68577, PIN 4821, NIP 526-025-02-74, Jan Nowicki"
    entities = [entity(text, "comarch_id", "68577"), entity(text, "pin", "4821"),
                entity(text, "nip", "526-025-02-74"), entity(text, "person_name", "Jan Nowicki")]
    extracted = [("comarch_id", "68577"), ("pin", "4821"), ("nip", "526-025-02-74"),
                 ("person_name", "Jan Nowicki")]
    tracker = form_turn(text, extracted, requested="comarch_id",
                        before={"package": "silver", "email": JAN_EMAIL}, entities=entities)

    events, responses = await validate(tracker, domain)

    assert set(map(_key, events)) == {
        ("comarch_id", "68577"), ("pin", "4821"), ("nip", "5260250274"),
        ("person_name", "Jan Nowicki"), ("requested_slot", "terms_accepted"),
    }
    # more than the ID asked for: the form says what it took
    assert responses == ["utter_registration_values_taken"]


async def test_bare_value_answers_the_question_asked(domain):
    # The ID is asked for; "4821" is also read as a PIN entity - it must not overwrite the PIN.
    tracker = form_turn("4821", [("pin", "4821"), ("comarch_id", "4821")], requested="comarch_id",
                        before={"package": "green", "email": JAN_EMAIL, "pin": "1357"},
                        entities=[entity("4821", "pin", "4821")])

    events, responses = await validate(tracker, domain)

    assert set(map(_key, events)) == {
        ("pin", "1357"), ("comarch_id", "4821"), ("requested_slot", "nip"),
    }
    assert responses == []


async def test_terms_refused_are_explained_and_asked_again(domain):
    tracker = form_turn("nie", [("terms_accepted", False)], requested="terms_accepted",
                        before={k: v for k, v in FILLED.items() if k != "terms_accepted"},
                        intent="deny")

    events, responses = await validate(tracker, domain)

    assert events == [SlotSet("terms_accepted", None), SlotSet("requested_slot", "terms_accepted")]
    assert responses == ["utter_registration_terms_required"]


async def test_summary_denied_asks_what_to_correct(domain):
    tracker = form_turn("/deny", [("confirmation", False)], requested="confirmation",
                        before=FILLED, intent="deny")

    events, _ = await validate(tracker, domain)

    assert events == [SlotSet("confirmation", False), SlotSet("requested_slot", "correction")]


async def test_correction_button_clears_the_value(domain):
    tracker = form_turn('/inform{"correction":"nip"}', [("correction", "nip")],
                        requested="correction", before={**FILLED, "confirmation": False})

    events, _ = await validate(tracker, domain)

    assert events == [
        SlotSet("correction", None),
        SlotSet("nip", None),
        SlotSet("confirmation", None),
        SlotSet("requested_slot", "nip"),
    ]


async def test_new_value_typed_after_popraw_dane_shows_the_summary_again(domain):
    text = "PIN 4812"
    tracker = form_turn(text, [("pin", "4812")], requested="correction",
                        before={**FILLED, "confirmation": False},
                        entities=[entity(text, "pin", "4812")])

    events, _ = await validate(tracker, domain)

    summary = events[-1]
    assert events == [
        SlotSet("pin", "4812"),
        SlotSet("confirmation", None),
        SlotSet("requested_slot", "confirmation"),
        # what the new summary shows, for the "tak" to bind to (actions/confirmation.py)
        SlotSet("confirmation_summary", summary["value"]),
    ]
    assert re.fullmatch(r"[0-9a-f]{64}", summary["value"])


async def test_stale_confirmation_never_skips_the_summary(domain):
    # The form is activated with `confirmation` left from another form.
    tracker = form_turn("chcę się zarejestrować", [("confirmation", True)], requested=None,
                        intent="register_account")

    events, _ = await validate(tracker, domain)

    assert events == [SlotSet("confirmation", None), SlotSet("requested_slot", "email")]


async def test_question_mid_form_is_left_to_the_rules(domain):
    # "czym różni się złoty od srebrnego?" while the e-mail is asked: the package mapping took
    # "srebrny"; the form undoes it and steps aside so the packages answer comes first.
    text = "czym różni się złoty od srebrnego?"
    tracker = form_turn(text, [("package", "silver")], requested="email",
                        before={"package": "green"}, intent="packages_info",
                        entities=[entity(text, "package", "silver", "srebrnego")])

    events, responses = await validate(tracker, domain)

    assert events == [SlotSet("package", "green"), ActionExecutionRejected(FORM)]
    assert responses == []


async def test_forgotten_pin_is_not_taken_as_the_pin(domain):
    text = "nie pamiętam PIN-u"
    tracker = form_turn(text, [("pin", text)], requested="pin",
                        before={k: FILLED[k] for k in ("package", "email", "comarch_id")},
                        intent="forgot_comarch_id")

    events, _ = await validate(tracker, domain)

    assert events == [SlotSet("pin", None), ActionExecutionRejected(FORM)]


async def test_summary_action_shows_values_without_the_pin(domain):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={**FILLED, "requested_slot": "confirmation"})

    events = await ActionAskRegistrationConfirmation().run(dispatcher, tracker, domain)

    assert events == []
    [message] = dispatcher.messages
    assert message["response"] == "utter_registration_summary"
    assert message["summary_nip"] == "526-025-02-74"
    assert "4821" not in str(message)


async def test_reset_forgets_every_value(domain):
    events = await ActionResetRegistration().run(
        CollectingDispatcher(), make_tracker(slots=FILLED), domain
    )
    assert events == [SlotSet(slot, None) for slot in FORM_SLOTS]
    assert SlotSet("pin", None) in events


def _key(event: Dict[str, Any]) -> Tuple[str, Any]:
    return event["name"], event["value"]


# --- sending the registration: the real backend -----------------------------------------------


def confirmed_tracker(
    email: str, licence: Dict[str, str], *, package: str = "green", name: str = "Jan Nowicki",
    sender_id: str = "reg-user",
):
    """The tracker when action_register_account runs after the user confirmed the summary."""
    slots = {"package": package, "email": email, "person_name": name, "terms_accepted": True,
             "confirmation": True, **licence}
    events = [
        {"event": "action", "name": "action_listen"},
        {**user_event("tak, wyślij", "affirm"), "timestamp": 1767000000.0},
        {"event": "action", "name": FORM},
        slot_event("confirmation", True),
        slot_event("requested_slot", None),
        {"event": "active_loop", "name": None},
    ]
    return make_tracker(slots=slots, events=events, latest_action_name=FORM, sender_id=sender_id)


async def register(tracker, domain):
    dispatcher = CollectingDispatcher()
    events = await ActionRegisterAccount().run(dispatcher, tracker, domain)
    assert dispatcher.messages == []  # the rules answer (data/rules/registration.yml)
    return events


def cleared_form() -> List[Dict[str, Any]]:
    return [SlotSet(slot, None) for slot in FORM_SLOTS]


def wait_for_mail(backend, address: str, count: int = 1, timeout: float = 15.0) -> List[Dict]:
    deadline = time.monotonic() + timeout
    while True:
        mails = backend.mails_to(address)
        if len(mails) >= count or time.monotonic() > deadline:
            return mails
        time.sleep(0.2)


def outbox_to(backend, address: str) -> List[tuple]:
    return backend.query("SELECT subject FROM outbox_messages WHERE to_address = ?", address)


async def test_wrong_pin_is_a_mismatch_and_creates_nothing(live_backend, domain, caplog):
    caplog.set_level(logging.DEBUG)
    tracker = confirmed_tracker(JAN_EMAIL, {**FREE_LICENCE, "pin": "9731"}, sender_id="mismatch")

    events = await register(tracker, domain)

    assert events == [
        SlotSet("registration_status", RegistrationStatus.LICENCE_MISMATCH),
        SlotSet("comarch_id", None),
        SlotSet("pin", None),
        SlotSet("nip", None),
        SlotSet("confirmation", None),
        SlotSet("correction", None),
    ]
    assert live_backend.query("SELECT id FROM accounts WHERE email = ?", JAN_EMAIL) == []
    assert live_backend.query(
        "SELECT organisation_id FROM comarch_licences WHERE comarch_id = '68577'"
    ) == [(None,)]
    assert outbox_to(live_backend, JAN_EMAIL) == []
    # The PIN never reaches the logs (the backend's URL holds a random port: leave it out).
    logs = caplog.text.replace(live_backend.url, "<backend>")
    assert "9731" not in logs
    assert "registration" in logs


async def test_free_licence_creates_the_account_and_sends_the_activation_mail(
    live_backend, domain, caplog
):
    caplog.set_level(logging.DEBUG)
    tracker = confirmed_tracker(JAN_EMAIL, FREE_LICENCE, sender_id="created")

    events = await register(tracker, domain)

    status, shown, rest = events[0], events[1:5], events[5:]
    assert status == SlotSet("registration_status", RegistrationStatus.ACCOUNT_CREATED)
    assert shown[0] == SlotSet("activation_email", JAN_EMAIL)
    assert shown[1] == SlotSet("registration_package_name", "zielony")
    assert shown[2]["name"] == "registration_valid_until" and shown[2]["value"]
    assert shown[3]["name"] == "registration_trial_until" and shown[3]["value"]
    assert rest == cleared_form()

    [(account_id, state, name)] = live_backend.query(
        "SELECT id, state, name FROM accounts WHERE email = ?", JAN_EMAIL
    )
    assert (state, name) == ("pending_activation", "Jan Nowicki")
    [(organisation_id,)] = live_backend.query(
        "SELECT organisation_id FROM comarch_licences WHERE comarch_id = '68577'"
    )
    assert organisation_id is not None
    assert live_backend.query(
        "SELECT package_code FROM subscriptions WHERE organisation_id = ?", organisation_id
    ) == [("green",)]
    assert live_backend.query(
        "SELECT role FROM memberships WHERE account_id = ?", account_id
    ) == [("owner",)]
    [mail] = wait_for_mail(live_backend, JAN_EMAIL)
    assert mail["subject"] == ACTIVATION_SUBJECT
    assert "4821" not in caplog.text.replace(live_backend.url, "<backend>")


async def test_retried_action_does_not_register_twice(live_backend, domain):
    # The same run of the action again (same conversation, same confirming message): the key is
    # the same, the backend replays its first answer and creates nothing.
    tracker = confirmed_tracker(JAN_EMAIL, FREE_LICENCE, sender_id="created")

    events = await register(tracker, domain)

    assert events[0] == SlotSet("registration_status", RegistrationStatus.ACCOUNT_CREATED)
    assert live_backend.query("SELECT COUNT(*) FROM accounts WHERE email = ?", JAN_EMAIL) == [(1,)]
    assert len(outbox_to(live_backend, JAN_EMAIL)) == 1


async def test_new_confirmation_with_the_registered_licence(live_backend, domain):
    # Another confirmation (another conversation): the licence has its account now.
    tracker = confirmed_tracker(JAN_EMAIL, FREE_LICENCE, sender_id="created-again")

    events = await register(tracker, domain)

    assert events[0] == SlotSet("registration_status", RegistrationStatus.EXISTING_ACCOUNT)
    assert events[1] == SlotSet("activation_email", JAN_EMAIL)
    assert live_backend.query("SELECT COUNT(*) FROM accounts WHERE email = ?", JAN_EMAIL) == [(1,)]


async def test_existing_account_keeps_its_package_and_validity(live_backend, domain):
    tracker = confirmed_tracker(ANNA_EMAIL, ANNA_LICENCE, package="gold", name="Anna Nowak",
                                sender_id="anna")

    events = await register(tracker, domain)

    assert events[:3] == [
        SlotSet("registration_status", RegistrationStatus.EXISTING_ACCOUNT),
        SlotSet("activation_email", ANNA_EMAIL),
        SlotSet("registration_package_name", "srebrny"),
    ]
    assert events[3] == SlotSet("registration_valid_until", "30.06.2027")
    assert events[5:] == cleared_form()
    assert live_backend.query(
        "SELECT s.package_code, s.valid_until FROM subscriptions s "
        "JOIN comarch_licences l ON l.organisation_id = s.organisation_id "
        "WHERE l.comarch_id = '70012'"
    ) == [("silver", "2027-06-30")]
    [mail] = wait_for_mail(live_backend, ANNA_EMAIL)
    assert mail["subject"] == ACTIVATION_SUBJECT


async def test_existing_account_link_goes_to_the_accounts_own_address(live_backend, domain):
    other = "ktos.inny@example.com"
    tracker = confirmed_tracker(other, ANNA_LICENCE, name="Anna Nowak", sender_id="anna-other")

    events = await register(tracker, domain)

    assert events[0] == SlotSet("registration_status", RegistrationStatus.EXISTING_ACCOUNT)
    assert events[1] == SlotSet("activation_email", "a***@biuro-nowak.pl")
    assert wait_for_mail(live_backend, ANNA_EMAIL)[0]["subject"] == ACTIVATION_SUBJECT
    assert outbox_to(live_backend, other) == []


async def test_resend_to_an_account_waiting_for_activation(live_backend, domain):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={"email": " Anna.Nowak@Biuro-Nowak.pl "})

    events = await ActionResendActivation().run(dispatcher, tracker, domain)

    assert events == [
        SlotSet("activation_resend_status", "sent"),
        SlotSet("email", None),
        SlotSet("activation_email", ANNA_EMAIL),
    ]
    assert dispatcher.messages == []
    [mail] = wait_for_mail(live_backend, ANNA_EMAIL)
    assert mail["subject"] == ACTIVATION_SUBJECT


def resend_tracker(email: str, sender_id: str, network: str):
    """action_resend_activation after the form, the latest message carrying the gateway's
    client metadata."""
    user = user_event(email, "inform")
    user["parse_data"]["metadata"] = {"pomocnik_client": {"network": network}}
    return make_tracker(slots={"email": email}, events=[user], sender_id=sender_id)


async def test_resend_over_the_limit_is_refused_and_sends_nothing(live_backend, domain):
    """The backend limits resends per requester (this conversation and network): once it
    refuses, the status says so and no link is queued."""
    statuses = []
    for _ in range(10):
        before = len(outbox_to(live_backend, ANNA_EMAIL))
        events = await ActionResendActivation().run(
            CollectingDispatcher(), resend_tracker(ANNA_EMAIL, "resend-limit", "198.51.100.0/24"),
            domain,
        )
        statuses.append(events[0]["value"])
        if statuses[-1] != "sent":
            break

    assert statuses[-1] == "rate_limited" and "sent" in statuses
    assert events[1] == SlotSet("email", None)
    assert len(outbox_to(live_backend, ANNA_EMAIL)) == before  # the refused one queued nothing


async def test_existing_account_over_the_link_limit(live_backend, domain):
    """Registrations of an existing account from ever new conversations: once the account's
    mailbox cap is reached, no link is sent and the status says so."""
    for attempt in range(15):
        tracker = confirmed_tracker(
            ANNA_EMAIL, ANNA_LICENCE, name="Anna Nowak", sender_id=f"anna-{attempt}"
        )
        events = await register(tracker, domain)
        if events[0]["value"] != RegistrationStatus.EXISTING_ACCOUNT:
            break

    assert events[0] == SlotSet(
        "registration_status", RegistrationStatus.EXISTING_ACCOUNT_LINK_LIMIT
    )


async def test_resend_to_an_unknown_address_sends_nothing(live_backend, domain):
    unknown = "nikt@nieznany-adres.pl"

    events = await ActionResendActivation().run(
        CollectingDispatcher(), make_tracker(slots={"email": unknown}), domain
    )

    assert events == [
        SlotSet("activation_resend_status", "sent"),
        SlotSet("email", None),
        SlotSet("activation_email", unknown),
    ]
    assert outbox_to(live_backend, unknown) == []


async def test_fifth_failure_locks_the_id(live_backend, domain):
    licence = {"comarch_id": "99991", "pin": "1111", "nip": "5260250274"}
    statuses = []
    for attempt in range(6):
        tracker = confirmed_tracker(JAN_EMAIL, licence, sender_id=f"lock-{attempt}")
        statuses.append((await register(tracker, domain))[0]["value"])

    assert statuses == ["licence_mismatch"] * 5 + ["licence_locked"]
    events = await register(confirmed_tracker(JAN_EMAIL, licence, sender_id="lock-6"), domain)
    assert events == [SlotSet("registration_status", "licence_locked")] + [
        SlotSet(slot, None)
        for slot in ("activation_email", "registration_package_name",
                     "registration_valid_until", "registration_trial_until")
    ] + cleared_form()


# --- answers the real backend cannot be made to give ----------------------------------------


async def test_backend_down_is_unavailable(closed_port_url, use_backend, domain):
    use_backend(closed_port_url)

    events = await register(confirmed_tracker(JAN_EMAIL, FREE_LICENCE), domain)

    assert events[0] == SlotSet("registration_status", RegistrationStatus.UNAVAILABLE)
    assert events[5:] == cleared_form()


async def test_refused_field_is_asked_again(fake_backend, use_backend, domain):
    use_backend(fake_backend.url)
    fake_backend.reply(422, {"error": {"code": "validation_error", "message": "Błąd.", "details": [
        {"field": "full_name", "code": "value_error", "message": "Podaj imię i nazwisko."}]}})

    events = await register(confirmed_tracker(JAN_EMAIL, FREE_LICENCE), domain)

    assert events == [
        SlotSet("registration_status", RegistrationStatus.INVALID_DATA),
        SlotSet("person_name", None),
        SlotSet("pin", None),
        SlotSet("confirmation", None),
        SlotSet("correction", None),
    ]
    [request] = fake_backend.requests
    assert request.path == "/api/v1/registrations"
    assert request.json == {"email": JAN_EMAIL, **FREE_LICENCE, "full_name": "Jan Nowicki",
                            "package": "green", "terms_accepted": True,
                            "requester": {"conversation": "reg-user"}}


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, "licence_checks_suspended", RegistrationStatus.CHECKS_SUSPENDED),
        (409, "licence_account_unavailable", RegistrationStatus.ACCOUNT_UNAVAILABLE),
        (403, "forbidden", RegistrationStatus.FAILED),
    ],
)
async def test_other_refusals(fake_backend, use_backend, domain, status, code, expected):
    use_backend(fake_backend.url)
    fake_backend.reply_error(status, code, "Błąd.")

    events = await register(confirmed_tracker(JAN_EMAIL, FREE_LICENCE), domain)

    assert events[0] == SlotSet("registration_status", expected)
    assert events[5:] == cleared_form()


async def test_trial_package_answer(fake_backend, use_backend, domain):
    use_backend(fake_backend.url)
    fake_backend.reply(201, {
        "status": "account_created", "message": "…",
        "activation_email": {"queued": True, "to": JAN_EMAIL, "to_given_address": True},
        "package": {"code": "gold", "name": "złoty"}, "valid_until": "2027-02-19",
        "trial_until": "2027-02-19", "after_trial_package": "green",
    })

    events = await register(confirmed_tracker(JAN_EMAIL, FREE_LICENCE, package="gold"), domain)

    assert events[:5] == [
        SlotSet("registration_status", RegistrationStatus.ACCOUNT_CREATED_TRIAL),
        SlotSet("activation_email", JAN_EMAIL),
        SlotSet("registration_package_name", "złoty"),
        SlotSet("registration_valid_until", "19.02.2027"),
        SlotSet("registration_trial_until", "19.02.2027"),
    ]


async def test_unconfirmed_registration_is_never_sent(fake_backend, use_backend, domain):
    use_backend(fake_backend.url)
    tracker = confirmed_tracker(JAN_EMAIL, FREE_LICENCE)
    tracker.slots["confirmation"] = None

    events = await register(tracker, domain)

    assert events[0] == SlotSet("registration_status", RegistrationStatus.INVALID_DATA)
    assert fake_backend.requests == []


# --- the domain agrees with the actions ----------------------------------------------------------


def _values(cls: type) -> set:
    return {value for name, value in vars(cls).items() if not name.startswith("_")}


def test_status_values_match_the_categorical_slots(domain):
    from actions.registration import ActivationResendStatus

    slots = domain["slots"]
    assert _values(RegistrationStatus) == set(slots["registration_status"]["values"])
    assert _values(ActivationResendStatus) == set(slots["activation_resend_status"]["values"])


def test_actions_and_responses_exist_in_the_domain(domain):
    import actions.registration as module

    names = {
        cls().name()
        for cls in (ValidateRegistrationForm, ActionAskRegistrationConfirmation,
                    ActionRegisterAccount, ActionResetRegistration, ActionResendActivation,
                    module.ValidateResendActivationForm)
    }
    assert names <= set(domain["actions"])
    used = {value for name, value in vars(module).items() if name.startswith("UTTER_")}
    assert used <= set(domain["responses"])
    assert domain["forms"]["registration_form"]["required_slots"] == list(FORM_SLOTS)
    assert "{pin}" not in str(domain["responses"])


# --- values from any message, corrections, "nie wiem", whole names -----------------------------


async def validate_messages(tracker, domain) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await ValidateRegistrationForm().run(dispatcher, tracker, domain)
    return events, dispatcher.messages


def rendered(message: Dict[str, Any], domain: Dict[str, Any]) -> str:
    """The text a response becomes (Rasa's interpolation of its variables)."""
    template = domain["responses"][message["response"]][0]["text"]
    return re.sub(r"\{(\w+)\}", lambda m: str(message.get(m.group(1), "")), template)


async def test_values_in_the_message_that_starts_the_form_are_taken(domain):
    # The NLU tagged nothing: the labelled ID and PIN are read from the text.
    text = "witam, chcę się zarejestrować w iksiegowosc24, mam ID 68577 PIN 4821"
    tracker = form_turn(text, [], requested=None, intent="register_account")

    events, messages = await validate_messages(tracker, domain)

    assert events == [
        SlotSet("comarch_id", "68577"),
        SlotSet("pin", "4821"),
        SlotSet("requested_slot", "email"),
    ]
    [message] = messages
    assert message["response"] == "utter_registration_values_taken"
    assert rendered(message, domain) == "Zapisałem: ID Comarch 68577, PIN (nie pokażę go)."
    assert "4821" not in str(message)


async def test_every_value_of_a_long_first_message_is_taken(domain):
    text = ("Dzień dobry, chcę założyć konto: jan.nowicki@biuro-nowicki.pl, ID 68577, PIN 4821, "
            "NIP 526-025-02-74, Jan Nowicki, pakiet srebrny")
    entities = [entity(text, "person_name", "Jan Nowicki"),
                entity(text, "package", "silver", "srebrny")]
    tracker = form_turn(text, [("package", "silver"), ("person_name", "Jan Nowicki")],
                        requested=None, intent="register_account", entities=entities)

    events, messages = await validate_messages(tracker, domain)

    assert set(map(_key, events)) == {
        ("package", "silver"), ("person_name", "Jan Nowicki"), ("email", JAN_EMAIL),
        ("nip", "5260250274"), ("comarch_id", "68577"), ("pin", "4821"),
        ("requested_slot", "terms_accepted"),
    }
    [message] = messages
    assert rendered(message, domain) == (
        "Zapisałem: e-mail jan.nowicki@biuro-nowicki.pl, ID Comarch 68577, "
        "NIP 526-025-02-74, imię i nazwisko Jan Nowicki, pakiet srebrny, PIN (nie pokażę go)."
    )


async def test_start_without_values_takes_nothing_and_says_nothing(domain):
    tracker = form_turn("chcę się zarejestrować w 2026", [], requested=None,
                        intent="register_account")

    events, messages = await validate_messages(tracker, domain)

    assert events == [SlotSet("requested_slot", "email")]
    assert messages == []


async def test_pin_given_while_the_id_is_asked_is_kept_and_the_id_asked_again(domain):
    # "a PIN to 4821": the ID question's whole-text mapping must not read 4821 as the ID.
    text = "a PIN to 4821"
    tracker = form_turn(text, [("pin", "4821"), ("comarch_id", text)], requested="comarch_id",
                        before={"package": "green", "email": JAN_EMAIL},
                        entities=[entity(text, "pin", "4821")])

    events, messages = await validate_messages(tracker, domain)

    assert set(map(_key, events)) == {
        ("pin", "4821"), ("comarch_id", None), ("requested_slot", "comarch_id"),
    }
    assert [rendered(m, domain) for m in messages] == ["Zapisałem: PIN (nie pokażę go)."]


async def test_id_read_as_a_pin_while_another_value_is_asked_is_not_an_error(domain):
    # The extractor may tag "68577" of "ID 68577" as a PIN as well; the ID is taken, no PIN complaint.
    text = "moje ID 68577"
    tracker = form_turn(text, [("pin", "68577"), ("comarch_id", "68577")],
                        requested="comarch_id", before={"package": "green", "email": JAN_EMAIL},
                        entities=[entity(text, "pin", "68577")])

    events, messages = await validate_messages(tracker, domain)

    assert set(map(_key, events)) == {
        ("pin", None), ("comarch_id", "68577"), ("requested_slot", "pin"),
    }
    assert messages == []


@pytest.mark.parametrize(
    "text, extracted, slot, value",
    [
        ("popraw e-mail na anna.nowak@biuro-nowak.pl",
         [("email", ANNA_EMAIL), ("correction", "email")], "email", ANNA_EMAIL),
        # nothing tagged: the labelled NIP is read from the text
        ("zły NIP, poprawny 954-123-87-69", [], "nip", "9541238769"),
        ("jednak złoty", [("package", "gold")], "package", "gold"),
    ],
)
async def test_correction_at_the_summary_changes_the_value_and_shows_it_again(
    domain, text, extracted, slot, value
):
    tracker = form_turn(text, extracted, requested="confirmation", before=FILLED)

    events, messages = await validate_messages(tracker, domain)

    assert (slot, value) in set(map(_key, events))
    assert ("requested_slot", "confirmation") in set(map(_key, events))
    # a new fingerprint: the summary with the new value is what a later "tak" approves
    assert any(e.get("name") == "confirmation_summary" for e in events)
    assert messages == []


async def test_name_correction_keeps_the_whole_name(domain):
    # The NLU tagged only the first name of "ma być Tomasz Wrona".
    text = "ma być Tomasz Wrona"
    tracker = form_turn(text, [("person_name", "Tomasz")], requested="confirmation",
                        before=FILLED, entities=[entity(text, "person_name", "Tomasz")])

    events, _ = await validate_messages(tracker, domain)

    assert ("person_name", "Tomasz Wrona") in set(map(_key, events))
    assert ("requested_slot", "confirmation") in set(map(_key, events))


@pytest.mark.parametrize(
    "text, tagged, name",
    [
        ("Anna Maria Kowalczyk-Nowak", "Kowalczyk-Nowak", "Anna Maria Kowalczyk-Nowak"),
        ("Łukasz Żółć", "Łukasz", "Łukasz Żółć"),
        ("nazywam się Ewa Lis", "Ewa", "Ewa Lis"),
        ("jestem tomasz wrona", "tomasz", "Tomasz Wrona"),
        # the licence holder named in the genitive is kept in the nominative
        ("Licencja jest na właściciela, pana Jana Nowickiego.", "Jana", "Jan Nowicki"),
    ],
)
async def test_whole_names_are_kept(domain, text, tagged, name):
    tracker = form_turn(text, [("person_name", tagged)], requested="person_name",
                        before={k: FILLED[k] for k in ("package", "email", "comarch_id", "pin",
                                                       "nip")},
                        entities=[entity(text, "person_name", tagged)])

    events, messages = await validate_messages(tracker, domain)

    assert events == [SlotSet("person_name", name), SlotSet("requested_slot", "terms_accepted")]
    assert messages == []


@pytest.mark.parametrize(
    "text, name",
    [
        ("Licencja jest na właściciela, pana Jana Nowickiego.", "Jan Nowicki"),
        ("na kogo jest licencja? chyba na szefa, Jan Nowicki", "Jan Nowicki"),
        ("To będzie Pani Anna Maria Kowalczyk-Nowak", "Anna Maria Kowalczyk-Nowak"),
    ],
)
async def test_a_name_in_a_sentence_nothing_tagged_is_found(domain, text, name):
    """The answer to the name question, with no name tagged by the NLU: the whole message is
    the slot's value (from_text), and the name words are taken out of it."""
    tracker = form_turn(text, [("person_name", text)], requested="person_name",
                        before={k: FILLED[k] for k in ("package", "email", "comarch_id", "pin",
                                                       "nip")})

    events, messages = await validate_messages(tracker, domain)

    assert events == [SlotSet("person_name", name), SlotSet("requested_slot", "terms_accepted")]
    assert messages == []


async def test_a_sentence_without_a_name_is_no_name(domain):
    text = "Dziękuję, sprawdzę pocztę."
    tracker = form_turn(text, [("person_name", text)], requested="person_name",
                        before={k: FILLED[k] for k in ("package", "email", "comarch_id", "pin",
                                                       "nip")})

    events, messages = await validate_messages(tracker, domain)

    assert events == [SlotSet("person_name", None), SlotSet("requested_slot", "person_name")]
    assert [m["response"] for m in messages] == ["utter_registration_invalid_person_name"]


@pytest.mark.parametrize(
    "requested, text, intent, extracted, response",
    [
        ("package", "nie wiem, nie umiem się zdecydować", "dont_know", [],
         "utter_registration_packages_hint"),
        ("package", "nie", "deny", [], "utter_registration_packages_hint"),
        ("comarch_id", "gdzie to znajdę?", "dont_know", [("comarch_id", "gdzie to znajdę?")],
         "utter_forgot_comarch_id"),
        ("pin", "nie wiem", "dont_know", [("pin", "nie wiem")], "utter_forgot_comarch_id"),
        ("nip", "nie mam pojęcia", "dont_know", [("nip", "nie mam pojęcia")],
         "utter_registration_nip_help"),
        ("person_name", "nie wiem", "dont_know", [("person_name", "nie wiem")],
         "utter_registration_value_needed"),
    ],
)
async def test_dont_know_explains_and_keeps_the_form(
    domain, requested, text, intent, extracted, response
):
    order = ("package", "email", "comarch_id", "pin", "nip", "person_name")
    before = {k: FILLED[k] for k in order[: order.index(requested)]}
    tracker = form_turn(text, extracted, requested=requested, before=before, intent=intent)

    events, messages = await validate_messages(tracker, domain)

    assert events == [SlotSet(requested, None), SlotSet("requested_slot", requested)]
    assert [m["response"] for m in messages] == [response]


async def test_dont_know_with_the_value_after_all_takes_it(domain):
    text = "nie wiem, chyba srebrny"
    tracker = form_turn(text, [("package", "silver")], requested="package", intent="dont_know",
                        entities=[entity(text, "package", "silver", "srebrny")])

    events, messages = await validate_messages(tracker, domain)

    assert events == [SlotSet("package", "silver"), SlotSet("requested_slot", "email")]
    assert messages == []


async def test_a_yes_at_a_value_asks_again(domain):
    tracker = form_turn("tak", [("comarch_id", "tak")], requested="comarch_id",
                        before={"package": "green", "email": JAN_EMAIL}, intent="affirm")

    events, messages = await validate_messages(tracker, domain)

    assert events == [SlotSet("comarch_id", None), SlotSet("requested_slot", "comarch_id")]
    assert messages == []


async def test_going_on_is_left_to_the_rules(domain):
    # "nie no, chcę dalej" at the ID: not read as an ID; the rules answer, the form asks again.
    text = "nie no, chcę dalej"
    tracker = form_turn(text, [("comarch_id", text)], requested="comarch_id",
                        before={"package": "green", "email": JAN_EMAIL}, intent="resume")

    events, messages = await validate_messages(tracker, domain)

    assert events == [SlotSet("comarch_id", None), ActionExecutionRejected(FORM)]
    assert messages == []


async def test_bare_nip_typed_at_the_id_question_is_not_taken_as_the_nip_too(domain):
    # Nothing tagged: the NIP-shaped number is the answer to the ID question (read as an ID and
    # refused or taken by the ID's own rules), never silently stored as the NIP as well.
    tracker = form_turn("5260250274", [("comarch_id", "5260250274")], requested="comarch_id",
                        before={"package": "green", "email": JAN_EMAIL})

    events, messages = await validate_messages(tracker, domain)

    assert ("nip", "5260250274") not in set(map(_key, events))
    assert messages == []


async def test_a_package_answered_first_with_a_price_check_is_taken(domain):
    # "srebrny, 299 zł rocznie tak?" while the package is asked: an answer, then a question that
    # only checks the price - the package is taken, not left to the packages answer.
    text = "srebrny, 299 zł rocznie tak?"
    tracker = form_turn(text, [], requested="package", before={}, intent="packages_info",
                        entities=[entity(text, "package", "silver", "srebrny")])

    events, _ = await validate(tracker, domain)

    assert SlotSet("package", "silver") in events
    assert not any(isinstance(event, dict) and event.get("event") == "action_execution_rejected"
                   for event in events)


@pytest.mark.parametrize("text", ["a złoty?", "ile kosztuje srebrny, rocznie?", "srebrny?"])
def test_a_question_about_a_package_is_not_an_answer(text):
    assert package_answered_first(text) is None


async def test_a_rejected_pin_is_replaced_by_the_one_meant(domain):
    # the pin mapping took the number the message rejects
    text = "sorry pomylilem sie, pin to 4821 a nie 4812"
    tracker = form_turn(text, [("pin", "4812")], requested="nip",
                        before={k: FILLED[k] for k in ("package", "email", "comarch_id")},
                        entities=[entity(text, "pin", "4812", "4812")])

    events, _ = await validate(tracker, domain)

    assert SlotSet("pin", "4821") in events
    assert SlotSet("pin", "4812") not in events
