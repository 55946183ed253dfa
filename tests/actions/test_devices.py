"""The mobile-device journeys against the real backend: is a device paired, remove it (always
after one confirmation; a lost/stolen phone at once after its "tak"; a "tak" to the removal offer
right after the device was named is that confirmation). The device is paired first through the
backend's public pairing endpoint, as the ING Office app does."""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.request
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient
from actions.devices import (
    ActionCancelDeviceForm,
    ActionDeviceStatus,
    ActionRemoveDevice,
    ValidateDeviceStatusForm,
    ValidateRemoveDeviceForm,
)
from actions.identity import identity_expired_events
from tests.actions.helpers import fresh_requester, make_tracker, slot_event, user_event
from bot.domain_files import load_domain

JAN = "jan.kowalski@majafirma.pl"
PASSWORD = "Faktura#2026"
DEVICE_NAME = "Samsung Galaxy S23 Jana"
REMOVED_SUBJECT = "Urządzenie mobilne zostało odłączone od konta"
CODE_SUBJECT = "Kod weryfikacyjny"


# --- helpers ---------------------------------------------------------------------------------


def wait_for_mail(
    backend, address: str, subject_part: str, timeout: float = 20.0
) -> Dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(backend.mails_to(address)):
            if subject_part in message["subject"]:
                return message
        time.sleep(0.2)
    raise AssertionError(f"no mail {subject_part!r} to {address}")


def read_code(backend, address: str) -> str:
    message = wait_for_mail(backend, address, CODE_SUBJECT)
    return re.search(r"(?<!\d)\d{6}(?!\d)", message["text"]).group(0)


def pair_device(backend_url: str, name: str = DEVICE_NAME, platform: str = "android") -> None:
    """What the app does: POST /api/v1/mobile/activate with the person's e-mail and password."""
    body = json.dumps(
        {"email": JAN, "password": PASSWORD, "device_name": name, "platform": platform}
    ).encode()
    request = urllib.request.Request(
        f"{backend_url}/api/v1/mobile/activate",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 201


def devices_of_jan(backend) -> List[tuple]:
    return backend.query(
        "SELECT d.name, d.platform FROM mobile_devices d JOIN accounts a ON a.id = d.account_id "
        "WHERE a.email = ?",
        JAN,
    )


@pytest.fixture(scope="module")
def grant(live_stack) -> str:
    """A verification grant for Jan, obtained as the chat does (code e-mailed, then checked)."""
    import asyncio

    from tests.actions.conftest import LiveBackend

    client = BackendClient(live_stack.url("backend"), live_stack.service_token, 10.0)
    backend = LiveBackend(live_stack)
    backend.clear_mail()

    async def obtain() -> str:
        await client.request_verification_code(JAN, fresh_requester())
        code = read_code(backend, JAN)
        return (await client.check_verification_code(JAN, code))["grant"]

    return asyncio.run(obtain())


def submitted(form: str, slots: Dict[str, Any], sender_id: str = "device-test"):
    """The tracker when the submit action runs after `form` completed."""
    return make_tracker(
        slots={"requested_slot": None, **slots},
        events=[
            {"event": "action", "name": form},
            slot_event("requested_slot", None),
            {"event": "active_loop", "name": None},
        ],
        latest_action_name=form,
        sender_id=sender_id,
    )


def form_turn(
    form: str,
    slots: Dict[str, Any],
    *,
    requested: Optional[str],
    text: str,
    intent: str,
    candidates: Dict[str, Any],
    entities: Optional[List[Dict[str, Any]]] = None,
    active: bool = True,
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
        active_loop=form if active else None,
        latest_action_name=form,
    )


async def run(action, tracker, domain=None):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain or {})
    return events, [m.get("response") for m in dispatcher.messages]


def slot_values(events) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


# --- tests (one backend database for the module; the order matters) ---------------------------


async def test_status_without_a_device(live_backend, grant):
    tracker = submitted("device_status_form", {"verification_grant": grant})
    events, messages = await run(ActionDeviceStatus(), tracker)

    assert events == [
        SlotSet("device_status", "not_paired"),
        SlotSet("device_name", None),
        SlotSet("device_platform", None),
        SlotSet("device_paired_since", None),
    ]
    assert messages == []


