"""A "tak" approves exactly what the last summary showed (actions/confirmation.py), for every
confirmed operation, against the real backend: package change, add a user, change a role, remove
a user, change a login e-mail, device removal, registration.

Each journey: the summary is asked (its fingerprint recorded); the user answers "tak" together
with a new value -> the confirmation is cleared, a new summary shows the new value, nothing is
executed; then a plain "tak" -> executed with the new value (the backend's state checked).

The slot candidates come in the order Rasa's mappings produce them (domain slot order: the value
before `confirmation`). One backend database for the module; the tests build on each other."""

from __future__ import annotations

import re
from typing import Any, Dict, List

import pytest
from rasa_sdk.events import SlotSet

from actions.backend_client import get_backend_client
from actions.company import (
    ActionAddUser,
    ActionChangeLoginEmail,
    ActionChangeRole,
    ActionRemoveUser,
    ValidateAddUserForm,
    ValidateChangeLoginEmailForm,
    ValidateChangeRoleForm,
    ValidateRemoveUserForm,
)
from actions.confirmation import SUMMARY_SLOT, says_yes, summary_fingerprint
from actions.devices import ActionRemoveDevice, ValidateRemoveDeviceForm
from actions.packages import (
    ActionAskChangePackageFormConfirmation,
    ActionChangePackage,
    ValidateChangePackageForm,
)
from actions.registration import (
    ActionAskRegistrationConfirmation,
    ActionRegisterAccount,
    ValidateRegistrationForm,
)
from tests.actions.test_company import (
    form_turn,
    grant_for,
    member_id,
    membership,
    run,
)
from tests.actions.test_devices import (
    DEVICE_NAME,
    devices_of_jan,
    pair_device,
    slot_values,
    submitted,
    wait_for_mail,
)

JAN = "jan.kowalski@majafirma.pl"
EWA = "ewa.nowicka@majafirma.pl"
OLEK = "olek.wrona@majafirma.pl"
NEW_DEVICE = "iPhone 15 Jana"
TAK = {"confirmation": True}


@pytest.fixture(scope="module")
def grant(live_stack) -> str:
    return grant_for(live_stack, JAN)


def summary_of(events: List[Dict[str, Any]]) -> str:
    """The fingerprint the summary turn recorded (the last event)."""
    last = events[-1]
    assert last["event"] == "slot" and last["name"] == SUMMARY_SLOT
    assert re.fullmatch(r"[0-9a-f]{64}", last["value"])
    return last["value"]


def package_row(backend) -> str:
    return backend.query(
        "SELECT s.package_code FROM subscriptions s JOIN memberships m"
        " ON m.organisation_id = s.organisation_id JOIN accounts a ON a.id = m.account_id"
        " WHERE a.email = ?",
        JAN,
    )[0][0]


ACCEPTED = [SlotSet("confirmation", True), SlotSet("requested_slot", None)]


# --- package change ------------------------------------------------------------------------------


