"""The ING Office mobile app: is a device paired, and removing it so a new phone can be paired.

Guide 2 ("Aplikacja mobilna / Zaufane urządzenia"): one device per account; it can be changed or
removed at any time. Both journeys need a verified identity (``VerifiedIdentityValidator``).

- ``device_status_form`` (identity only) -> ``action_device_status`` reads the paired device and
  sets ``device_status`` (``not_paired`` / ``paired`` / ...) plus ``device_name``,
  ``device_platform`` and ``device_paired_since`` for the reply (data/rules/devices.yml).
- ``remove_device_form`` (identity, then ``confirmation`` naming the device) ->
  ``action_remove_device``. A lost or stolen phone (``device_reason`` lost / stolen) is removed at
  once: the validator drops the confirmation step. Before asking for the confirmation the
  validator looks the device up once (``device_name`` for the question; no device at all ends the
  form without asking, ``device_found`` = False), and again at the "tak": a "tak" removes only the
  device the question named (actions/confirmation.py); another one paired since is asked about.

Actions write no text: they set the categorical status slots the rules branch on; the values the
replies show are slots too. Grants are never logged.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendError, BackendUnavailable, get_backend_client
from actions.confirmation import ConfirmedFormValidator, says_yes
from actions.forms import CancelForm
from actions.granted import GrantedOperation, GrantedOutcome, Outcome
from actions.identity import (
    CODE_SLOT,
    VerifiedIdentityValidator,
    grant_of,
)
from actions.tracker import (
    action_before_latest_message,
    latest_intent,
    latest_text,
    slot_before_latest_message,
)
from actions.validators import EMAIL_SLOT
from common.polish import format_iso_date

logger = logging.getLogger(__name__)

DEVICE_STATUS_FORM = "device_status_form"
REMOVE_DEVICE_FORM = "remove_device_form"

DEVICE_STATUS_SLOT = "device_status"
REMOVE_DEVICE_STATUS_SLOT = "remove_device_status"
DEVICE_NAME_SLOT = "device_name"
DEVICE_PLATFORM_SLOT = "device_platform"
DEVICE_SINCE_SLOT = "device_paired_since"
DEVICE_FOUND_SLOT = "device_found"
DEVICE_REASON_SLOT = "device_reason"
CONFIRMATION_SLOT = "confirmation"
# The removal's values for the reply, and what the removal form collects.
DEVICE_REPLY_SLOTS = (DEVICE_NAME_SLOT, DEVICE_PLATFORM_SLOT, DEVICE_SINCE_SLOT)
REMOVAL_FORM_SLOTS = (CONFIRMATION_SLOT, DEVICE_REASON_SLOT, DEVICE_FOUND_SLOT)

REASON_LOST = "lost"
REASON_STOLEN = "stolen"
REASON_REPLACE = "replace"
REMOVAL_REASONS = (REASON_LOST, REASON_STOLEN, REASON_REPLACE)
IMMEDIATE_REASONS = (REASON_LOST, REASON_STOLEN)

# How the backend's platform codes are shown (product names, not prose).
PLATFORM_NAMES = {"android": "Android", "ios": "iOS"}


class DeviceStatus(GrantedOutcome):
    """Values of the categorical slot `device_status` (domain/devices.yml)."""

    NOT_PAIRED = "not_paired"
    PAIRED = "paired"


class RemoveDeviceStatus(GrantedOutcome):
    """Values of the categorical slot `remove_device_status` (domain/devices.yml)."""

    REMOVED = "removed"
    REMOVED_LOST = "removed_lost"  # lost or stolen: removed at once, change the password
    NO_DEVICE = "no_device"
    CANCELLED = "cancelled"


# --- helpers ---------------------------------------------------------------------------------


# Stems of an entity value the synonyms did not map ("zgubiłam komórkę", "ukradł").
_STOLEN_STEMS = ("ukrad", "skradzi", "kradzie", "kradzio")
_LOST_STEMS = ("zgubi", "zgin", "zagin", "strac")


def _reason_of(value: object) -> str:
    """A device_reason value as lost / stolen / replace (the default: another phone)."""
    if value in REMOVAL_REASONS:
        return value
    text = value.casefold() if isinstance(value, str) else ""
    if any(stem in text for stem in _STOLEN_STEMS):
        return REASON_STOLEN
    if any(stem in text for stem in _LOST_STEMS):
        return REASON_LOST
    return REASON_REPLACE


def removal_reason(tracker: Tracker) -> str:
    """lost / stolen / replace (the default: the user wants to pair another phone)."""
    return _reason_of(tracker.get_slot(DEVICE_REASON_SLOT))


def is_immediate(tracker: Tracker) -> bool:
    return removal_reason(tracker) in IMMEDIATE_REASONS


def device_slots(device: Optional[Dict[str, Any]]) -> Dict[Text, Any]:
    """The reply's values of a device from the backend (`DeviceOut` of the devices API), or all None."""
    if not isinstance(device, dict):
        return {slot: None for slot in DEVICE_REPLY_SLOTS}
    name = device.get("name") if isinstance(device.get("name"), str) else None
    platform = device.get("platform")
    return {
        DEVICE_NAME_SLOT: name,
        DEVICE_PLATFORM_SLOT: PLATFORM_NAMES.get(platform, platform)
        if isinstance(platform, str)
        else None,
        DEVICE_SINCE_SLOT: format_iso_date(device.get("created_at")),
    }