async def test_status_shows_the_paired_device(live_backend, grant):
    pair_device(live_backend.url)
    wait_for_mail(live_backend, JAN, "Nowe urządzenie mobilne")

    tracker = submitted("device_status_form", {"verification_grant": grant})
    events, _ = await run(ActionDeviceStatus(), tracker)

    values = slot_values(events)
    assert values["device_status"] == "paired"
    assert values["device_name"] == DEVICE_NAME
    assert values["device_platform"] == "Android"
    assert re.fullmatch(r"\d{2}\.\d{2}\.\d{4}", values["device_paired_since"])


async def test_status_form_is_complete_with_a_grant(live_backend, grant, domain):
    tracker = make_tracker(
        slots={"verification_grant": grant},
        events=[{"event": "action", "name": "device_status_form"}],
        latest_action_name="device_status_form",
    )
    events, messages = await run(ValidateDeviceStatusForm(), tracker, domain)

    # the grant is held: nothing to ask, the form's only slot is filled
    assert slot_values(events).get("requested_slot") is None
    assert messages == []


async def test_removal_form_names_the_device_before_the_confirmation(live_backend, grant, domain):
    tracker = make_tracker(
        slots={"verification_grant": grant, "requested_slot": None},
        events=[
            user_event("chcę usunąć sparowany telefon", "remove_device"),
            {"event": "action", "name": "remove_device_form"},
        ],
        latest_action_name="remove_device_form",
    )
    events, messages = await run(ValidateRemoveDeviceForm(), tracker, domain)

    values = slot_values(events)
    assert values["device_found"] is True
    assert values["device_name"] == DEVICE_NAME
    assert values["device_platform"] == "Android"
    assert values["requested_slot"] == "confirmation"
    assert messages == []
    assert devices_of_jan(live_backend) == [(DEVICE_NAME, "android")]


async def test_not_confirmed_keeps_the_device(live_backend, grant):
    slots = {"verification_grant": grant, "confirmation": False, "device_found": True}

    events, _ = await run(ActionRemoveDevice(), submitted("remove_device_form", slots))

    assert events == [
        SlotSet("remove_device_status", "cancelled"),
        SlotSet("confirmation", None),
        SlotSet("device_reason", None),
        SlotSet("device_found", None),
    ]
    assert devices_of_jan(live_backend) == [(DEVICE_NAME, "android")]


async def test_confirmed_removal_removes_the_row_and_sends_a_notice(live_backend, grant, caplog):
    caplog.set_level(logging.DEBUG)
    slots = {"verification_grant": grant, "confirmation": True, "device_found": True}

    events, messages = await run(ActionRemoveDevice(), submitted("remove_device_form", slots))

    values = slot_values(events)
    assert values["remove_device_status"] == "removed"
    assert values["device_name"] == DEVICE_NAME
    assert values["confirmation"] is None and values["device_reason"] is None
    assert messages == []
    assert devices_of_jan(live_backend) == []
    notice = wait_for_mail(live_backend, JAN, REMOVED_SUBJECT)
    assert DEVICE_NAME in notice["text"]
    assert grant not in caplog.text


async def test_no_device_to_remove(live_backend, grant):
    slots = {"verification_grant": grant, "confirmation": True}

    events, _ = await run(ActionRemoveDevice(), submitted("remove_device_form", slots))

    assert slot_values(events)["remove_device_status"] == "no_device"


async def test_form_without_a_device_ends_without_asking(live_backend, grant, domain):
    tracker = make_tracker(
        slots={"verification_grant": grant, "requested_slot": None},
        events=[
            user_event("usuń telefon", "remove_device"),
            {"event": "action", "name": "remove_device_form"},
        ],
        latest_action_name="remove_device_form",
    )
    events, _ = await run(ValidateRemoveDeviceForm(), tracker, domain)

    values = slot_values(events)
    assert values["device_found"] is False
    assert values["requested_slot"] is None  # nothing to confirm: the form ends

    slots = {"verification_grant": grant, "device_found": False}
    events, _ = await run(ActionRemoveDevice(), submitted("remove_device_form", slots))
    assert slot_values(events)["remove_device_status"] == "no_device"