async def test_package_change_runs_only_with_the_package_shown(live_backend, grant, domain):
    form, validator = "change_package_form", ValidateChangePackageForm()
    base = {"verification_grant": grant, "verified_email": JAN}
    gold_entity = [{"entity": "package", "value": "gold"}]

    # "złoty": the form asks for the confirmation and records what it shows
    tracker = form_turn(form, base, requested="package", text="złoty", intent="inform",
                        candidates={"package": "gold"}, entities=gold_entity)
    events, _ = await run(validator, tracker, domain)
    gold = summary_of(events)
    assert events == [
        SlotSet("package", "gold"),
        SlotSet("confirmation", None),
        SlotSet("requested_slot", "confirmation"),
        SlotSet(SUMMARY_SLOT, gold),
    ]

    # "/affirm{"package":"silver"}" (or "tak, ale jednak srebrny"): not a yes to the gold summary
    shown = {**base, "package": "gold", SUMMARY_SLOT: gold}
    tracker = form_turn(form, shown, requested="confirmation", text='/affirm{"package":"silver"}',
                        intent="affirm", candidates={"package": "silver", **TAK},
                        entities=[{"entity": "package", "value": "silver"}])
    events, _ = await run(validator, tracker, domain)
    silver = summary_of(events)
    assert events == [
        SlotSet("confirmation", None),
        SlotSet("package", "silver"),
        SlotSet("confirmation", None),
        SlotSet("requested_slot", "confirmation"),  # asked again: a new summary
        SlotSet(SUMMARY_SLOT, silver),
    ]
    assert silver != gold
    assert package_row(live_backend) == "green"
    # ... and the new summary names silver
    tracker = form_turn(form, {**base, "package": "silver"}, requested="confirmation",
                        text="", intent="affirm", candidates={})
    _, messages = await run(ActionAskChangePackageFormConfirmation(), tracker, domain)
    assert [(m["response"], m["new_name"]) for m in messages] == [
        ("utter_ask_change_package_form_confirmation_upgrade", "srebrny")
    ]

    # "tak" to that summary (also when it restates the package shown): accepted
    restated = form_turn(form, {**base, "package": "silver", SUMMARY_SLOT: silver},
                         requested="confirmation", text="tak, srebrny", intent="affirm",
                         candidates={"package": "silver", **TAK})
    events, _ = await run(validator, restated, domain)
    assert events[-2:] == ACCEPTED
    tracker = form_turn(form, {**base, "package": "silver", SUMMARY_SLOT: silver},
                        requested="confirmation", text="tak", intent="affirm", candidates=TAK)
    events, _ = await run(validator, tracker, domain)
    assert events == ACCEPTED

    events, _ = await run(ActionChangePackage(), submitted(form, {
        **base, "package": "silver", "confirmation": True}))
    assert slot_values(events)["package_change_status"] == "changed"
    assert slot_values(events)["package_change_to"] == "srebrny"
    assert package_row(live_backend) == "silver"


async def test_a_yes_to_an_older_summary_is_not_taken(live_backend, grant, domain):
    """The values changed since the summary some other way (not in this message): the yes
    does not count, the summary is shown again."""
    base = {"verification_grant": grant, "verified_email": JAN}
    old = form_turn("change_package_form", base, requested="package", text="złoty",
                    intent="inform", candidates={"package": "gold"})
    gold = summary_of((await run(ValidateChangePackageForm(), old, domain))[0])

    tracker = form_turn("change_package_form", {**base, "package": "green", SUMMARY_SLOT: gold},
                        requested="confirmation", text="tak", intent="affirm", candidates=TAK)
    events, _ = await run(ValidateChangePackageForm(), tracker, domain)

    assert events[0] == SlotSet("confirmation", None)
    assert events[-2] == SlotSet("requested_slot", "confirmation")
    assert summary_of(events) != gold
    # and a yes without any summary at all neither
    tracker = form_turn("change_package_form", {**base, "package": "gold"},
                        requested="confirmation", text="tak", intent="affirm", candidates=TAK)
    events, _ = await run(ValidateChangePackageForm(), tracker, domain)
    assert events[0] == SlotSet("confirmation", None)
    assert events[-2] == SlotSet("requested_slot", "confirmation")


async def test_a_message_that_answers_nothing_leaves_the_summary_to_the_rules(grant, domain):
    """"stop" or a question at the summary: no slot event, so Rasa rejects the form and the
    rules answer (the summary is not recorded again)."""
    base = {"verification_grant": grant, "verified_email": JAN}
    first = form_turn("change_package_form", base, requested="package", text="złoty",
                      intent="inform", candidates={"package": "gold"})
    gold = summary_of((await run(ValidateChangePackageForm(), first, domain))[0])

    tracker = form_turn("change_package_form", {**base, "package": "gold", SUMMARY_SLOT: gold},
                        requested="confirmation", text="stop", intent="stop", candidates={})
    events, messages = await run(ValidateChangePackageForm(), tracker, domain)

    assert events == [SlotSet("requested_slot", "confirmation")]
    assert messages == []


# --- company users -------------------------------------------------------------------------------


