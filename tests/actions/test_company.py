"""The company-user journeys against the real backend: roles, add a user, change a role, remove
a user, change a login e-mail - with the owner's refusals (not the owner, the owner as target,
unknown member). One backend database for the module: the tests build on each other in order."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import urllib.request
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk.events import ActionExecutionRejected, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient
from actions.company import (
    ActionAddUser,
    ActionCancelCompanyForm,
    ActionChangeLoginEmail,
    ActionChangeRole,
    ActionAskChangeLoginEmailMember,
    ActionAskChangeRoleMember,
    ActionAskRemoveUserMember,
    ActionListUsers,
    ActionRemoveUser,
    ActionRolesInfo,
    ValidateListUsersForm,
    ValidateAddUserForm,
    ValidateChangeLoginEmailForm,
    ValidateChangeRoleForm,
    ValidateRemoveUserForm,
    means_own_address,
)
from actions.confirmation import summary_fingerprint
from actions.idempotency import idempotency_key
from actions.people import classify_addresses
from tests.actions.helpers import fresh_requester, make_tracker, slot_event, user_event
from tests.actions.test_devices import (
    CODE_SUBJECT,
    read_code,
    slot_values,
    submitted,
    wait_for_mail,
)
from bot.domain_files import load_domain

JAN = "jan.kowalski@majafirma.pl"
ANNA = "anna.zielinska@majafirma.pl"  # added by the tests as an employee
PIOTR = "piotr.magazyn@majafirma.pl"  # added, activated, then acts as a non-owner
PIOTR_PASSWORD = "Zielony#Las2026"
INVITATION_SUBJECT = "Zaproszenie do firmy"


# --- helpers ---------------------------------------------------------------------------------


def client_for(live_stack) -> BackendClient:
    return BackendClient(live_stack.url("backend"), live_stack.service_token, 10.0)


def grant_for(live_stack, email: str) -> str:
    from tests.actions.conftest import LiveBackend

    backend = LiveBackend(live_stack)
    client = client_for(live_stack)

    async def obtain() -> str:
        await client.request_verification_code(email, fresh_requester())
        code = read_code(backend, email)
        return (await client.check_verification_code(email, code))["grant"]

    return asyncio.run(obtain())


@pytest.fixture(scope="module")
def grant(live_stack) -> str:
    """Jan Kowalski's grant (the owner of "Majama Michał Zając")."""
    return grant_for(live_stack, JAN)


def form_turn(
    form: str,
    slots: Dict[str, Any],
    *,
    requested: Optional[str],
    text: str,
    intent: str,
    candidates: Dict[str, Any],
    entities: Optional[List[Dict[str, Any]]] = None,
    sender_id: str = "company-test",
):
    """The tracker Rasa sends to `validate_<form>` after a user message (slot candidates last)."""
    events = [
        {"event": "action", "name": "action_listen"},
        user_event(text, intent, entities),
        slot_event("requested_slot", requested),
        {"event": "action", "name": form},
    ] + [slot_event(name, value) for name, value in candidates.items()]
    return make_tracker(
        slots={**slots, **candidates, "requested_slot": requested},
        events=events,
        active_loop=form,
        latest_action_name=form,
        sender_id=sender_id,
    )


async def run(action, tracker, domain=None):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain or {})
    return events, dispatcher.messages


def responses(messages) -> List[str]:
    return [m.get("response") for m in messages]


def membership(backend, email: str) -> List[tuple]:
    return backend.query(
        "SELECT m.role FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE a.email = ?",
        email,
    )


def member_id(backend, email: str) -> str:
    return str(
        backend.query(
            "SELECT m.id FROM memberships m JOIN accounts a ON a.id = m.account_id "
            "WHERE a.email = ?",
            email,
        )[0][0]
    )