@pytest.mark.parametrize("reason", ["lost", "stolen"])
async def test_lost_or_stolen_phone_is_removed_at_once_after_one_yes(
    live_backend, grant, domain, reason
):
    pair_device(live_backend.url, name=f"Telefon {reason}", platform="ios")
    # the form: identity held, lost/stolen -> one question naming the device
    tracker = make_tracker(
        slots={"verification_grant": grant, "device_reason": reason, "requested_slot": None},
        events=[
            user_event(
                "zgubiłem telefon",
                "remove_device",
                [{"entity": "device_reason", "value": reason}],
            ),
            slot_event("device_reason", reason),
            {"event": "action", "name": "remove_device_form"},
        ],
        latest_action_name="remove_device_form",
    )
    events, messages = await run(ValidateRemoveDeviceForm(), tracker, domain)
    values = slot_values(events)
    assert values["requested_slot"] == "confirmation"
    assert values["device_found"] is True
    assert values["device_name"] == f"Telefon {reason}"
    assert messages == []
    asked = {"verification_grant": grant, "device_reason": reason, **values}

    # no "tak" yet: nothing is removed
    events, _ = await run(ActionRemoveDevice(), submitted("remove_device_form", {
        "verification_grant": grant, "device_reason": reason}))
    assert slot_values(events)["remove_device_status"] == "cancelled"
    assert len(devices_of_jan(live_backend)) == 1

    # "tak": the form ends, the phone goes at once
    tracker = form_turn("remove_device_form", asked, requested="confirmation", text="tak",
                        intent="affirm", candidates={"confirmation": True})
    events, _ = await run(ValidateRemoveDeviceForm(), tracker, domain)
    values = slot_values(events)
    assert values["confirmation"] is True
    assert values["requested_slot"] is None

    slots = {"verification_grant": grant, "device_reason": reason, "confirmation": True}
    events, _ = await run(ActionRemoveDevice(), submitted("remove_device_form", slots))

    values = slot_values(events)
    assert values["remove_device_status"] == "removed_lost"
    assert values["device_name"] == f"Telefon {reason}"
    assert values["device_platform"] == "iOS"
    assert values["device_reason"] is None
    assert devices_of_jan(live_backend) == []
    notice = wait_for_mail(live_backend, JAN, REMOVED_SUBJECT)
    assert f"Telefon {reason}" in notice["text"]


def offer_answer(slots: Dict[str, Any], *, intent: str = "affirm", text: str = "tak"):
    """The tracker at remove_device_form's activation by a "tak" to the one-device rule's
    "Czy chcesz je teraz usunąć?" right after the device check named the device."""
    return make_tracker(
        slots={"requested_slot": None, "device_status": "paired", **slots},
        events=[
            {"event": "action", "name": "action_device_status"},
            slot_event("device_status", "paired"),
            {"event": "action", "name": "utter_device_paired"},
            {"event": "bot", "text": "Do Twojego konta jest podłączone urządzenie…"},
            {"event": "action", "name": "utter_device_one_device_rule"},
            {"event": "bot", "text": "Czy chcesz je teraz usunąć?"},
            {"event": "action", "name": "action_listen"},
            user_event(text, intent),
            {"event": "action", "name": "remove_device_form"},
        ],
        latest_action_name="remove_device_form",
    )


async def test_yes_to_the_removal_offer_is_the_one_confirmation(live_backend, grant, domain):
    pair_device(live_backend.url, name="Moto G", platform="android")
    shown = {"verification_grant": grant, "device_name": "Moto G", "device_platform": "Android"}

    events, messages = await run(ValidateRemoveDeviceForm(), offer_answer(shown), domain)

    values = slot_values(events)
    assert values["confirmation"] is True
    assert values["requested_slot"] is None  # no second "Czy na pewno…?"
    assert messages == []
    events, _ = await run(ActionRemoveDevice(), submitted("remove_device_form", {
        "verification_grant": grant, "confirmation": True, "device_found": True}))
    assert slot_values(events)["remove_device_status"] == "removed"
    assert devices_of_jan(live_backend) == []


async def test_an_acknowledgement_of_the_device_is_no_yes_to_remove_it(
    live_backend, grant, domain
):
    """ "ok, to ten" answers "is this your phone?", not "remove it?": the form asks first."""
    pair_device(live_backend.url, name="Moto G", platform="android")
    shown = {"verification_grant": grant, "device_name": "Moto G", "device_platform": "Android"}

    for text in ("ok, to ten, zgadza sie", "dobra"):
        events, _ = await run(ValidateRemoveDeviceForm(), offer_answer(shown, text=text), domain)
        values = slot_values(events)
        assert values.get("confirmation") is None
        assert values["requested_slot"] == "confirmation"
    assert len(devices_of_jan(live_backend)) == 1

    events, _ = await run(ActionRemoveDevice(), submitted("remove_device_form", {
        "verification_grant": grant, "confirmation": True, "device_found": True}))
    assert devices_of_jan(live_backend) == []