def _slot_events(values: Dict[Text, Any]) -> List[EventType]:
    return [SlotSet(name, value) for name, value in values.items()]


OFFER_RESPONSE = "utter_device_one_device_rule"
_OFFER_ACCEPTED = "_pomocnik_offer_accepted"


def _answers_offer(tracker: Tracker) -> bool:
    """The latest message is a "tak" to the removal offer that followed the paired device: the
    button, or words that say yes to removing ("tak", "usuń"); "ok, to ten, zgadza się" only
    acknowledges the device shown, so the form asks its own question before removing."""
    if latest_intent(tracker) != "affirm":
        return False
    text = latest_text(tracker)
    if not (text.startswith("/") or says_yes(REMOVE_DEVICE_FORM, text, strict=True)):
        return False
    if tracker.get_slot(DEVICE_STATUS_SLOT) != DeviceStatus.PAIRED:
        return False
    return action_before_latest_message(tracker) == OFFER_RESPONSE


def _reason_before_latest_message(tracker: Tracker) -> str:
    """The removal reason as it was before the latest message (replace when none)."""
    return _reason_of(slot_before_latest_message(tracker, DEVICE_REASON_SLOT))


# --- is a device paired? -----------------------------------------------------------------------


class ValidateDeviceStatusForm(VerifiedIdentityValidator):
    """Only the identity: the form's single slot `verification_grant` is filled by it."""

    def form_name(self) -> Text:
        return DEVICE_STATUS_FORM


class ActionDeviceStatus(GrantedOperation):
    status_slot = DEVICE_STATUS_SLOT
    reply_slots = DEVICE_REPLY_SLOTS

    def name(self) -> Text:
        return "action_device_status"

    async def perform(self, grant: str, tracker: Tracker) -> Outcome:
        answer = await get_backend_client().paired_device(grant)
        device = answer.get("device") if isinstance(answer, dict) else None
        if not isinstance(device, dict):
            return DeviceStatus.NOT_PAIRED, {}
        return DeviceStatus.PAIRED, device_slots(device)


# --- remove the device -------------------------------------------------------------------------


