"""Binding a "tak" to the summary it answers - one rule for every confirmed operation.

A form that changes something (package change, add user, change role, remove user, change login
e-mail, device removal, registration) ends with a summary question ("Zmienić na pakiet złoty?")
whose yes/no fills ``confirmation``. The "tak" must approve exactly what the summary showed:

- When the summary is asked, ``confirmation_summary`` records a fingerprint of the values it
  shows (SHA-256 of the form name and the values; secrets such as the PIN are left out).
- A "tak" counts only when the values (with whatever the same message set) still have that
  fingerprint and no secret value came with it. So a new value arriving with the answer
  ("/affirm{"package":"green"}", "tak, ale jednak srebrny", "/affirm{"role":"management"}"),
  or changed in any other way since the summary, clears the confirmation: the new value is
  validated as usual, the form shows a new summary with it, and a later "tak" approves that.

Validators get this by subclassing ``ConfirmedFormValidator`` (listed before any other base) and
naming their value slots in ``confirmed_slots``. The submit actions read ``confirmation`` as
before: it is True only after a bound "tak".
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from abc import ABC
from typing import Any, Dict, List, Mapping, Optional, Text, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.people import fold
from actions.tracker import drop_slot_candidates, latest_intent, latest_text
from actions.validators import BaseFormValidator

logger = logging.getLogger(__name__)

CONFIRMATION_SLOT = "confirmation"
SUMMARY_SLOT = "confirmation_summary"

# A yes the classifier may not be sure of: "Tak, proszę usunąć stary iPhone", or the summary's
# own verb, the usual Polish yes ("Usunąć?" - "no to usuń"). Anchored at the start, so "nie
# usuwaj" never counts; a value that comes with it is weighed against the summary as any yes.
_YES_WORDS = r"tak|jasne|oczywiscie|potwierdzam|zgadza\s+sie|zgoda|dawaj"
# Before a removal nobody has summarised yet, only "tak" or the verb itself say yes to it.
_STRICT_YES_WORDS = r"tak"
_CONFIRMING_VERBS = {
    "remove_device_form": r"usun|usuwaj|skasuj|kasuj",
    "remove_user_form": r"usun|usuwaj|skasuj|kasuj",
    "add_user_form": r"dodaj|dodawaj",
    "change_role_form": r"zmien|zmieniaj",
    "change_login_email_form": r"zmien|zmieniaj",
    "change_package_form": r"zmien|zmieniaj|zamow|zamawiam|biore",
    "registration_form": r"zaloz|zakladaj|zarejestruj|rejestruj|wyslij|wysylaj",
}
# "nie, jednak zostanę przy obecnym": a no, unless it is "nie wiem" or brings a correction
# ("nie, popraw na x@y.pl", "nie, ma być Ewa Lis", "nie, na srebrny": a new value, a new summary).
_NO = re.compile(r"^\W*nie\b(?!\W*wiem)")
_CORRECTION_IN_NO = re.compile(
    r"@|\d|\b(?:popraw\w*|zmien\w*|ma\s+byc|chodzi\s+o|tylko|na|ten|ta|to)\b"
)

# The intents the `confirmation` slot mappings take ("tak" / "nie").
_MAPPED_INTENTS = frozenset({"affirm", "deny"})
# Intents whose message is no yes whatever its first word.
_NOT_A_YES = frozenset({"deny", "stop", "human_handoff", "goodbye", "dont_know"})


def says_yes(form: Text, text: Text, strict: bool = False) -> bool:
    """Whether the message opens with a yes to the form's summary (`strict`: with "tak" or the
    form's verb only)."""
    verbs = _CONFIRMING_VERBS.get(form)
    words = (_STRICT_YES_WORDS if strict else _YES_WORDS) + (f"|(?:{verbs})\\w*" if verbs else "")
    pattern = rf"^\W*(?:no\s+)?(?:to\s+)?(?:{words})\b"
    return bool(re.match(pattern, fold(text)))


def summary_fingerprint(form: Text, values: Mapping[Text, Any]) -> Text:
    """What a summary showed, as a digest (the slot holds no readable personal data)."""
    material = json.dumps([form, sorted(values.items())], ensure_ascii=False, default=str)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _slot_candidates(tracker: Tracker) -> Dict[Text, Any]:
    return tracker.slots_to_validate()


def _requested_after(events: List[EventType], tracker: Tracker) -> Optional[Text]:
    for event in reversed(events):
        if event.get("event") == "slot" and event.get("name") == REQUESTED_SLOT:
            return event.get("value")
    return tracker.get_slot(REQUESTED_SLOT)