async def test_add_user_runs_only_with_the_role_shown(live_backend, grant, domain):
    form, validator = "add_user_form", ValidateAddUserForm()
    base = {"verification_grant": grant, "verified_email": JAN, "member_email": EWA,
            "person_name": "Ewa Nowicka"}

    tracker = form_turn(form, base, requested="role", text="pracownik", intent="inform",
                        candidates={"role": "employee"},
                        entities=[{"entity": "role", "value": "employee"}])
    events, _ = await run(validator, tracker, domain)
    employee = summary_of(events)
    assert events == [
        SlotSet("role", "employee"),
        SlotSet("role_label", "pracownik"),
        SlotSet("requested_slot", "confirmation"),
        SlotSet(SUMMARY_SLOT, employee),
    ]

    # "dodać jako pracownik?" - "/affirm{"role":"management"}": a new summary, nobody added
    shown = {**base, "role": "employee", "role_label": "pracownik", SUMMARY_SLOT: employee}
    tracker = form_turn(form, shown, requested="confirmation",
                        text='/affirm{"role":"management"}', intent="affirm",
                        candidates={"role": "management", **TAK},
                        entities=[{"entity": "role", "value": "management"}])
    events, _ = await run(validator, tracker, domain)
    management = summary_of(events)
    assert events == [
        SlotSet("confirmation", None),
        SlotSet("role", "management"),
        SlotSet("role_label", "zarząd / pełnomocnik / księgowy"),
        SlotSet("requested_slot", "confirmation"),
        SlotSet(SUMMARY_SLOT, management),
    ]
    assert membership(live_backend, EWA) == []

    # "tak" to the new summary: Ewa is added as management
    shown = {**base, "role": "management", "role_label": "zarząd / pełnomocnik / księgowy",
             SUMMARY_SLOT: management}
    tracker = form_turn(form, shown, requested="confirmation", text="tak", intent="affirm",
                        candidates=TAK)
    events, _ = await run(validator, tracker, domain)
    assert events == ACCEPTED
    events, _ = await run(ActionAddUser(), submitted(form, {**shown, "confirmation": True}))
    assert slot_values(events)["add_user_status"] == "invited"
    assert membership(live_backend, EWA) == [("management",)]


async def test_change_role_runs_only_with_the_role_shown(live_backend, grant, domain):
    form, validator = "change_role_form", ValidateChangeRoleForm()
    base = {"verification_grant": grant, "verified_email": JAN, "member_email": EWA,
            "member_id": member_id(live_backend, EWA), "member_name": "Ewa Nowicka",
            "member_role_label": "zarząd / pełnomocnik / księgowy"}

    tracker = form_turn(form, base, requested="role", text="magazynier", intent="inform",
                        candidates={"role": "warehouse"})
    events, _ = await run(validator, tracker, domain)
    warehouse = summary_of(events)
    assert events[-2] == SlotSet("requested_slot", "confirmation")

    shown = {**base, "role": "warehouse", "role_label": "magazynier", SUMMARY_SLOT: warehouse}
    tracker = form_turn(form, shown, requested="confirmation", text="tak, jako pracownik",
                        intent="affirm", candidates={"role": "employee", **TAK},
                        entities=[{"entity": "role", "value": "employee"}])
    events, _ = await run(validator, tracker, domain)
    employee = summary_of(events)
    assert events == [
        SlotSet("confirmation", None),
        SlotSet("role", "employee"),
        SlotSet("role_label", "pracownik"),
        SlotSet("requested_slot", "confirmation"),
        SlotSet(SUMMARY_SLOT, employee),
    ]
    assert membership(live_backend, EWA) == [("management",)]

    shown = {**base, "role": "employee", "role_label": "pracownik", SUMMARY_SLOT: employee}
    tracker = form_turn(form, shown, requested="confirmation", text="tak", intent="affirm",
                        candidates=TAK)
    assert (await run(validator, tracker, domain))[0] == ACCEPTED
    events, _ = await run(ActionChangeRole(), submitted(form, {**shown, "confirmation": True}))
    assert slot_values(events)["change_role_status"] == "changed"
    assert membership(live_backend, EWA) == [("employee",)]