def activate_invitation(
    backend, email: str, password: str, name: Optional[str] = None
) -> None:
    """The invited person opens the link from the e-mail and sets a password (and gives their
    name, when invited without one)."""
    message = wait_for_mail(backend, email, INVITATION_SUBJECT)
    token = re.search(r"token=([A-Za-z0-9_\-]+)", message["text"]).group(1)
    fields = {"token": token, "password": password, "password_confirm": password}
    if name is not None:
        fields["name"] = name
    body = json.dumps(fields)
    request = urllib.request.Request(
        f"{backend.url}/api/v1/auth/activation/confirm",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 200


def add_user_slots(grant: str, email: str, name: str, role: str, label: str) -> Dict[str, Any]:
    return {
        "verification_grant": grant,
        "member_email": email,
        "person_name": name,
        "role": role,
        "role_label": label,
        "confirmation": True,
    }


# --- roles -----------------------------------------------------------------------------------


async def test_all_assignable_roles_from_the_backend(live_backend):
    tracker = make_tracker(events=[user_event("jakie są role?", "roles_info")])

    events, messages = await run(ActionRolesInfo(), tracker)

    values = slot_values(events)
    assert values["roles_info_status"] == "all"
    lines = values["roles_summary"].split("\n")
    assert [line.split(":")[0] for line in lines] == [
        "- pracownik",
        "- zarząd / pełnomocnik / księgowy",
        "- magazynier",
    ]
    assert lines[0].startswith("- pracownik: Wystawia faktury i paragony")
    assert values["role"] is None
    assert messages == []


async def test_one_role_from_the_backend(live_backend):
    entities = [{"entity": "role", "value": "management"}]
    tracker = make_tracker(
        slots={"role": "management"},
        events=[
            user_event("co widzi księgowa?", "roles_info", entities),
            slot_event("role", "management"),
        ],
    )

    events, _ = await run(ActionRolesInfo(), tracker)

    values = slot_values(events)
    assert values["roles_info_status"] == "one"
    assert values["roles_info_label"] == "zarząd / pełnomocnik / księgowy"
    assert "Nie zarządza użytkownikami" in values["roles_info_description"]
    assert "- księgowość: ewidencje (KPiR, rejestry VAT), deklaracje i JPK" in values[
        "roles_info_permissions"
    ].split("\n")
    assert values["role"] is None  # a question is not an answer: the slot goes back


async def test_a_role_question_in_a_form_keeps_the_chosen_role(live_backend):
    entities = [{"entity": "role", "value": "warehouse"}]
    tracker = make_tracker(
        slots={"role": "warehouse"},
        events=[
            slot_event("role", "employee"),
            user_event("a co może magazynier?", "roles_info", entities),
            slot_event("role", "warehouse"),
        ],
        active_loop="add_user_form",
    )

    events, _ = await run(ActionRolesInfo(), tracker)

    assert slot_values(events)["role"] == "employee"


async def test_roles_unavailable(closed_port_url, use_backend):
    use_backend(closed_port_url, timeout_seconds=1.0)
    tracker = make_tracker(events=[user_event("role", "roles_info")])
    events, _ = await run(ActionRolesInfo(), tracker)
    assert slot_values(events)["roles_info_status"] == "unavailable"


# --- add a user ------------------------------------------------------------------------------


async def test_add_user_validators(live_backend, grant, domain):
    form = "add_user_form"
    # the owner's own address: already a member, asked again
    tracker = form_turn(form, {"verification_grant": grant}, requested="member_email", text=JAN,
                        intent="inform", candidates={"member_email": JAN})
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    assert slot_values(events)["member_email"] is None
    assert messages[0]["response"] == "utter_add_user_already_member"
    assert messages[0]["member_email"] == JAN

    # a new address (typed in a sentence, mixed case)
    text = f"jej adres to {ANNA.upper()}"
    tracker = form_turn(form, {"verification_grant": grant}, requested="member_email", text=text,
                        intent="inform", candidates={"member_email": text})
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    assert slot_values(events)["member_email"] == ANNA
    assert messages == []

    # the name is never asked for: after the address comes the role
    assert slot_values(events)["requested_slot"] == "role"
    # in the request itself ("dodaj Annę Zielińską") the name is inflected: left out, not asked
    tracker = form_turn(form, {"verification_grant": grant}, requested=None,
                        text="dodaj Annę Zielińską", intent="add_user", candidates={},
                        entities=[{"entity": "person_name", "value": "Annę Zielińską"}])
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    assert "person_name" not in slot_values(events)
    assert slot_values(events)["requested_slot"] == "member_email"
    assert messages == []

    # the role: the owner role cannot be given; labels come from the backend
    slots = {"verification_grant": grant, "member_email": ANNA}
    tracker = form_turn(form, slots, requested="role", text="prezes", intent="inform",
                        candidates={"role": "owner"},
                        entities=[{"entity": "role", "value": "owner"}])
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    assert slot_values(events)["role"] is None
    assert responses(messages) == ["utter_company_owner_role_not_assignable"]
    tracker = form_turn(form, slots, requested="role", text="pracownik", intent="inform",
                        candidates={"role": "employee"},
                        entities=[{"entity": "role", "value": "employee"}])
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    assert slot_values(events)["role"] == "employee"
    assert slot_values(events)["role_label"] == "pracownik"
    assert messages == []

    # something that names no role
    tracker = form_turn(form, slots, requested="role", text="szef wszystkich szefów",
                        intent="inform", candidates={})
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    assert responses(messages) == ["utter_company_role_not_recognised"]
    assert SlotSet("role", None) in events


async def test_a_question_in_the_form_is_left_to_the_rules(live_backend, grant, domain):
    slots = {"verification_grant": grant, "member_email": ANNA, "person_name": "Anna Zielińska"}
    tracker = form_turn("add_user_form", slots, requested="role", text="co może magazynier?",
                        intent="roles_info", candidates={"role": "warehouse"},
                        entities=[{"entity": "role", "value": "warehouse"}])

    events, messages = await run(ValidateAddUserForm(), tracker, domain)

    assert events == [ActionExecutionRejected("add_user_form")]
    assert messages == []


async def test_a_consultant_asked_for_in_the_form_is_left_to_the_rules(grant, domain):
    """"konsultant" while asked for the role (or the address, the code): no slot event and no
    "role not recognised", so Rasa rejects the form and the handoff rule runs."""
    slots = {"verification_grant": grant, "member_email": ANNA, "person_name": "Anna Zielińska"}
    for requested in ("role", "member_email"):
        if requested == "member_email":
            slots = {"verification_grant": grant}
        tracker = form_turn("add_user_form", slots, requested=requested, text="konsultant",
                            intent="human_handoff", candidates={})

        events, messages = await run(ValidateAddUserForm(), tracker, domain)

        assert events == [SlotSet("requested_slot", requested)]
        assert messages == []


async def test_add_user_invites_a_new_person(live_backend, grant, caplog):
    caplog.set_level(logging.DEBUG)
    slots = add_user_slots(grant, ANNA, "Anna Zielińska", "employee", "pracownik")

    events, messages = await run(ActionAddUser(), submitted("add_user_form", slots, "chat-1"))
    # a retry of the same run (e.g. a lost answer) does not add twice
    again, _ = await run(ActionAddUser(), submitted("add_user_form", slots, "chat-1"))

    values = slot_values(events)
    assert values["add_user_status"] == "invited"
    assert values["member_name"] == "Anna Zielińska"
    assert values["member_address"] == ANNA
    assert values["role_label"] == "pracownik"
    for slot in ("member_email", "person_name", "role", "confirmation", "company_refusal"):
        assert values[slot] is None
    assert slot_values(again)["add_user_status"] == "invited"
    assert messages == []
    assert membership(live_backend, ANNA) == [("employee",)]
    invitation = wait_for_mail(live_backend, ANNA, INVITATION_SUBJECT)
    assert "/activate?token=" in invitation["text"]
    assert grant not in caplog.text
    assert ANNA not in caplog.text  # addresses are logged masked


async def test_add_user_not_confirmed_adds_nobody(live_backend, grant):
    slots = {**add_user_slots(grant, "ktos@majafirma.pl", "Ktoś Nowy", "warehouse", "magazynier"),
             "confirmation": False}

    events, _ = await run(ActionAddUser(), submitted("add_user_form", slots))

    assert slot_values(events)["add_user_status"] == "cancelled"
    assert membership(live_backend, "ktos@majafirma.pl") == []


async def test_add_user_already_member_refused_by_the_backend(live_backend, grant):
    slots = add_user_slots(grant, ANNA, "Anna Zielińska", "warehouse", "magazynier")

    events, _ = await run(ActionAddUser(), submitted("add_user_form", slots, "chat-2"))

    assert slot_values(events)["add_user_status"] == "already_member"
    assert membership(live_backend, ANNA) == [("employee",)]


# --- change a role ---------------------------------------------------------------------------


async def test_change_role_validator_finds_the_member(live_backend, grant, domain):
    form = "change_role_form"
    tracker = form_turn(form, {"verification_grant": grant}, requested="member_email", text=ANNA,
                        intent="inform", candidates={"member_email": ANNA})
    events, _ = await run(ValidateChangeRoleForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_email"] == ANNA
    assert values["member_id"] == member_id(live_backend, ANNA)
    assert values["member_name"] == "Anna Zielińska"
    assert values["member_role_label"] == "pracownik"
    assert "company_refusal" not in values

    # unknown member: said in plain Polish, asked again
    tracker = form_turn(form, {"verification_grant": grant}, requested="member_email",
                        text="nieznany@majafirma.pl", intent="inform",
                        candidates={"member_email": "nieznany@majafirma.pl"})
    events, messages = await run(ValidateChangeRoleForm(), tracker, domain)
    assert slot_values(events)["member_email"] is None
    assert messages == [{**messages[0], "response": "utter_company_member_not_found",
                         "member_email": "nieznany@majafirma.pl"}]

    # the owner: refused at once, the form ends
    tracker = form_turn(form, {"verification_grant": grant}, requested="member_email", text=JAN,
                        intent="inform", candidates={"member_email": JAN})
    events, _ = await run(ValidateChangeRoleForm(), tracker, domain)
    values = slot_values(events)
    assert values["company_refusal"] == "last_owner"
    assert values["requested_slot"] is None


async def test_change_role_updates_the_row(live_backend, grant):
    slots = {
        "verification_grant": grant,
        "member_email": ANNA,
        "member_id": member_id(live_backend, ANNA),
        "member_name": "Anna Zielińska",
        "role": "management",
        "role_label": "zarząd / pełnomocnik / księgowy",
        "confirmation": True,
    }

    events, _ = await run(ActionChangeRole(), submitted("change_role_form", slots))
    again, _ = await run(ActionChangeRole(), submitted("change_role_form", slots))

    assert slot_values(events)["change_role_status"] == "changed"
    assert slot_values(events)["member_address"] == ANNA
    assert slot_values(events)["member_id"] is None
    assert slot_values(again)["change_role_status"] == "unchanged"
    assert membership(live_backend, ANNA) == [("management",)]


async def test_demoting_the_owner_is_refused_and_nothing_changes(live_backend, grant):
    slots = {
        "verification_grant": grant,
        "member_email": JAN,
        "member_id": member_id(live_backend, JAN),
        "role": "employee",
        "confirmation": True,
    }

    events, _ = await run(ActionChangeRole(), submitted("change_role_form", slots))

    assert slot_values(events)["change_role_status"] == "last_owner"
    assert membership(live_backend, JAN) == [("owner",)]


# --- remove a user ---------------------------------------------------------------------------


async def test_removing_the_owner_is_refused_and_the_row_stays(live_backend, grant, domain):
    tracker = form_turn("remove_user_form", {"verification_grant": grant},
                        requested="member_email", text=JAN, intent="inform",
                        candidates={"member_email": JAN})
    events, _ = await run(ValidateRemoveUserForm(), tracker, domain)
    assert slot_values(events)["company_refusal"] == "last_owner"
    # the refusal known in advance: no call
    events, _ = await run(ActionRemoveUser(), submitted("remove_user_form", {
        "verification_grant": grant, "member_email": JAN, "company_refusal": "last_owner",
    }))
    assert slot_values(events)["remove_user_status"] == "last_owner"
    assert slot_values(events)["company_refusal"] is None

    # and the backend refuses it too
    slots = {"verification_grant": grant, "member_email": JAN,
             "member_id": member_id(live_backend, JAN), "confirmation": True}
    events, _ = await run(ActionRemoveUser(), submitted("remove_user_form", slots))
    assert slot_values(events)["remove_user_status"] == "last_owner"
    assert membership(live_backend, JAN) == [("owner",)]


async def test_remove_user_deletes_the_row(live_backend, grant):
    slots = {"verification_grant": grant, "member_email": ANNA,
             "member_id": member_id(live_backend, ANNA), "member_name": "Anna Zielińska",
             "confirmation": True}

    events, _ = await run(ActionRemoveUser(), submitted("remove_user_form", slots))
    again, _ = await run(ActionRemoveUser(), submitted("remove_user_form", slots))

    assert slot_values(events)["remove_user_status"] == "removed"
    assert slot_values(events)["member_name"] == "Anna Zielińska"
    assert slot_values(again)["remove_user_status"] == "member_not_found"
    assert membership(live_backend, ANNA) == []


# --- a user who is not the owner --------------------------------------------------------------


@pytest.fixture(scope="module")
def piotr_grant(live_stack, grant) -> str:
    """Piotr: added by Jan as a warehouse worker, accepted the invitation, then verified."""
    from tests.actions.conftest import LiveBackend

    backend = LiveBackend(live_stack)
    key = "piotr-invitation"
    asyncio.run(client_for(live_stack).add_member(grant, PIOTR, "Piotr Magazyn", "warehouse", key))
    activate_invitation(backend, PIOTR, PIOTR_PASSWORD)
    return grant_for(live_stack, PIOTR)


async def test_not_the_owner_is_refused(live_backend, piotr_grant, domain):
    # the validator finds out when it looks for the member (the list is the owner's)
    tracker = form_turn("add_user_form", {"verification_grant": piotr_grant},
                        requested="member_email", text="kolega@majafirma.pl", intent="inform",
                        candidates={"member_email": "kolega@majafirma.pl"})
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    values = slot_values(events)
    assert values["company_refusal"] == "not_owner"
    assert values["requested_slot"] is None
    assert messages == []

    events, _ = await run(ActionAddUser(), submitted("add_user_form", {
        "verification_grant": piotr_grant, "member_email": "kolega@majafirma.pl",
        "company_refusal": "not_owner",
    }))
    assert slot_values(events)["add_user_status"] == "not_owner"

    # the backend refuses it as well (e.g. the role changed meanwhile)
    slots = add_user_slots(piotr_grant, "kolega@majafirma.pl", "Kolega", "employee", "pracownik")
    events, _ = await run(ActionAddUser(), submitted("add_user_form", slots))
    assert slot_values(events)["add_user_status"] == "not_owner"
    slots = {"verification_grant": piotr_grant, "member_id": member_id(live_backend, JAN),
             "confirmation": True}
    events, _ = await run(ActionRemoveUser(), submitted("remove_user_form", slots))
    assert slot_values(events)["remove_user_status"] == "not_owner"
    assert membership(live_backend, "kolega@majafirma.pl") == []
    assert membership(live_backend, JAN) == [("owner",)]


# --- change a login e-mail -------------------------------------------------------------------


def test_own_address_words():
    for text in ("mój", "moj", "Mój adres", "swój", "swoj e-mail", "mój własny", "to mój adres"):
        assert means_own_address(text), text
    for text in ("anna@firma.pl", "mojej księgowej", "Anna Zielińska"):
        assert not means_own_address(text), text


async def test_own_login_email_change(live_backend, grant, domain, caplog):
    caplog.set_level(logging.DEBUG)
    form = "change_login_email_form"
    base = {"verification_grant": grant, "verified_email": JAN, "verified_name": "Jan Kowalski"}
    tracker = form_turn(form, base, requested="member_email", text="mój", intent="inform",
                        candidates={"member_email": "mój"})
    events, _ = await run(ValidateChangeLoginEmailForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_email"] == JAN
    assert values["member_is_self"] is True
    assert values["member_name"] == "Jan Kowalski"

    # the same address again is not a change
    slots = {**base, "member_email": JAN, "member_is_self": True}
    tracker = form_turn(form, slots, requested="new_email", text=JAN, intent="inform",
                        candidates={"new_email": JAN})
    events, messages = await run(ValidateChangeLoginEmailForm(), tracker, domain)
    assert slot_values(events)["new_email"] is None
    assert responses(messages) == ["utter_change_login_email_same"]

    new = "jan.kowalski@nowafirma.pl"
    events, _ = await run(ActionChangeLoginEmail(), submitted(form, {
        **slots, "new_email": new, "confirmation": True,
    }))
    values = slot_values(events)
    assert values["change_login_email_status"] == "sent"
    assert values["new_address"] == new and values["member_address"] == JAN
    assert values["member_is_self"] is None and values["new_email"] is None
    confirm = wait_for_mail(live_backend, new, "Potwierdź nowy adres")
    assert "/confirm-email?token=" in confirm["text"]
    wait_for_mail(live_backend, JAN, "Prośba o zmianę adresu")
    # nothing changes before the link is used
    assert live_backend.query("SELECT count(*) FROM accounts WHERE email = ?", JAN) == [(1,)]
    assert grant not in caplog.text and new not in caplog.text


async def test_another_members_login_email_change(live_backend, grant, piotr_grant, domain):
    form = "change_login_email_form"
    tracker = form_turn(form, {"verification_grant": grant, "verified_email": JAN},
                        requested="member_email", text=PIOTR, intent="inform",
                        candidates={"member_email": PIOTR})
    events, _ = await run(ValidateChangeLoginEmailForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_is_self"] is False
    assert values["member_id"] == member_id(live_backend, PIOTR)
    assert values["member_name"] == "Piotr Magazyn"

    slots = {"verification_grant": grant, "member_email": PIOTR, "member_is_self": False,
             "member_id": values["member_id"], "member_name": "Piotr Magazyn",
             "confirmation": True}
    # an address that already is someone's login
    events, _ = await run(ActionChangeLoginEmail(), submitted(form, {**slots, "new_email": JAN}))
    assert slot_values(events)["change_login_email_status"] == "email_taken"

    new = "piotr@magazyn-nowy.pl"
    events, _ = await run(ActionChangeLoginEmail(), submitted(form, {**slots, "new_email": new}))
    assert slot_values(events)["change_login_email_status"] == "sent"
    wait_for_mail(live_backend, new, "Potwierdź nowy adres")
    notice = wait_for_mail(live_backend, PIOTR, "Prośba o zmianę adresu")
    assert new in notice["text"]


async def test_invited_member_address_cannot_be_changed(live_backend, grant, domain):
    invited = "zaproszony@majafirma.pl"
    client = client_for(live_backend.stack)
    await client.add_member(grant, invited, "Zaproszony", "employee", "inv-1")
    tracker = form_turn("change_login_email_form",
                        {"verification_grant": grant, "verified_email": JAN},
                        requested="member_email", text=invited, intent="inform",
                        candidates={"member_email": invited})
    events, _ = await run(ValidateChangeLoginEmailForm(), tracker, domain)
    assert slot_values(events)["company_refusal"] == "member_not_active"


# --- values from the first message, members by name, whole names, reading -------------------

WRONA = "t.wrona@majafirma.pl"
ZOLC = "lukasz.zolc@majafirma.pl"
LIS = "ewa.lis@majafirma.pl"
TOMASZ_LIS = "tomasz.lis@majafirma.pl"


def activation(form: str, slots: Dict[str, Any], *, text: str, intent: str,
               candidates: Optional[Dict[str, Any]] = None,
               entities: Optional[List[Dict[str, Any]]] = None):
    """The tracker at a form's activation by `text` (Rasa's prefilled slots as candidates)."""
    return form_turn(form, slots, requested=None, text=text, intent=intent,
                     candidates=candidates or {}, entities=entities)


@pytest.fixture(scope="module")
def named_members(live_stack, grant) -> None:
    """Members with whole names, Polish letters and a shared first name and surname."""
    client = client_for(live_stack)

    async def add() -> None:
        for email, name, role in (
            (WRONA, "Tomasz Wrona", "management"),
            (ZOLC, "Łukasz Żółć", "employee"),
            (LIS, "Ewa Lis", "warehouse"),
            (TOMASZ_LIS, "Tomasz Lis", "employee"),
        ):
            await client.add_member(grant, email, name, role, f"named-{email}")

    asyncio.run(add())


async def test_add_user_takes_address_and_role_from_the_first_message(live_backend, grant, domain):
    text = f"dodaj {ZOLC.replace('lukasz', 'Lukasz')} jako magazyniera"
    # the NLU marked neither the address nor the role: read from the text all the same
    tracker = activation("add_user_form", {"verification_grant": grant}, text=text,
                         intent="add_user")
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_email"] == ZOLC
    assert values["member_checked"] is True  # checked against the members list at once
    assert values["role"] == "warehouse" and values["role_label"] == "magazynier"
    assert values["requested_slot"] == "confirmation"  # no name question
    assert "person_name" not in values
    assert messages == []


async def test_another_persons_address_is_never_the_one_verified(live_backend, domain):
    """Not verified yet: the member's address waits for the grant; the identity step asks for
    the visitor's own address instead of sending a code to the member."""
    text = f"dodaj {ZOLC} jako magazyniera"
    tracker = activation("add_user_form", {}, text=text, intent="add_user",
                         candidates={"email": ZOLC, "role": "warehouse"},
                         entities=[{"entity": "email", "value": ZOLC},
                                   {"entity": "role", "value": "warehouse"}])
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_email"] == ZOLC and values["member_checked"] is False
    assert values.get("email") is None
    assert values["requested_slot"] == "email"
    assert messages == []
    assert live_backend.mails_to(ZOLC) == []
    entity = next(e for e in tracker.latest_message["entities"] if e["entity"] == "email")
    assert entity["role"] == "member"


async def test_two_addresses_are_told_apart(live_backend, domain):
    """"jestem jan@…, dodaj ewa@…": the visitor's own address gets the code, the other is the
    member's (tagged for actions/identity.py)."""
    text = f"jestem {JAN}, dodaj {LIS} jako pracownika"
    tracker = activation("add_user_form", {}, text=text, intent="add_user",
                         candidates={"role": "employee"})
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    values = slot_values(events)
    tagged = {e["value"]: e.get("role") for e in tracker.latest_message["entities"]
              if e["entity"] == "email"}
    assert tagged == {JAN: None, LIS: "member"}
    assert values["member_email"] == LIS
    assert values["requested_slot"] == "verification_code"
    assert responses(messages) == ["utter_verification_code_sent"]
    wait_for_mail(live_backend, JAN, CODE_SUBJECT)
    assert live_backend.mails_to(LIS) == []


async def test_whole_names_are_kept(live_backend, grant, domain):
    """A name corrected at the summary is taken whole, whatever part of it the NLU marked."""
    form = "add_user_form"
    slots = {"verification_grant": grant, "member_email": "nowa.osoba@majafirma.pl",
             "member_checked": True, "role": "employee", "role_label": "pracownik"}
    for text, entity, expected in (
        ("ma być Tomasz Wrona", "Tomasz", "Tomasz Wrona"),
        ("popraw: Ewa Lis", "Ewa", "Ewa Lis"),
        ("popraw, nazywa się Łukasz Żółć", "Łukasz", "Łukasz Żółć"),
        ("ma być magdalena kaczmarek-nowak", None, "Magdalena Kaczmarek-Nowak"),
        ("ma być tomasz wrona, tak jak w mailu", "tomasz", "Tomasz Wrona"),
    ):
        entities = [{"entity": "person_name", "value": entity}] if entity else []
        tracker = form_turn(form, slots, requested="confirmation", text=text, intent="inform",
                            candidates={}, entities=entities)
        events, _ = await run(ValidateAddUserForm(), tracker, domain)
        values = slot_values(events)
        assert values["person_name"] == expected, text
        assert values["member_name"] == expected, text

    # in the first message, written in the nominative: taken whole with the address and role
    text = "dodaj użytkownika Tomasz Wrona (tomasz.wrona2@majafirma.pl) jako księgowego"
    tracker = activation(form, {"verification_grant": grant}, text=text, intent="add_user",
                         candidates={"person_name": "Tomasz"},
                         entities=[{"entity": "person_name", "value": "Tomasz"}])
    events, _ = await run(ValidateAddUserForm(), tracker, domain)
    values = slot_values(events)
    assert values["person_name"] == "Tomasz Wrona"
    assert values["member_email"] == "tomasz.wrona2@majafirma.pl"
    assert values["role"] == "management"
    assert values["requested_slot"] == "confirmation"


async def test_a_name_corrected_at_the_summary(live_backend, grant, domain):
    """"popraw: ma być Ewa Lis" at "Dodać użytkownika Ewa (…)?": the name changes, the summary
    is shown again (a new fingerprint), nothing is confirmed."""
    form = "add_user_form"
    slots = {"verification_grant": grant, "member_email": "ewa.nowa@majafirma.pl",
             "member_checked": True, "person_name": "Ewa", "role": "employee",
             "role_label": "pracownik", "confirmation_summary": "shown-before"}
    tracker = form_turn(form, slots, requested="confirmation", text="popraw: ma być Ewa Lis",
                        intent="inform", candidates={})
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    values = slot_values(events)
    assert values["person_name"] == "Ewa Lis"
    assert values["requested_slot"] == "confirmation"
    assert values["confirmation_summary"] not in (None, "shown-before")
    assert values.get("confirmation") is None
    assert messages == []

    # "nie, ma być Ewa Lis" read as a "no": still a correction, the operation is not cancelled
    tracker = form_turn(form, slots, requested="confirmation", text="nie, ma być Ewa Lis",
                        intent="deny", candidates={"confirmation": False})
    events, _ = await run(ValidateAddUserForm(), tracker, domain)
    values = slot_values(events)
    assert values["person_name"] == "Ewa Lis"
    assert values["requested_slot"] == "confirmation"
    assert values.get("confirmation") is None
    # a plain "nie" stays a "no"
    tracker = form_turn(form, slots, requested="confirmation", text="nie", intent="deny",
                        candidates={"confirmation": False})
    events, _ = await run(ValidateAddUserForm(), tracker, domain)
    assert slot_values(events)["confirmation"] is False
    assert slot_values(events)["requested_slot"] is None

    # an address corrected the same way
    tracker = form_turn(form, {**slots, "person_name": "Ewa Lis"}, requested="confirmation",
                        text="popraw e-mail na ewa.lis2@majafirma.pl", intent="inform",
                        candidates={})
    events, _ = await run(ValidateAddUserForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_email"] == "ewa.lis2@majafirma.pl"
    assert values["requested_slot"] == "confirmation"


async def test_member_found_by_name(live_backend, grant, named_members, domain):
    form = "change_role_form"
    base = {"verification_grant": grant}
    # asked for the address, the user gives a name
    tracker = form_turn(form, base, requested="member_email",
                        text="Tomasz Wrona, nie pamiętam jego maila", intent="inform",
                        candidates={"member_email": "Tomasz Wrona, nie pamiętam jego maila"})
    events, messages = await run(ValidateChangeRoleForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_email"] == WRONA
    assert values["member_name"] == "Tomasz Wrona"
    assert values["member_id"] == member_id(live_backend, WRONA)
    assert values["requested_slot"] == "role"
    assert messages == []

    # without Polish letters, lower case, surname inflected
    for text, email in (("lukasz zolc", ZOLC), ("chodzi o Wronę", WRONA)):
        tracker = form_turn(form, base, requested="member_email", text=text, intent="inform",
                            candidates={"member_email": text})
        events, _ = await run(ValidateChangeRoleForm(), tracker, domain)
        assert slot_values(events)["member_email"] == email, text

    # ambiguous: which one?
    tracker = form_turn(form, base, requested="member_email", text="Tomasz", intent="inform",
                        candidates={"member_email": "Tomasz"})
    events, messages = await run(ValidateChangeRoleForm(), tracker, domain)
    assert slot_values(events)["member_email"] is None
    assert responses(messages) == ["utter_company_member_ambiguous"]
    listing = messages[0]["member_candidates"]
    assert f"- Tomasz Wrona ({WRONA})" in listing and f"- Tomasz Lis ({TOMASZ_LIS})" in listing

    # nobody: said so, the address is asked for again
    tracker = form_turn(form, base, requested="member_email", text="Kasia Nowicka",
                        intent="inform", candidates={"member_email": "Kasia Nowicka"})
    events, messages = await run(ValidateChangeRoleForm(), tracker, domain)
    assert slot_values(events)["member_email"] is None
    assert responses(messages) == ["utter_company_member_name_not_found"]
    assert messages[0]["member_query"] == "Kasia Nowicka"


async def test_change_role_from_the_first_message_by_name(live_backend, grant, named_members,
                                                          domain):
    text = "Łukasz Żółć ma mieć rolę księgowego"
    tracker = activation("change_role_form", {"verification_grant": grant}, text=text,
                         intent="change_role", candidates={"role": "management"},
                         entities=[{"entity": "role", "value": "management"}])
    events, _ = await run(ValidateChangeRoleForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_email"] == ZOLC
    assert values["member_role_label"] == "pracownik"
    assert values["role"] == "management"
    assert values["requested_slot"] == "confirmation"

    # by address, the role after "na" (the NLU gave both role words)
    text = f"zmień rolę {LIS} z magazyniera na pracownika"
    tracker = activation("change_role_form", {"verification_grant": grant}, text=text,
                         intent="change_role")
    events, _ = await run(ValidateChangeRoleForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_email"] == LIS and values["role"] == "employee"


async def test_a_name_before_verification_is_looked_up_after_it(live_backend, grant,
                                                                named_members, domain):
    """"usuń Ewę Lis" before the code: kept as the name, looked up once the grant is there."""
    tracker = activation("remove_user_form", {}, text="usuń użytkownika Ewa Lis",
                         intent="remove_user")
    events, _ = await run(ValidateRemoveUserForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_email"] == "Ewa Lis" and values["member_checked"] is False
    assert values["requested_slot"] == "email"

    # the turn that brought the grant (here: already held) resolves it
    slots = {"verification_grant": grant, "member_email": "Ewa Lis", "member_checked": False}
    tracker = form_turn("remove_user_form", slots, requested="verification_code", text="123456",
                        intent="inform", candidates={})
    events, _ = await run(ValidateRemoveUserForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_email"] == LIS and values["member_checked"] is True
    assert values["member_id"] == member_id(live_backend, LIS)
    assert values["requested_slot"] == "confirmation"


async def test_remove_user_from_the_first_message(live_backend, grant, named_members, domain):
    text = f"skasuj {TOMASZ_LIS} z użytkowników"
    tracker = activation("remove_user_form", {"verification_grant": grant}, text=text,
                         intent="remove_user")
    events, _ = await run(ValidateRemoveUserForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_email"] == TOMASZ_LIS
    assert values["member_name"] == "Tomasz Lis"
    assert values["requested_slot"] == "confirmation"  # confirmed once, nothing removed yet
    assert membership(live_backend, TOMASZ_LIS) == [("employee",)]


async def test_own_login_change_from_the_first_message(live_backend, grant, domain):
    text = f"zmiencie mi login z {JAN} na biuro@majafirma.pl"
    tracker = activation("change_login_email_form", {}, text=text, intent="change_login_email")
    events, _ = await run(ValidateChangeLoginEmailForm(), tracker, domain)
    values = slot_values(events)
    assert values["new_email"] == "biuro@majafirma.pl"
    assert values["member_email"] == JAN and values["member_checked"] is False
    tagged = {e["value"]: e.get("role") for e in tracker.latest_message["entities"]}
    assert tagged == {JAN: None, "biuro@majafirma.pl": "new"}

    # verified (the same conversation a turn later): it is the visitor's own login
    slots = {"verification_grant": grant, "verified_email": JAN, "verified_name": "Jan Kowalski",
             "member_email": JAN, "member_checked": False, "new_email": "biuro@majafirma.pl"}
    tracker = form_turn("change_login_email_form", slots, requested="verification_code",
                        text="123456", intent="inform", candidates={})
    events, _ = await run(ValidateChangeLoginEmailForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_is_self"] is True and values["member_email"] == JAN
    assert values["requested_slot"] == "confirmation"

    # "zmień mój login na …" with the identity held
    text = "zmień mój login na jan@nowafirma.pl"
    base = {"verification_grant": grant, "verified_email": JAN, "verified_name": "Jan Kowalski"}
    tracker = activation("change_login_email_form", base, text=text,
                         intent="change_login_email")
    events, _ = await run(ValidateChangeLoginEmailForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_email"] == JAN and values["member_is_self"] is True
    assert values["new_email"] == "jan@nowafirma.pl"
    assert values["requested_slot"] == "confirmation"


async def test_list_users_reads_the_members(live_backend, grant, named_members):
    events, messages = await run(ActionListUsers(), submitted("list_users_form", {
        "verification_grant": grant}))
    values = slot_values(events)
    assert values["list_users_status"] == "listed"
    assert values["company_name"] == "Majama Michał Zając"
    lines = values["members_list"].split("\n")
    assert f"- Jan Kowalski ({JAN}) – właściciel / prezes" in lines
    assert f"- Łukasz Żółć ({ZOLC}) – pracownik, zaproszony – jeszcze nie aktywował konta" in lines
    assert messages == []
    # reading only: nothing changed
    assert membership(live_backend, ZOLC) == [("employee",)]


async def test_list_users_refusals(live_backend, piotr_grant, closed_port_url, use_backend):
    events, _ = await run(ActionListUsers(), submitted("list_users_form", {
        "verification_grant": piotr_grant}))
    assert slot_values(events)["list_users_status"] == "not_owner"
    assert slot_values(events)["members_list"] is None

    events, _ = await run(ActionListUsers(), submitted("list_users_form", {
        "verification_grant": "expired"}))
    values = slot_values(events)
    assert values["list_users_status"] == "identity_expired"
    assert values["verification_grant"] is None

    use_backend(closed_port_url, timeout_seconds=1.0)
    events, _ = await run(ActionListUsers(), submitted("list_users_form", {
        "verification_grant": "g"}))
    assert slot_values(events)["list_users_status"] == "unavailable"


async def test_list_users_form_needs_only_the_identity(grant, domain):
    tracker = activation("list_users_form", {"verification_grant": grant},
                         text="kto ma dostęp do firmy?", intent="list_users")
    events, _ = await run(ValidateListUsersForm(), tracker, domain)
    assert slot_values(events)["requested_slot"] is None


# --- the rest --------------------------------------------------------------------------------


async def test_expired_grant(live_backend):
    slots = {"verification_grant": "expired", "member_id": "1", "role": "employee",
             "confirmation": True}
    events, _ = await run(ActionChangeRole(), submitted("change_role_form", slots))
    values = slot_values(events)
    assert values["change_role_status"] == "identity_expired"
    assert values["verification_grant"] is None


async def test_backend_unavailable(closed_port_url, use_backend):
    use_backend(closed_port_url, timeout_seconds=1.0)
    slots = add_user_slots("g", "a@b.pl", "A B", "employee", "pracownik")
    events, _ = await run(ActionAddUser(), submitted("add_user_form", slots))
    assert slot_values(events)["add_user_status"] == "unavailable"


async def test_cancel_resets_the_company_slots():
    events, _ = await run(ActionCancelCompanyForm(), make_tracker(slots={"member_email": ANNA}))
    values = slot_values(events)
    for slot in ("member_email", "person_name", "role", "new_email", "confirmation",
                 "member_id", "member_is_self", "company_refusal", "email", "verification_code",
                 "member_checked"):
        assert values[slot] is None


def test_idempotency_keys():
    def tracker(sender, stamp):
        event = user_event("tak", "affirm")
        event["timestamp"] = stamp
        return make_tracker(events=[event], sender_id=sender)

    key = idempotency_key(tracker("a", 1.0), "add_user", ANNA, "employee")
    assert key == idempotency_key(tracker("a", 1.0), "add_user", ANNA, "employee")
    assert key != idempotency_key(tracker("b", 1.0), "add_user", ANNA, "employee")
    assert key != idempotency_key(tracker("a", 2.0), "add_user", ANNA, "employee")
    assert key != idempotency_key(tracker("a", 1.0), "add_user", ANNA, "warehouse")
    assert re.fullmatch(r"[0-9a-f]{64}", key)


def test_company_actions_statuses_and_responses_match_the_domain():
    """actions/company.py and the domain agree (names, status values, responses)."""
    import inspect
    from pathlib import Path

    import yaml
    from rasa_sdk import Action

    import actions.company as module
    from actions.company import (
        AddUserStatus,
        ChangeLoginEmailStatus,
        ChangeRoleStatus,
        Refusal,
        RemoveUserStatus,
        RolesInfoStatus,
    )

    root = Path(__file__).resolve().parents[2]
    fragment = load_domain()
    names = {
        cls().name()
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Action)
        and cls.__module__ == module.__name__
        and not inspect.isabstract(cls)
    }
    assert names <= set(fragment["actions"])

    def values(cls):
        return {v for k, v in vars(cls).items() if not k.startswith("_")}

    refusals = Refusal.values()
    for slot, own in (
        ("add_user_status", AddUserStatus),
        ("change_role_status", ChangeRoleStatus),
        ("remove_user_status", RemoveUserStatus),
        ("change_login_email_status", ChangeLoginEmailStatus),
    ):
        domain_values = set(fragment["slots"][slot]["values"])
        assert values(own) <= domain_values, slot
        assert domain_values <= values(own) | refusals, slot
    assert values(RolesInfoStatus) == set(fragment["slots"]["roles_info_status"]["values"])
    assert {module.ListUsersStatus.LISTED, *module.LIST_USERS_REFUSALS} == set(
        fragment["slots"]["list_users_status"]["values"]
    )
    for response in (
        module.UTTER_ALREADY_MEMBER, module.UTTER_MEMBER_NOT_FOUND, module.UTTER_OWNER_ROLE,
        module.UTTER_ROLE_NOT_RECOGNISED, module.UTTER_INVALID_NAME, module.UTTER_SAME_EMAIL,
        module.UTTER_MEMBER_AMBIGUOUS, module.UTTER_MEMBER_NAME_NOT_FOUND,
        "utter_list_users_listed", "utter_list_users_not_owner", "utter_find_login",
    ):
        assert response in fragment["responses"], response


def test_a_login_change_that_names_nobody_else_is_the_visitors_own():
    form = ValidateChangeLoginEmailForm()
    for text in ("chcę zmienić maila do logowania", "jak zmienic login w ing ksiegowosc",
                 "Zmiana adresu e-mail do logowania",
                 "Aktualny login mi nie pasuje, zmiana poproszę",
                 "Czy jest możliwość zmiany adresu, który służy jako login? Na razie tylko pytam."):
        tracker = activation("change_login_email_form", {}, text=text, intent="change_login_email")
        assert form.member_from_request(tracker, classify_addresses(text)) == "mój", text
    for text in ("zmień login pracownika", "chcę zmienić jej adres do logowania",
                 "zmiana loginu naszej księgowej"):
        tracker = activation("change_login_email_form", {}, text=text, intent="change_login_email")
        assert form.member_from_request(tracker, classify_addresses(text)) is None, text
    text = "zmień login Tomasza Wrony"
    tracker = activation("change_login_email_form", {}, text=text, intent="change_login_email")
    assert form.member_from_request(tracker, classify_addresses(text)) == "Tomasza Wrony"
    # the current address is the login to change (the visitor's own one is found by it)
    text = "Dobrze, w takim razie proszę o zmianę. Obecny adres: anna@biuro.pl"
    tracker = activation("change_login_email_form", {}, text=text, intent="change_login_email")
    assert classify_addresses(text).current == ["anna@biuro.pl"]
    assert form.member_from_request(tracker, classify_addresses(text)) == "anna@biuro.pl"


async def test_which_member_question_lists_the_company_first(
    live_backend, grant, piotr_grant, named_members, closed_port_url, use_backend, domain
):
    asks = (ActionAskChangeRoleMember(), ActionAskRemoveUserMember(),
            ActionAskChangeLoginEmailMember())
    for action in asks:
        assert action.name() in domain["actions"]
        tracker = form_turn(action.form, {"verification_grant": grant}, requested="member_email",
                            text="123456", intent="inform", candidates={})
        events, messages = await run(action, tracker, domain)
        assert events == []
        assert responses(messages) == ["utter_company_members_to_choose_from",
                                       f"utter_ask_{action.form}_member_email"]
        assert messages[0]["company_name"] == "Majama Michał Zając"
        assert f"- Jan Kowalski ({JAN}) – właściciel / prezes" in messages[0]["members_list"]
        assert f"- Łukasz Żółć ({ZOLC})" in messages[0]["members_list"]

    action = ActionAskChangeRoleMember()
    # not the owner (the backend refuses the list), no identity, backend down: the question only
    for slots in ({"verification_grant": piotr_grant}, {}):
        tracker = form_turn(action.form, slots, requested="member_email", text="zmień rolę",
                            intent="change_role", candidates={})
        _, messages = await run(action, tracker, domain)
        assert responses(messages) == ["utter_ask_change_role_form_member_email"]
    use_backend(closed_port_url, timeout_seconds=1.0)
    tracker = form_turn(action.form, {"verification_grant": grant}, requested="member_email",
                        text="123456", intent="inform", candidates={})
    _, messages = await run(action, tracker, domain)
    assert responses(messages) == ["utter_ask_change_role_form_member_email"]


async def test_a_negated_role_is_not_the_one_taken(live_backend, grant, domain):
    # the NLU marks both roles and the mapping took the last; the message says which is meant
    text = f"{ANNA} ma byc pracownikiem a nie magazynierem"
    tracker = form_turn(
        "change_role_form", {"verification_grant": grant}, requested=None, text=text,
        intent="change_role", candidates={"role": "warehouse"},
        entities=[{"entity": "role", "value": "employee"}, {"entity": "role", "value": "warehouse"}],
    )
    events, _ = await run(ValidateChangeRoleForm(), tracker, domain)
    assert slot_values(events)["role"] == "employee"


@pytest.mark.parametrize(
    "text, named",
    [
        ("usun piotra", "piotra"),
        ("chce zmienic ewie role", "ewie"),
        ("jak usunac uzytkownika? pytam na przyszlosc", None),  # too long to guess from
        ("chce usunac uzytkownika", None),
    ],
)
async def test_a_name_in_lower_case_in_a_short_request(text, named, domain):
    tracker = form_turn("remove_user_form", {}, requested=None, text=text,
                        intent="remove_user", candidates={})
    assert await ValidateRemoveUserForm().extract_member_email(
        CollectingDispatcher(), tracker, domain
    ) == ({"member_email": named} if named else {})


# --- the guide's form: e-mail and role, the name optional --------------------------------------

NEW_MEMBER = "nowy.magazynier@majafirma.pl"
NAMED_MEMBER = "t.wrona.nowy@majafirma.pl"
RESET_AFTER_ADD = [
    SlotSet(slot, None)
    for slot in ("member_checked", "member_email", "person_name", "role", "new_email",
                 "confirmation", "member_id", "member_is_self", "company_refusal")
]


async def test_add_user_goes_from_the_address_to_the_role_to_the_summary(
    live_backend, grant, domain
):
    """As ING Księgowość's "Dodawanie użytkownika do firmy": the address, the role, "tak" - no
    name question on the way; the person is invited without a name."""
    form = "add_user_form"
    verified = {"verification_grant": grant}

    # the address: checked against the members list, then the role is asked for
    tracker = form_turn(form, verified, requested="member_email", text=NEW_MEMBER,
                        intent="inform", candidates={"member_email": NEW_MEMBER},
                        entities=[{"entity": "email", "value": NEW_MEMBER}])
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    assert events == [
        SlotSet("member_email", NEW_MEMBER),
        SlotSet("member_checked", True),
        SlotSet("requested_slot", "role"),
    ]
    assert messages == []

    # the role: then straight to the summary, which shows no name
    slots = {**verified, "member_email": NEW_MEMBER, "member_checked": True}
    tracker = form_turn(form, slots, requested="role", text="magazynier", intent="inform",
                        candidates={"role": "warehouse"},
                        entities=[{"entity": "role", "value": "warehouse"}])
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    shown = summary_fingerprint(
        form, {"member_email": NEW_MEMBER, "person_name": None, "role": "warehouse"}
    )
    assert events == [
        SlotSet("role", "warehouse"),
        SlotSet("role_label", "magazynier"),
        SlotSet("requested_slot", "confirmation"),
        SlotSet("confirmation_summary", shown),
    ]
    assert messages == []

    # "tak" approves exactly that summary and the form ends
    slots = {**slots, "role": "warehouse", "role_label": "magazynier",
             "confirmation_summary": shown}
    tracker = form_turn(form, slots, requested="confirmation", text="tak", intent="affirm",
                        candidates={"confirmation": True})
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    assert events == [SlotSet("confirmation", True), SlotSet("requested_slot", None)]
    assert messages == []

    # the submit action adds the person by address and role
    events, messages = await run(
        ActionAddUser(), submitted(form, {**slots, "confirmation": True}, "chat-no-name")
    )
    assert events == [
        SlotSet("add_user_status", "invited"),
        SlotSet("member_name", None),
        SlotSet("member_address", NEW_MEMBER),
        SlotSet("role_label", "magazynier"),
        *RESET_AFTER_ADD,
    ]
    assert messages == []
    assert membership(live_backend, NEW_MEMBER) == [("warehouse",)]
    assert live_backend.query("SELECT name FROM accounts WHERE email = ?", NEW_MEMBER) == [
        (None,)
    ]
    invitation = wait_for_mail(live_backend, NEW_MEMBER, INVITATION_SUBJECT)
    assert invitation["text"].replace("\r\n", "\n").startswith("Dzień dobry,\n\n")
    assert "None" not in invitation["text"]

    # "kto ma dostęp?": the address alone, no "None"
    events, _ = await run(ActionListUsers(), submitted("list_users_form", verified))
    lines = slot_values(events)["members_list"].split("\n")
    assert f"- {NEW_MEMBER} – magazynier, zaproszony – jeszcze nie aktywował konta" in lines
    assert not any("None" in line for line in lines)

    # the invited person gives the name when activating; the list shows it from then on
    activate_invitation(live_backend, NEW_MEMBER, PIOTR_PASSWORD, name="Marek Nowy")
    events, _ = await run(ActionListUsers(), submitted("list_users_form", verified))
    assert f"- Marek Nowy ({NEW_MEMBER}) – magazynier" in (
        slot_values(events)["members_list"].split("\n")
    )


async def test_a_name_in_the_first_message_is_taken_and_sent(live_backend, grant, domain):
    """"dodaj użytkownika Tomasz Wrona, <adres>, pracownik": the name comes with the address and
    the role; nothing is asked but the summary, which shows the name."""
    form = "add_user_form"
    text = f"dodaj użytkownika Tomasz Wrona, {NAMED_MEMBER}, pracownik"
    tracker = activation(form, {"verification_grant": grant}, text=text, intent="add_user",
                         candidates={"role": "employee"},
                         entities=[{"entity": "role", "value": "employee"},
                                   {"entity": "person_name", "value": "Tomasz Wrona"}])
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    shown = summary_fingerprint(
        form, {"member_email": NAMED_MEMBER, "person_name": "Tomasz Wrona", "role": "employee"}
    )
    assert events == [
        SlotSet("role", "employee"),  # Rasa's candidate, validated first
        SlotSet("member_email", NAMED_MEMBER),  # read from the text by the validator
        SlotSet("person_name", "Tomasz Wrona"),
        SlotSet("role_label", "pracownik"),
        SlotSet("member_checked", True),
        SlotSet("member_name", "Tomasz Wrona"),
        SlotSet("requested_slot", "confirmation"),
        SlotSet("confirmation_summary", shown),
    ]
    assert messages == []

    slots = {"verification_grant": grant, "member_email": NAMED_MEMBER, "member_checked": True,
             "person_name": "Tomasz Wrona", "member_name": "Tomasz Wrona", "role": "employee",
             "role_label": "pracownik", "confirmation": True}
    events, _ = await run(ActionAddUser(), submitted(form, slots, "chat-with-name"))
    assert events == [
        SlotSet("add_user_status", "invited"),
        SlotSet("member_name", "Tomasz Wrona"),
        SlotSet("member_address", NAMED_MEMBER),
        SlotSet("role_label", "pracownik"),
        *RESET_AFTER_ADD,
    ]
    assert live_backend.query("SELECT name FROM accounts WHERE email = ?", NAMED_MEMBER) == [
        ("Tomasz Wrona",)
    ]
    invitation = wait_for_mail(live_backend, NAMED_MEMBER, INVITATION_SUBJECT)
    assert "Dzień dobry, Tomasz Wrona!" in invitation["text"]


async def test_an_inflected_name_in_the_first_message_is_left_out_not_asked(
    live_backend, grant, domain
):
    """"dodaj Tomasza Wronę …": the name is in the accusative - it would go into the invitation
    as written - so it is left out; the form goes on to the role, and the invited person gives
    the name when activating."""
    text = "dodaj Tomasza Wronę, tomasz.wrona3@majafirma.pl"
    tracker = activation("add_user_form", {"verification_grant": grant}, text=text,
                         intent="add_user",
                         entities=[{"entity": "person_name", "value": "Tomasza Wronę"}])
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    assert events == [
        SlotSet("member_email", "tomasz.wrona3@majafirma.pl"),
        SlotSet("member_checked", True),
        SlotSet("requested_slot", "role"),
    ]
    assert messages == []


async def test_a_correction_that_is_no_name_keeps_the_name_shown(live_backend, grant, domain):
    form = "add_user_form"
    slots = {"verification_grant": grant, "member_email": "ewa.nowa@majafirma.pl",
             "member_checked": True, "person_name": "Ewa Lis", "member_name": "Ewa Lis",
             "role": "employee", "role_label": "pracownik", "confirmation_summary": "shown"}
    tracker = form_turn(form, slots, requested="confirmation", text="popraw: ma być X",
                        intent="inform", candidates={})
    tracker.events.insert(0, slot_event("person_name", "Ewa Lis"))
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    values = slot_values(events)
    assert values["person_name"] == "Ewa Lis" and values["member_name"] == "Ewa Lis"
    assert values["requested_slot"] == "confirmation"
    assert responses(messages) == ["utter_add_user_invalid_name"]


async def test_a_stale_name_never_reaches_a_new_add_user_form(live_backend, grant, domain):
    """A name left from another journey (the registration's) is forgotten when the form starts:
    the optional slot is cleared like the required ones."""
    tracker = activation("add_user_form", {"verification_grant": grant,
                                           "person_name": "Jan Nowicki"},
                         text="dodaj użytkownika", intent="add_user")
    events, _ = await run(ValidateAddUserForm(), tracker, domain)
    values = slot_values(events)
    assert values["person_name"] is None
    assert values["requested_slot"] == "member_email"


def test_the_domain_asks_for_the_address_and_the_role_only():
    """The form's questions are the guide's fields; nothing in the domain asks for a name or
    fills `person_name` unchecked while adding a user (the validator reads it from the text)."""
    fragment = load_domain()
    assert fragment["forms"]["add_user_form"]["required_slots"] == [
        "email", "verification_code", "member_email", "role", "confirmation",
    ]
    assert "utter_ask_add_user_form_person_name" not in fragment["responses"]
    assert "utter_ask_person_name" not in fragment["responses"]
    for mapping in fragment["slots"]["person_name"]["mappings"]:
        loops = {condition.get("active_loop") for condition in mapping.get("conditions", [])}
        assert "add_user_form" not in loops, mapping
    # the summary has a variation without the name
    variations = fragment["responses"]["utter_ask_add_user_form_confirmation"]
    conditions = [v.get("condition") for v in variations]
    assert [{"type": "slot", "name": "person_name", "value": None}] in conditions


async def test_a_role_word_describing_the_person_is_no_role_given(live_backend, grant, domain):
    """ "dodaj naszą księgową" names who she is; her permissions are asked for."""
    form = "add_user_form"
    text = "chce dodac ksiegowa do firmy, ksiegowa.nowa@majafirma.pl"
    tracker = activation(form, {"verification_grant": grant}, text=text, intent="add_user",
                         candidates={"role": "management"},
                         entities=[{"entity": "role", "value": "management"}])
    events, _ = await run(ValidateAddUserForm(), tracker, domain)
    values = slot_values(events)
    assert values["role"] is None
    assert values["requested_slot"] == "role"


async def test_the_address_corrected_while_the_role_is_asked(live_backend, grant, domain):
    form = "add_user_form"
    slots = {"verification_grant": grant, "member_email": "p.wrona.nowy@majafirma.pl",
             "member_checked": True}
    tracker = form_turn(form, slots, requested="role",
                        text="sorki, zle, piotr.wrona.nowy@majafirma.pl", intent="inform",
                        candidates={})
    events, messages = await run(ValidateAddUserForm(), tracker, domain)
    values = slot_values(events)
    assert values["member_email"] == "piotr.wrona.nowy@majafirma.pl"
    assert values["requested_slot"] == "role"
    assert messages == []  # no "that is no role"


@pytest.mark.parametrize("form", [ValidateChangeRoleForm, ValidateAddUserForm])
async def test_a_mistyped_role_the_nlu_tagged_but_could_not_map_is_read_from_the_words(form):
    # the from_entity mapping put the unmapped value "pracwnik" into the slot
    tracker = form_turn(
        form().form_name(), {"member_email": "piotr.wrona@majafirma.pl"}, requested="role",
        text="pracwnik", intent="inform", candidates={"role": "pracwnik"},
        entities=[{"entity": "role", "value": "pracwnik", "start": 0, "end": 8}],
    )
    dispatcher = CollectingDispatcher()
    assert await form().extract_role(dispatcher, tracker, {}) == {"role": "employee"}
    assert dispatcher.messages == []


async def test_a_role_named_at_the_summary_corrects_the_role_not_the_member():
    form = ValidateChangeRoleForm()
    tracker = form_turn(
        "change_role_form",
        {"member_email": "lukasz.zolc@majafirma.pl", "role": "management"},
        requested="confirmation", text="nie, sorry, magazyniera", intent="inform",
        candidates={},
    )
    assert form.member_from_correction(tracker, classify_addresses("nie, sorry, magazyniera")) is None
    dispatcher = CollectingDispatcher()
    assert await form.extract_member_email(dispatcher, tracker, {}) == {}