class ValidateRemoveDeviceForm(ConfirmedFormValidator, VerifiedIdentityValidator):
    # "tak" approves removing the device the question named, for the reason it was asked with
    # (actions/confirmation.py); a lost or stolen phone needs no confirmation at all.
    confirmed_slots = (DEVICE_REASON_SLOT,)

    def form_name(self) -> Text:
        return REMOVE_DEVICE_FORM

    def summary_values(self, tracker: Tracker) -> Dict[Text, Any]:
        return {
            "reason": removal_reason(tracker),
            DEVICE_FOUND_SLOT: tracker.slots.get(DEVICE_FOUND_SLOT),
            **{
                slot: tracker.slots.get(slot)
                for slot in (DEVICE_NAME_SLOT, DEVICE_PLATFORM_SLOT, DEVICE_SINCE_SLOT)
            },
        }

    async def refresh_summary_values(self, tracker: Tracker) -> List[EventType]:
        # The backend removes whichever device is paired at that moment: if another phone was
        # paired since the question named one, the "tak" must not remove it unseen.
        grant = grant_of(tracker)
        if grant is None:
            return []
        lookup = await self._look_up_device(grant)
        tracker.slots.update(lookup)
        return _slot_events(lookup)

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        own = list(domain_slots)
        # With no device there is nothing to confirm (a lost or stolen phone is confirmed too:
        # one "tak", then it goes at once).
        if tracker.get_slot(DEVICE_FOUND_SLOT) is False:
            own = [slot for slot in own if slot != CONFIRMATION_SLOT]
        return await super().required_slots(own, dispatcher, tracker, domain)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        events: List[EventType] = []
        activating = tracker.get_slot(REQUESTED_SLOT) is None
        if activating and tracker.get_slot(DEVICE_FOUND_SLOT) is not None:
            # The form is being activated: a look-up left from an earlier run does not count.
            events = [SlotSet(DEVICE_FOUND_SLOT, None)]
            tracker.slots[DEVICE_FOUND_SLOT] = None
        reason = tracker.get_slot(DEVICE_REASON_SLOT)
        if isinstance(reason, str) and reason not in REMOVAL_REASONS:
            # "zgubiłam komórkę" the synonyms did not map: the canonical value (the question's
            # wording depends on it)
            events.append(SlotSet(DEVICE_REASON_SLOT, removal_reason(tracker)))
            tracker.slots[DEVICE_REASON_SLOT] = removal_reason(tracker)
        if activating:
            events += await self._accept_offer(tracker)
        return events + await super().run(dispatcher, tracker, domain)

    async def _accept_offer(self, tracker: Tracker) -> List[EventType]:
        """"Czy chcesz je teraz usunąć?" right after naming the paired device, answered "tak":
        that is the one confirmation - if the device is still the one named, no second
        question. Returns the look-up's events; the "tak" becomes the confirmation candidate."""
        if not _answers_offer(tracker) or grant_of(tracker) is None:
            return []
        shown = (tracker.get_slot(DEVICE_NAME_SLOT), tracker.get_slot(DEVICE_PLATFORM_SLOT))
        lookup = await self._look_up_device(grant_of(tracker))
        if not lookup:
            return []
        tracker.slots.update(lookup)
        events = _slot_events(lookup)
        if lookup.get(DEVICE_FOUND_SLOT) and shown == (
            lookup.get(DEVICE_NAME_SLOT),
            lookup.get(DEVICE_PLATFORM_SLOT),
        ):
            tracker.events.append(SlotSet(CONFIRMATION_SLOT, True))
            tracker.slots[CONFIRMATION_SLOT] = True
            setattr(tracker, _OFFER_ACCEPTED, True)  # per request: the action is shared
        return events

    def _bind_confirmation(self, tracker: Tracker) -> List[EventType]:
        if getattr(tracker, _OFFER_ACCEPTED, False):
            return []
        return super()._bind_confirmation(tracker)

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        tracker.add_slots(events)
        if (
            tracker.get_slot(REQUESTED_SLOT) == CONFIRMATION_SLOT
            and removal_reason(tracker) != _reason_before_latest_message(tracker)
            and tracker.get_slot(CONFIRMATION_SLOT) is None
        ):
            # Asked "Czy na pewno…?", the user said the phone is lost or stolen: the question
            # is asked again in those words (this SlotSet also keeps Rasa from rejecting the
            # form); one "tak" then removes it at once.
            reason_event = SlotSet(DEVICE_REASON_SLOT, removal_reason(tracker))
            tracker.add_slots([reason_event])
            return events + [reason_event]
        # Before the question "Czy na pewno usunąć urządzenie X?": find X (once).
        grant = grant_of(tracker)
        if (
            grant is None
            or tracker.get_slot(CONFIRMATION_SLOT) is not None
            or tracker.get_slot(DEVICE_FOUND_SLOT) is not None
        ):
            return events
        lookup = await self._look_up_device(grant)
        tracker.slots.update(lookup)
        return events + _slot_events(lookup)

    async def extract_confirmation(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return {}  # filled by the domain's affirm/deny mappings

    @staticmethod
    async def _look_up_device(grant: str) -> Dict[Text, Any]:
        try:
            answer = await get_backend_client().paired_device(grant)
        except (BackendUnavailable, BackendError) as exc:
            # The question then goes without the name; the removal itself reports the problem.
            logger.warning("remove device: device look-up failed (%s)", type(exc).__name__)
            return {}
        device = answer.get("device") if isinstance(answer, dict) else None
        if not isinstance(device, dict):
            return {DEVICE_FOUND_SLOT: False, **device_slots(None)}
        return {DEVICE_FOUND_SLOT: True, **device_slots(device)}


class ActionRemoveDevice(GrantedOperation):
    status_slot = REMOVE_DEVICE_STATUS_SLOT
    form_slots = REMOVAL_FORM_SLOTS
    # After a new code a lost or stolen phone is still removed at once.
    kept_for_next_attempt = (DEVICE_REASON_SLOT,)
    refusals = {"no_device": RemoveDeviceStatus.NO_DEVICE}

    def name(self) -> Text:
        return "action_remove_device"

    def settled(self, tracker: Tracker) -> Optional[Text]:
        if tracker.get_slot(CONFIRMATION_SLOT) is True:
            return None
        if tracker.get_slot(DEVICE_FOUND_SLOT) is False:
            return RemoveDeviceStatus.NO_DEVICE
        return RemoveDeviceStatus.CANCELLED

    async def perform(self, grant: str, tracker: Tracker) -> Outcome:
        reason = removal_reason(tracker)
        answer = await get_backend_client().remove_device(grant, reason)
        device = answer.get("device") if isinstance(answer, dict) else None
        logger.info("remove device: removed (reason %s)", reason)
        immediate = reason in IMMEDIATE_REASONS
        status = RemoveDeviceStatus.REMOVED_LOST if immediate else RemoveDeviceStatus.REMOVED
        return status, device_slots(device)


# --- leaving a device form -------------------------------------------------------------------


class ActionCancelDeviceForm(CancelForm):
    forgotten_slots = REMOVAL_FORM_SLOTS + (EMAIL_SLOT, CODE_SLOT)

    def name(self) -> Text:
        return "action_cancel_device_form"