async def test_remove_user_runs_only_for_the_person_shown(live_backend, grant, domain):
    # a second member to tell them apart
    events, _ = await run(ActionAddUser(), submitted("add_user_form", {
        "verification_grant": grant, "member_email": OLEK, "person_name": "Olek Wrona",
        "role": "warehouse", "confirmation": True}))
    assert slot_values(events)["add_user_status"] == "invited"
    form, validator = "remove_user_form", ValidateRemoveUserForm()
    base = {"verification_grant": grant, "verified_email": JAN}

    tracker = form_turn(form, base, requested="member_email", text=EWA, intent="inform",
                        candidates={"member_email": EWA})
    events, _ = await run(validator, tracker, domain)
    ewa = summary_of(events)
    values = slot_values(events)
    assert (values["member_name"], values["requested_slot"]) == ("Ewa Nowicka", "confirmation")

    # a different person arriving with the "tak": looked up and shown, nobody removed
    shown = {**base, **{k: v for k, v in values.items() if k != "requested_slot"}}
    tracker = form_turn(form, shown, requested="confirmation", text=f"tak, {OLEK}",
                        intent="affirm", candidates={"member_email": OLEK, **TAK})
    events, _ = await run(validator, tracker, domain)
    olek = summary_of(events)
    assert events == [
        SlotSet("confirmation", None),
        SlotSet("member_email", OLEK),
        SlotSet("member_id", member_id(live_backend, OLEK)),
        SlotSet("member_name", "Olek Wrona"),
        SlotSet("member_role_label", "magazynier"),
        SlotSet("member_is_self", False),
        SlotSet("member_checked", True),
        SlotSet("requested_slot", "confirmation"),
        SlotSet(SUMMARY_SLOT, olek),
    ]
    assert olek != ewa
    assert membership(live_backend, EWA) == [("employee",)]

    shown = {**shown, **{k: v for k, v in slot_values(events).items() if k != "requested_slot"}}
    tracker = form_turn(form, shown, requested="confirmation", text="tak", intent="affirm",
                        candidates=TAK)
    assert (await run(validator, tracker, domain))[0] == ACCEPTED
    events, _ = await run(ActionRemoveUser(), submitted(form, {**shown, "confirmation": True}))
    assert slot_values(events)["remove_user_status"] == "removed"
    assert membership(live_backend, OLEK) == []
    assert membership(live_backend, EWA) == [("employee",)]


async def test_login_email_change_runs_only_with_the_address_shown(live_backend, grant, domain):
    form, validator = "change_login_email_form", ValidateChangeLoginEmailForm()
    base = {"verification_grant": grant, "verified_email": JAN, "verified_name": "Jan Kowalski",
            "member_email": JAN, "member_is_self": True}
    first, second = "jan.pierwszy@majafirma.pl", "jan.drugi@majafirma.pl"

    tracker = form_turn(form, base, requested="new_email", text=first, intent="inform",
                        candidates={"new_email": first})
    events, _ = await run(validator, tracker, domain)
    shown_first = summary_of(events)
    assert events == [
        SlotSet("new_email", first),
        SlotSet("requested_slot", "confirmation"),
        SlotSet(SUMMARY_SLOT, shown_first),
    ]

    tracker = form_turn(form, {**base, "new_email": first, SUMMARY_SLOT: shown_first},
                        requested="confirmation", text=f"tak, ale na {second}", intent="affirm",
                        candidates={"new_email": second, **TAK})
    events, _ = await run(validator, tracker, domain)
    shown_second = summary_of(events)
    assert events == [
        SlotSet("confirmation", None),
        SlotSet("new_email", second),
        SlotSet("requested_slot", "confirmation"),
        SlotSet(SUMMARY_SLOT, shown_second),
    ]

    shown = {**base, "new_email": second, SUMMARY_SLOT: shown_second}
    tracker = form_turn(form, shown, requested="confirmation", text="tak", intent="affirm",
                        candidates=TAK)
    assert (await run(validator, tracker, domain))[0] == ACCEPTED
    tracker = submitted(form, {**shown, "confirmation": True})
    events, _ = await run(ActionChangeLoginEmail(), tracker)
    assert slot_values(events)["change_login_email_status"] == "sent"
    assert "/confirm-email?token=" in wait_for_mail(live_backend, second, "Potwierdź")["text"]
    assert live_backend.mails_to(first) == []


# --- device removal ------------------------------------------------------------------------