class ConfirmedFormValidator(BaseFormValidator, ABC):
    """Base of the validator of every form that ends with a summary and ``confirmation``.

    Subclasses list the slots whose values the operation uses (``confirmed_slots``); those in
    ``secret_slots`` count for "a new value came with the yes" but stay out of the fingerprint.
    ``summary_values`` may add what the summary shows besides them (e.g. the device found).
    """

    confirmed_slots: Tuple[Text, ...] = ()
    secret_slots: Tuple[Text, ...] = ()

    def summary_values(self, tracker: Tracker) -> Dict[Text, Any]:
        return {
            slot: tracker.slots.get(slot)
            for slot in self.confirmed_slots
            if slot not in self.secret_slots
        }

    def fingerprint(self, tracker: Tracker) -> Text:
        return summary_fingerprint(self.form_name(), self.summary_values(tracker))

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        events: List[EventType] = []
        self._yes_in_words(tracker)
        if self._is_yes_to_summary(tracker):
            events += await self.refresh_summary_values(tracker)
        events += self._bind_confirmation(tracker)
        events += await super().run(dispatcher, tracker, domain)
        if any(event.get("event") == "action_execution_rejected" for event in events):
            return events
        if _requested_after(events, tracker) == CONFIRMATION_SLOT:
            # The form asks for the confirmation now: remember what this summary shows. Only a
            # change is an event: a message that answers nothing ("stop", a question) must leave
            # the validator without slot events, so Rasa rejects the form and the rules answer.
            shown = self.fingerprint(tracker)
            if tracker.get_slot(SUMMARY_SLOT) != shown:
                tracker.slots[SUMMARY_SLOT] = shown
                events.append(SlotSet(SUMMARY_SLOT, shown))
        return events

    async def refresh_summary_values(self, tracker: Tracker) -> List[EventType]:
        """Before a "tak" is weighed: re-read what the summary showed that can change outside
        the conversation (e.g. the paired device); update `tracker.slots` and return the events.
        """
        return []

    def _yes_in_words(self, tracker: Tracker) -> None:
        """A yes or no no intent mapping took ("no to usuń stare", "nie, jednak zostanę przy
        obecnym") becomes the confirmation candidate; a yes is bound to the summary like any
        other. A no that brings a new value is left to that value (a new summary follows)."""
        candidates = _slot_candidates(tracker)
        if (
            tracker.get_slot(REQUESTED_SLOT) != CONFIRMATION_SLOT
            or CONFIRMATION_SLOT in candidates
            # "tak" / "nie" are the domain mappings' (a validator may have dropped them on
            # purpose, e.g. "nie, ma być Ewa Lis" is a correction)
            or latest_intent(tracker) in _MAPPED_INTENTS
        ):
            return
        text = latest_text(tracker)
        if latest_intent(tracker) not in _NOT_A_YES and says_yes(self.form_name(), text):
            answer = True
        elif (
            _NO.match(fold(text))
            and not _CORRECTION_IN_NO.search(fold(text))
            and not set(candidates) & set(self.confirmed_slots)
        ):
            answer = False
        else:
            return
        tracker.events.append({"event": "slot", "name": CONFIRMATION_SLOT, "value": answer})
        tracker.slots[CONFIRMATION_SLOT] = answer

    @staticmethod
    def _is_yes_to_summary(tracker: Tracker) -> bool:
        return (
            _slot_candidates(tracker).get(CONFIRMATION_SLOT) is True
            and tracker.get_slot(REQUESTED_SLOT) == CONFIRMATION_SLOT
        )

    def _bind_confirmation(self, tracker: Tracker) -> List[EventType]:
        """Clears a "tak" that does not answer the summary as shown."""
        candidates = _slot_candidates(tracker)
        if candidates.get(CONFIRMATION_SLOT) is not True:
            return []  # "nie" changes nothing: it is never bound
        secret = sorted(slot for slot in self.secret_slots if slot in candidates)
        if tracker.get_slot(REQUESTED_SLOT) != CONFIRMATION_SLOT:
            reason = "no summary asked"
        elif secret:
            reason = f"a new {', '.join(secret)} with the answer"
        elif tracker.get_slot(SUMMARY_SLOT) != self.fingerprint(tracker):
            changed = sorted(slot for slot in self.confirmed_slots if slot in candidates)
            reason = f"values differ from the summary ({', '.join(changed) or 'earlier change'})"
        else:
            return []
        logger.info("%s: confirmation not accepted (%s)", self.form_name(), reason)
        drop_slot_candidates(tracker, (CONFIRMATION_SLOT,))
        tracker.slots[CONFIRMATION_SLOT] = None
        return [SlotSet(CONFIRMATION_SLOT, None)]