async def test_yes_to_the_offer_for_another_device_asks_again(live_backend, grant, domain):
    """Another phone was paired since the check named one: the "tak" does not remove it."""
    pair_device(live_backend.url, name="iPhone 15", platform="ios")
    shown = {"verification_grant": grant, "device_name": "Moto G", "device_platform": "Android"}

    events, _ = await run(ValidateRemoveDeviceForm(), offer_answer(shown), domain)

    values = slot_values(events)
    assert values.get("confirmation") is None
    assert values["requested_slot"] == "confirmation"
    assert values["device_name"] == "iPhone 15"
    assert len(devices_of_jan(live_backend)) == 1
    # and a plain "usuń urządzenie" is asked once as before
    tracker = make_tracker(
        slots={"verification_grant": grant, "requested_slot": None},
        events=[user_event("usuń urządzenie", "remove_device"),
                {"event": "action", "name": "remove_device_form"}],
        latest_action_name="remove_device_form",
    )
    events, _ = await run(ValidateRemoveDeviceForm(), tracker, domain)
    assert slot_values(events)["requested_slot"] == "confirmation"
    removed, _ = await run(ActionRemoveDevice(), submitted("remove_device_form", {
        "verification_grant": grant, "confirmation": True}))
    assert slot_values(removed)["remove_device_status"] == "removed"


async def test_identity_through_the_form_then_removal(live_backend, domain, caplog):
    """The whole remove_device_form with the identity validator: e-mail, code from the mail,
    then the device look-up for the confirmation question."""
    caplog.set_level(logging.DEBUG)
    pair_device(live_backend.url, name="Pixel 8")
    form = "remove_device_form"

    # 1. the address: a code is sent
    tracker = form_turn(
        form, {}, requested="email", text=JAN, intent="inform", candidates={"email": JAN}
    )
    events, messages = await run(ValidateRemoveDeviceForm(), tracker, domain)
    assert slot_values(events)["email"] == JAN
    # the domain's order (email, verification_code, confirmation): Rasa asks the code next
    assert slot_values(events).get("requested_slot", "verification_code") == "verification_code"
    assert messages == ["utter_verification_code_sent"]
    code = read_code(live_backend, JAN)

    # 2. the code: a grant, then the device is looked up and the confirmation is next
    tracker = form_turn(
        form, {"email": JAN}, requested="verification_code", text=code, intent="inform",
        candidates={"verification_code": code},
    )
    events, messages = await run(ValidateRemoveDeviceForm(), tracker, domain)
    values = slot_values(events)
    new_grant = values["verification_grant"]
    assert new_grant
    assert values["device_found"] is True and values["device_name"] == "Pixel 8"
    assert values["requested_slot"] == "confirmation"
    assert "utter_identity_verified" in messages

    # 3. "tak" -> removed
    slots = {"verification_grant": new_grant, "confirmation": True, "device_found": True}
    events, _ = await run(ActionRemoveDevice(), submitted(form, slots))
    assert slot_values(events)["remove_device_status"] == "removed"
    assert devices_of_jan(live_backend) == []
    assert code not in caplog.text and new_grant not in caplog.text


async def test_expired_grant_forgets_the_identity(live_backend):
    slots = {"verification_grant": "not-a-real-grant", "confirmation": True}

    events, _ = await run(ActionRemoveDevice(), submitted("remove_device_form", slots))
    values = slot_values(events)
    assert values["remove_device_status"] == "identity_expired"
    assert values["verification_grant"] is None

    slots = {"verification_grant": "not-a-real-grant", "device_reason": "lost",
             "confirmation": True}
    events, _ = await run(ActionRemoveDevice(), submitted("remove_device_form", slots))
    values = slot_values(events)
    assert values["remove_device_status"] == "identity_expired"
    assert values["device_reason"] == "lost"  # after a new code the phone still goes at once

    tracker = submitted("device_status_form", {"verification_grant": "x"})
    events, _ = await run(ActionDeviceStatus(), tracker)
    values = slot_values(events)
    assert values["device_status"] == "identity_expired"
    assert values["verification_grant"] is None