async def test_device_removal_runs_only_for_the_device_shown(live_backend, grant, domain):
    """The backend removes whichever phone is paired: if another one was paired after the
    question named the first (the first removed elsewhere), the "tak" shows the new one
    instead of removing it unseen."""
    pair_device(live_backend.url)
    form, validator = "remove_device_form", ValidateRemoveDeviceForm()
    base = {"verification_grant": grant, "verified_email": JAN}

    tracker = form_turn(form, base, requested=None, text="usuń telefon", intent="remove_device",
                        candidates={})
    events, _ = await run(validator, tracker, domain)
    first = summary_of(events)
    values = slot_values(events)
    assert (values["device_name"], values["requested_slot"]) == (DEVICE_NAME, "confirmation")

    # meanwhile the first phone is removed elsewhere and a new one paired
    await get_backend_client().remove_device(grant, "replace")
    pair_device(live_backend.url, name=NEW_DEVICE, platform="ios")
    shown = {**base, **{k: v for k, v in values.items() if k != "requested_slot"}}
    tracker = form_turn(form, shown, requested="confirmation", text="tak", intent="affirm",
                        candidates=TAK)
    events, _ = await run(validator, tracker, domain)
    second = summary_of(events)
    values = slot_values(events)
    assert events[:5] == [
        SlotSet("device_found", True),
        SlotSet("device_name", NEW_DEVICE),
        SlotSet("device_platform", "iOS"),
        SlotSet("device_paired_since", values["device_paired_since"]),
        SlotSet("confirmation", None),
    ]
    assert events[-2:] == [SlotSet("requested_slot", "confirmation"), SlotSet(SUMMARY_SLOT, second)]
    assert devices_of_jan(live_backend) == [(NEW_DEVICE, "ios")]

    shown = {**shown, **{k: v for k, v in values.items() if k != "requested_slot"}}
    tracker = form_turn(form, shown, requested="confirmation", text="tak", intent="affirm",
                        candidates=TAK)
    events, _ = await run(validator, tracker, domain)
    assert events[-2:] == ACCEPTED
    assert SlotSet("confirmation", None) not in events
    events, _ = await run(ActionRemoveDevice(), submitted(form, {**shown, "confirmation": True}))
    assert slot_values(events)["remove_device_status"] == "removed"
    assert slot_values(events)["device_name"] == NEW_DEVICE
    assert devices_of_jan(live_backend) == []


# --- registration --------------------------------------------------------------------------

REGISTRATION = {"package": "green", "email": "marek.nowy@biuro-marka.pl", "comarch_id": "68577",
                "pin": "4821", "nip": "5260250274", "person_name": "Marek Nowy",
                "terms_accepted": True}


def registration_turn(slots, candidates, *, requested, text, intent="affirm", entities=None):
    from tests.actions.test_registration import form_turn as registration_form_turn

    return registration_form_turn(text, list(candidates.items()), requested=requested,
                                  before=slots, intent=intent, entities=entities)


async def test_registration_is_sent_only_with_the_summary_shown(live_backend, domain):
    validator = ValidateRegistrationForm()
    before = {k: v for k, v in REGISTRATION.items() if k != "terms_accepted"}
    tracker = registration_turn(before, {"terms_accepted": True}, requested="terms_accepted",
                                text="akceptuję")
    events, _ = await run(validator, tracker, domain)
    green = summary_of(events)
    assert events == [
        SlotSet("terms_accepted", True),
        SlotSet("requested_slot", "confirmation"),
        SlotSet(SUMMARY_SLOT, green),
    ]

    # "/affirm{"package":"gold"}" at the summary: a new summary with gold, nothing sent
    text = 'tak, ale jednak złoty'
    tracker = registration_turn({**REGISTRATION, SUMMARY_SLOT: green},
                                {"package": "gold", **TAK}, requested="confirmation", text=text,
                                entities=[{"entity": "package", "value": "gold"}])
    events, _ = await run(validator, tracker, domain)
    gold = summary_of(events)
    assert events == [
        SlotSet("confirmation", None),
        SlotSet("package", "gold"),
        SlotSet("requested_slot", "confirmation"),
        SlotSet(SUMMARY_SLOT, gold),
    ]
    assert live_backend.query(
        "SELECT count(*) FROM accounts WHERE email = ?", REGISTRATION["email"]) == [(0,)]
    tracker = registration_turn({**REGISTRATION, "package": "gold"}, {},
                                requested="confirmation", text="")
    _, messages = await run(ActionAskRegistrationConfirmation(), tracker, domain)
    assert messages[0]["summary_package"] == "złoty"

    # a PIN typed with the "tak" is never taken unseen either (the summary masks it)
    tracker = registration_turn({**REGISTRATION, "package": "gold", SUMMARY_SLOT: gold},
                                {"pin": "1111", **TAK}, requested="confirmation", text="tak 1111")
    events, _ = await run(validator, tracker, domain)
    assert events == [
        SlotSet("confirmation", None),
        SlotSet("pin", "1111"),
        SlotSet("requested_slot", "confirmation"),  # the (masked) summary is asked again
    ]

    # "tak" to the gold summary: registered with gold
    tracker = registration_turn({**REGISTRATION, "package": "gold", SUMMARY_SLOT: gold}, TAK,
                                requested="confirmation", text="tak")
    events, _ = await run(validator, tracker, domain)
    assert events == ACCEPTED
    tracker = submitted("registration_form",
                        {**REGISTRATION, "package": "gold", "confirmation": True})
    events, _ = await run(ActionRegisterAccount(), tracker, domain)
    assert slot_values(events)["registration_status"] in ("account_created",
                                                          "account_created_trial")
    [(organisation_id,)] = live_backend.query(
        "SELECT m.organisation_id FROM memberships m JOIN accounts a ON a.id = m.account_id"
        " WHERE a.email = ?", REGISTRATION["email"])
    assert live_backend.query(
        "SELECT package_code FROM subscriptions WHERE organisation_id = ?", organisation_id
    ) == [("gold",)]


@pytest.mark.parametrize("text", ["Tak, proszę zmienić na srebrny.", "no to zmieniaj"])
async def test_a_yes_in_words_the_classifier_missed_is_a_yes(grant, domain, text):
    form, validator = "change_package_form", ValidateChangePackageForm()
    shown = {"verification_grant": grant, "verified_email": JAN, "package": "silver"}
    summary = summary_fingerprint(form, {"package": "silver"})
    tracker = form_turn(form, {**shown, SUMMARY_SLOT: summary}, requested="confirmation",
                        text=text, intent="nlu_fallback", candidates={})
    events, _ = await run(validator, tracker, domain)
    assert events == ACCEPTED


async def test_a_no_in_words_the_classifier_missed_is_a_no(grant, domain):
    form, validator = "change_package_form", ValidateChangePackageForm()
    shown = {"verification_grant": grant, "verified_email": JAN, "package": "silver"}
    summary = summary_fingerprint(form, {"package": "silver"})
    tracker = form_turn(form, {**shown, SUMMARY_SLOT: summary}, requested="confirmation",
                        text="nie, jednak zostanę przy obecnym", intent="nlu_fallback",
                        candidates={})
    events, _ = await run(validator, tracker, domain)
    assert events == [SlotSet("confirmation", False), SlotSet("requested_slot", None)]
    # a "nie" that brings a correction is no "no": the new value gets a new summary
    tracker = form_turn(form, {**shown, SUMMARY_SLOT: summary}, requested="confirmation",
                        text="nie czekaj, ma być złoty", intent="inform",
                        candidates={"package": "gold"},
                        entities=[{"entity": "package", "value": "gold"}])
    events, _ = await run(validator, tracker, domain)
    assert SlotSet("confirmation", False) not in events
    assert SlotSet("package", "gold") in events


@pytest.mark.parametrize(
    "form, text, yes",
    [
        ("remove_device_form", "Tak, proszę usunąć stary iPhone.", True),
        ("remove_device_form", "no to usun stare", True),
        ("remove_device_form", "nie usuwaj", False),
        ("add_user_form", "usuń go", False),  # not this summary's verb
        ("remove_user_form", "takiego nie ma", False),
        ("registration_form", "zgadza się", True),
    ],
)
def test_says_yes(form, text, yes):
    assert says_yes(form, text) is yes