async def test_backend_unavailable(closed_port_url, use_backend):
    use_backend(closed_port_url, timeout_seconds=1.0)

    tracker = submitted("device_status_form", {"verification_grant": "g"})
    events, _ = await run(ActionDeviceStatus(), tracker)
    assert slot_values(events)["device_status"] == "unavailable"

    slots = {"verification_grant": "g", "confirmation": True}
    events, _ = await run(ActionRemoveDevice(), submitted("remove_device_form", slots))
    assert slot_values(events)["remove_device_status"] == "unavailable"


async def test_cancel_resets_the_form():
    events, _ = await run(ActionCancelDeviceForm(), make_tracker(slots={"device_reason": "lost"}))
    assert slot_values(events) == {
        "confirmation": None,
        "device_reason": None,
        "device_found": None,
        "email": None,
        "verification_code": None,
    }


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("lost", "lost"),
        ("stolen", "stolen"),
        ("replace", "replace"),
        (None, "replace"),
        ("zgubiłam komórkę", "lost"),
        ("telefon zaginął", "lost"),
        ("ukradł", "stolen"),
        ("skradziony telefon", "stolen"),
        ("nowy smartfon", "replace"),
    ],
)
def test_removal_reason_from_unmapped_entity_values(value, reason):
    from actions.devices import removal_reason

    assert removal_reason(make_tracker(slots={"device_reason": value})) == reason


def test_device_actions_and_statuses_match_the_domain():
    """actions/devices.py and the domain agree (names, status values, responses)."""
    import inspect
    from pathlib import Path

    import yaml
    from rasa_sdk import Action

    import actions.devices as module
    from actions.devices import DeviceStatus, RemoveDeviceStatus

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
    for slot, statuses in (
        ("device_status", DeviceStatus),
        ("remove_device_status", RemoveDeviceStatus),
    ):
        assert statuses.values() == set(fragment["slots"][slot]["values"]), slot


async def test_lost_said_at_the_confirmation_asks_once_more_in_those_words(domain):
    """"Czy na pewno usunąć…?" - "zgubiłam go": the reason is taken and the question is asked
    again for a lost phone (one "tak" then removes it at once); nothing is removed yet."""
    tracker = form_turn(
        "remove_device_form",
        {"verification_grant": "g", "device_found": True, "device_name": "Pixel"},
        requested="confirmation",
        text="zgubiłam go",
        intent="inform",
        candidates={"device_reason": "zgubiłam go"},
        entities=[{"entity": "device_reason", "value": "zgubiłam go"}],
    )
    events, messages = await run(ValidateRemoveDeviceForm(), tracker, domain)

    values = slot_values(events)
    assert values["device_reason"] == "lost"
    assert values["requested_slot"] == "confirmation"
    assert values.get("confirmation") is None
    assert messages == []


async def test_every_outcome_of_a_granted_operation(fake_backend, use_backend):
    """The shape every GrantedOperation shares (actions/granted.py), exact events: a mapped
    refusal, one it has no value for, an expired grant (the identity forgotten, a lost phone
    still removed at once after the new code), no grant at all (no call)."""
    use_backend(fake_backend.url)
    slots = {"verification_grant": "g", "confirmation": True, "device_reason": "lost"}
    form_reset = [
        SlotSet("confirmation", None),
        SlotSet("device_reason", None),
        SlotSet("device_found", None),
    ]

    fake_backend.reply_error(404, "no_device", "Brak urządzenia.")
    events, _ = await run(ActionRemoveDevice(), submitted("remove_device_form", slots))
    assert events == [SlotSet("remove_device_status", "no_device")] + form_reset

    fake_backend.reply_error(409, "something_new", "Coś nowego.")
    events, _ = await run(ActionRemoveDevice(), submitted("remove_device_form", slots))
    assert events == [SlotSet("remove_device_status", "failed")] + form_reset

    fake_backend.reply_error(401, "verification_required", "Potwierdź tożsamość.")
    events, _ = await run(ActionRemoveDevice(), submitted("remove_device_form", slots))
    assert events == (
        [SlotSet("remove_device_status", "identity_expired")]
        + form_reset
        + [SlotSet("device_reason", "lost")]
        + identity_expired_events()
    )
    assert [r.json for r in fake_backend.requests] == [{"reason": "lost"}] * 3

    events, _ = await run(ActionDeviceStatus(), submitted("device_status_form", {}))
    assert events == [
        SlotSet("device_status", "identity_expired"),
        SlotSet("device_name", None),
        SlotSet("device_platform", None),
        SlotSet("device_paired_since", None),
    ] + identity_expired_events()
    assert len(fake_backend.requests) == 3  # no grant, no call
