"""Registration with a Comarch ERP Optima licence, resending the activation link.

Journeys (see docs/backend.md and the iKsięgowość24 guide):

- `registration_form` collects package, e-mail, ID Comarch, PIN, NIP, full name and the
  acceptance of the Regulamin/Cennik, shows a summary (PIN masked) and asks to confirm. "Popraw
  dane" (deny) asks which value to correct (`correction`, buttons); the chosen value is cleared
  and asked again. A new value typed at any moment ("NIP 526-025-02-74") replaces the old one.
- `action_register_account` sends the registration and reports the outcome in the categorical
  slot `registration_status`; the rules in data/rules/registration.yml answer. Statuses that can
  be fixed by the user (licence mismatch, a value the backend refused) keep the other values and
  re-open the form; every other outcome clears the form. The PIN is cleared after every attempt.
- `resend_activation_form` + `action_resend_activation`: a new activation link (the backend
  answers the same for unknown and active addresses; a requester over its limit gets 429, reported
  as `rate_limited`).
- The registration and the resend name the requester (`requester_of`: this conversation and the
  client network the gateway reported), for the backend's per-requester limits.

Secrets: the PIN is never logged, never shown (•••• in the summary) and never put into the
idempotency key (a fast hash of a 4-digit PIN would be reversible by anyone reading the key).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.backend_client import (
    BackendError,
    BackendUnavailable,
    get_backend_client,
    mask_email,
)
from actions.account import KeepAskingForEmail
from actions.confirmation import ConfirmedFormValidator
from actions.forms import CancelForm
from actions.idempotency import idempotency_key
from actions.identity import requester_of
from actions.packages import package_code
from actions.people import fold, name_runs, nominative_after_title
from actions.tracker import latest_intent, slot_before_latest_message
from actions.validators import (
    EMAIL_SLOT,
    UTTER_INVALID_EMAIL,
    BaseFormValidator,
    EmailSlotValidator,
    normalize_email,
)
from common.polish import format_iso_date

logger = logging.getLogger(__name__)

REGISTRATION_FORM = "registration_form"
RESEND_ACTIVATION_FORM = "resend_activation_form"

# --- slots -----------------------------------------------------------------------------------
PACKAGE_SLOT = "package"
COMARCH_ID_SLOT = "comarch_id"
PIN_SLOT = "pin"
NIP_SLOT = "nip"
PERSON_NAME_SLOT = "person_name"
TERMS_SLOT = "terms_accepted"
CONFIRMATION_SLOT = "confirmation"
CORRECTION_SLOT = "correction"

# The values the user types, in the order the form asks for them: who registers first (the
# address, then the licence's ID, PIN and NIP, as on the licence letter), the package last -
# people start with what they have at hand and many hesitate over the package.
FIELD_SLOTS: Tuple[str, ...] = (
    EMAIL_SLOT,
    COMARCH_ID_SLOT,
    PIN_SLOT,
    NIP_SLOT,
    PERSON_NAME_SLOT,
    PACKAGE_SLOT,
)
FORM_SLOTS: Tuple[str, ...] = FIELD_SLOTS + (TERMS_SLOT, CONFIRMATION_SLOT, CORRECTION_SLOT)

REGISTRATION_STATUS_SLOT = "registration_status"
ACTIVATION_RESEND_STATUS_SLOT = "activation_resend_status"
# Where the activation link went: the address typed, or the existing account's own one masked.
ACTIVATION_EMAIL_SLOT = "activation_email"
PACKAGE_NAME_SLOT = "registration_package_name"
VALID_UNTIL_SLOT = "registration_valid_until"
TRIAL_UNTIL_SLOT = "registration_trial_until"
RESULT_SLOTS: Tuple[str, ...] = (
    ACTIVATION_EMAIL_SLOT,
    PACKAGE_NAME_SLOT,
    VALID_UNTIL_SLOT,
    TRIAL_UNTIL_SLOT,
)

# --- responses uttered by the validators and the summary --------------------------------------
UTTER_SUMMARY = "utter_registration_summary"
UTTER_INVALID_PACKAGE = "utter_registration_invalid_package"
UTTER_INVALID_COMARCH_ID = "utter_registration_invalid_comarch_id"
UTTER_INVALID_PIN = "utter_registration_invalid_pin"
UTTER_INVALID_NIP_FORMAT = "utter_registration_invalid_nip_format"
UTTER_INVALID_NIP_CHECKSUM = "utter_registration_invalid_nip_checksum"
UTTER_INVALID_PERSON_NAME = "utter_registration_invalid_person_name"
UTTER_TERMS_REQUIRED = "utter_registration_terms_required"

PACKAGE_NAMES = {"green": "zielony", "silver": "srebrny", "gold": "złoty"}

# What "nie wiem" gets while each value is asked for (where to find it), before the question.
UTTER_PACKAGES_HINT = "utter_registration_packages_hint"
UTTER_FORGOT_COMARCH_ID = "utter_forgot_comarch_id"
UTTER_NIP_HELP = "utter_registration_nip_help"
UTTER_VALUE_NEEDED = "utter_registration_value_needed"
VALUE_HELP = {
    PACKAGE_SLOT: UTTER_PACKAGES_HINT,
    EMAIL_SLOT: UTTER_VALUE_NEEDED,
    COMARCH_ID_SLOT: UTTER_FORGOT_COMARCH_ID,
    PIN_SLOT: UTTER_FORGOT_COMARCH_ID,
    NIP_SLOT: UTTER_NIP_HELP,
    PERSON_NAME_SLOT: UTTER_VALUE_NEEDED,
}

# Messages that ask something instead of answering: whatever a mapping took from them (a package
# named in "czym różni się złoty od srebrnego?", the text of "nie pamiętam PIN-u") is undone and
# the form steps aside, so a rule answers the question and the form asks again.
INTERRUPTING_INTENTS = frozenset(
    {
        "packages_info",
        "forgot_comarch_id",
        "password_requirements",
        "support_contact",
        "human_handoff",
        "bot_challenge",
        "out_of_scope",
        "share_password",
        "login_help",
        "roles_info",
        "stop",
        "goodbye",
        # dialogue control (data/rules/dialogue_control.yml answers them, the form asks again)
        "check_presence",
        "leave_ticket",
        "done",
        "code_not_received",
        "resume",
        "explain_again",
        "password_unclear",
        "pin_unclear",
    }
)

# "nie wiem" / "gdzie to znajdę?" / a bare "nie" while a value is asked for: the form explains
# where that value comes from and asks again; only an explicit stop cancels the registration.
HELP_INTENTS = frozenset({"dont_know", "deny"})
# A "tak" while a value (not a yes/no question) is asked for: ask again. ("nie no, chcę dalej" is
# `resume`: rules/dialogue_control.yml answers it and the form asks again.)
GO_ON_INTENTS = frozenset({"affirm"})


class RegistrationStatus:
    """Values of the categorical slot `registration_status` (domain/registration.yml)."""

    ACCOUNT_CREATED = "account_created"  # green: free for a year
    ACCOUNT_CREATED_TRIAL = "account_created_trial"  # silver/gold: 90-day trial, then green
    EXISTING_ACCOUNT = "existing_account"  # link sent to the account's own address
    EXISTING_ACCOUNT_LINK_LIMIT = "existing_account_link_limit"  # 3 links/hour used up
    ALREADY_ACTIVE = "already_active"  # the account can log in already
    INVALID_NIP = "invalid_nip"
    LICENCE_MISMATCH = "licence_mismatch"
    LICENCE_LOCKED = "licence_locked"
    CHECKS_SUSPENDED = "checks_suspended"
    ACCOUNT_UNAVAILABLE = "account_unavailable"
    INVALID_DATA = "invalid_data"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"


class ActivationResendStatus:
    """Values of the categorical slot `activation_resend_status`."""

    SENT = "sent"
    RATE_LIMITED = "rate_limited"
    INVALID_EMAIL = "invalid_email"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"


# --- pure value checks ------------------------------------------------------------------------

NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
# 10 digits, possibly grouped with single dashes/spaces, optionally after "PL".
_NIP_CANDIDATE = re.compile(
    r"(?<![0-9-])(?:PL\s?)?([0-9](?:[ \-]?[0-9]){9})(?![0-9-])", re.IGNORECASE
)
_SEPARATORS = re.compile(r"[\s\-]")
# [0-9], not \d: other scripts' digits are not accepted by the backend.
_DIGIT_RUN = re.compile(r"(?<![0-9-])[0-9]+(?![0-9-])")
_LABELLED_ID = re.compile(r"\bID\b(?:\s+Comarch)?\s*(?:to|:|=|-)?\s*([0-9]+)\b", re.IGNORECASE)
_LABELLED_PIN = re.compile(r"\bPIN\w*\s*(?:to|:|=|-)?\s*([0-9]+)\b", re.IGNORECASE)
_NAME_PREFIX = re.compile(
    r"^(?:(?:mam\s+na\s+imi[eę]|nazywam\s+si[eę]|imi[eę]\s+i\s+nazwisko(?:\s+to)?|"
    r"moje\s+imi[eę]\s+i\s+nazwisko\s+to|ma\s+by[cć]|powinno\s+by[cć]|poprawne|"
    r"popraw(?:\s+(?:imi[eę]\s+i\s+nazwisko|nazwisko))?\s+na|to|jestem)\s*:?\s+)",
    re.IGNORECASE,
)
_NAME_WORD = re.compile(r"^[^\W\d_]+(?:[-'’][^\W\d_]+)*\.?$")
MAX_NAME_LENGTH = 200


def nip_checksum_ok(digits: str) -> bool:
    """Polish NIP check digit: weights 6,5,7,2,3,4,5,6,7, sum mod 11; 10 is never valid.

    python-stdnum (which the backend uses) is not in the Rasa environment; this is the same rule,
    so a typo is explained here instead of costing a round trip (and a licence attempt).
    """
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    check = sum(int(d) * w for d, w in zip(digits, NIP_WEIGHTS)) % 11
    return check != 10 and check == int(digits[9])


@dataclass(frozen=True)
class NipCheck:
    """A NIP as 10 digits, or why it was refused (`format` or `checksum`)."""

    digits: Optional[str] = None
    problem: Optional[str] = None


def parse_nip(value: Any) -> NipCheck:
    """Accepts "5260250274", "526-025-02-74", "PL 526 025 02 74" and "mój NIP to …"."""
    if not isinstance(value, str) or not value.strip():
        return NipCheck(problem="format")
    candidates = _NIP_CANDIDATE.findall(value)
    if len(candidates) != 1:
        return NipCheck(problem="format")
    digits = _SEPARATORS.sub("", candidates[0])
    if not nip_checksum_ok(digits):
        return NipCheck(problem="checksum")
    return NipCheck(digits=digits)


def format_nip(digits: str) -> str:
    """`5260250274` -> `526-025-02-74` (the usual grouping, easier to check by eye)."""
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:8]}-{digits[8:]}" if len(digits) == 10 else digits


def _single_number(value: str, labelled: "re.Pattern[str]") -> Optional[str]:
    """The number a message gives: all of it, the labelled one ("ID 68577"), or the only one."""
    text = value.strip()
    if text.isascii() and text.isdigit():
        return text
    match = labelled.search(text)
    if match:
        return match.group(1)
    numbers = _DIGIT_RUN.findall(text)
    return numbers[0] if len(numbers) == 1 else None


def parse_comarch_id(value: Any) -> Optional[str]:
    """ID Comarch: digits only (the backend takes up to 20)."""
    if not isinstance(value, str):
        return None
    number = _single_number(value, _LABELLED_ID)
    if number is None or not 1 <= len(number) <= 20:
        return None
    return number


def parse_pin(value: Any) -> Optional[str]:
    """The licence PIN: exactly 4 digits."""
    if not isinstance(value, str):
        return None
    number = _single_number(value, _LABELLED_PIN)
    return number if number is not None and len(number) == 4 else None


def parse_person_name(value: Any) -> Optional[str]:
    """At least two words of letters ("Jan Kowalski", "Anna Nowak-Wiśniewska"), tidied up."""
    if not isinstance(value, str):
        return None
    text = _NAME_PREFIX.sub("", " ".join(value.split())).strip(" .,;:!")
    words = text.split()
    if len(words) < 2 or len(text) > MAX_NAME_LENGTH:
        return None
    if not all(_NAME_WORD.match(word) for word in words):
        return None
    return " ".join(word[:1].upper() + word[1:] if word[:1].islower() else word for word in words)


def parse_package(value: Any) -> Optional[str]:
    """The canonical package code (the NLU synonyms map every case form to it)."""
    if not isinstance(value, str):
        return None
    code = value.strip().lower()
    return code if code in PACKAGE_NAMES else None


_PACKAGE_FIRST = re.compile(
    r"^\W*(?:(?:to\s+|no\s+to\s+|wybieram\s+|biore\s+)?(?:pakiet\s+)?)"
    r"(zielon|srebrn|zlot)\w*\s*(?:pakiet\w*\s*)?[,.;:!-]"
)


def package_answered_first(text: Any) -> Optional[str]:
    """The package a message opens with before a comma ("srebrny, 299 zł rocznie tak?"), as a
    code; None for a question about one ("a złoty?", "ile kosztuje srebrny?")."""
    match = _PACKAGE_FIRST.match(fold(text)) if isinstance(text, str) else None
    return package_code(match.group(1)) if match else None


# Values a message carries whatever its intent ("chcę się zarejestrować, mam ID 68577 PIN 4821",
# "zły NIP, poprawny 526-025-02-74"): an address, a NIP, a labelled ID and a labelled PIN. They
# are read from the text, so a value the NLU did not tag is not lost.
_NIP_CUE = re.compile(r"\bNIP", re.IGNORECASE)


def values_in_text(text: Any) -> Dict[str, str]:
    """The form values a message states unambiguously, as typed (the validators normalise them).

    Unlabelled numbers are left out on purpose: "68577" alone answers the question asked, and a
    number in a sentence without its cue word is too easily something else (a price, a year).
    """
    if not isinstance(text, str) or not text.strip() or text.startswith("/"):
        return {}
    found: Dict[str, str] = {}
    email = normalize_email(text)
    if email is not None:
        found[EMAIL_SLOT] = email
    nips = _NIP_CANDIDATE.findall(text)
    if len(nips) == 1 and (_NIP_CUE.search(text) or parse_nip(nips[0]).digits):
        found[NIP_SLOT] = nips[0]
    comarch_id = _LABELLED_ID.search(text)
    if comarch_id:
        found[COMARCH_ID_SLOT] = comarch_id.group(1)
    pin = _LABELLED_PIN.search(text)
    if pin:
        found[PIN_SLOT] = pin.group(1)
    return found


def text_without_other_values(text: str, slot: str) -> str:
    """The message without the labelled values of the other slots ("68577, PIN 4821" -> the
    ID's part "68577, "), to read the value asked for from the rest."""
    patterns = {
        PIN_SLOT: _LABELLED_PIN,
        COMARCH_ID_SLOT: _LABELLED_ID,
        NIP_SLOT: re.compile(r"\bNIP\w*\s*(?:to|:|=|-)?\s*" + _NIP_CANDIDATE.pattern, re.I),
    }
    for other, pattern in patterns.items():
        if other != slot:
            text = pattern.sub(" ", text)
    return text


# Words before or after a name that are not part of it ("Jestem Anna Nowak", "ma być Ewa Lis").
_NOT_NAME_WORDS = frozenset(
    "jestem nazywam mam ma być byc to imię imie nazwisko pan pani popraw poprawne poprawnie "
    "zmień zmien na witam dzień dzien dobry cześć czesc hej a i oraz nip id pin mail email "
    "e-mail pakiet jednak".split()
)
_NAME_TOKEN = r"[^\W\d_]+(?:[-'’][^\W\d_]+)*"
_WORD_AFTER = re.compile(r"^[ \t]+(" + _NAME_TOKEN + r")(?![\w@.-][\w])")
_WORD_BEFORE = re.compile(r"(?<![\w@.-])(" + _NAME_TOKEN + r")[ \t]+$")


def _name_word(word: str, lower_case_name: bool) -> bool:
    if word.lower() in _NOT_NAME_WORDS:
        return False
    return lower_case_name or word[:1].isupper()


def whole_name(text: str, start: int, end: int) -> str:
    """The name a tagged span belongs to: the NLU may tag "Tomasz" of "Tomasz Wrona" or
    "Kowalczyk" of "Anna Maria Kowalczyk-Nowak"; neighbouring name words (capitalised, unless
    the whole name was typed in lower case) are added on both sides, never across punctuation."""
    lower_case_name = text[start:end].islower()
    while True:
        match = _WORD_AFTER.match(text[end:])
        if not match or not _name_word(match.group(1), lower_case_name):
            break
        end += match.end()
    while True:
        match = _WORD_BEFORE.search(text[:start])
        if not match or not _name_word(match.group(1), lower_case_name):
            break
        start = match.start()
    return text[start:end]


def registration_idempotency_key(tracker: Tracker, registration: Dict[str, Any]) -> str:
    """One key per confirmed attempt: a retried call of the same action run gets the backend's
    first answer, a new confirmation (another user message) is a new attempt. The PIN is left
    out (actions/idempotency.py says why)."""
    public = {key: value for key, value in registration.items() if key != "pin"}
    return idempotency_key(tracker, "registration", public)


def is_bare_entity(tracker: Tracker, entity: str) -> bool:
    """The latest message is nothing but a value tagged as `entity` ("68577", "Jan Kowalski")."""
    message = tracker.latest_message or {}
    text = message.get("text") or ""
    for item in message.get("entities") or []:
        if item.get("entity") != entity:
            continue
        start, end = item.get("start"), item.get("end")
        if not isinstance(start, int) or not isinstance(end, int):
            continue
        rest = text[:start] + text[end:]
        if not any(char.isalnum() for char in rest):
            return True
    return False


# --- the registration form --------------------------------------------------------------------


class ValidateRegistrationForm(ConfirmedFormValidator):
    """Checks each value as it comes and drives the summary / correction loop.

    Order of questions: the values, the terms, then the summary (`confirmation`). After "Popraw
    dane" (`confirmation` false) the form asks `correction`; the chosen value and `confirmation`
    are cleared, so the form asks that value and shows the summary again.
    """

    # "tak" approves exactly the summary shown (actions/confirmation.py); the PIN is not in the
    # summary's fingerprint, and a PIN typed with the answer always asks again.
    confirmed_slots = FIELD_SLOTS + (TERMS_SLOT,)
    secret_slots = (PIN_SLOT,)

    def form_name(self) -> Text:
        return REGISTRATION_FORM

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        intent = latest_intent(tracker)
        asked = tracker.get_slot(REQUESTED_SLOT)
        candidates = tracker.slots_to_validate()
        text = (tracker.latest_message or {}).get("text")
        answered = asked in candidates and candidates[asked] not in (None, text)
        if asked in FIELD_SLOTS and intent in HELP_INTENTS | GO_ON_INTENTS and not answered:
            # Nothing in such a message is the value asked for ("nie wiem" is no name, "tak"
            # no ID): whatever a mapping took from it is undone and the question comes again.
            undo = [
                SlotSet(slot, slot_before_latest_message(tracker, slot))
                for slot in tracker.slots_to_validate()
                if slot not in (REQUESTED_SLOT, asked)
            ]
            if intent in HELP_INTENTS:
                dispatcher.utter_message(response=VALUE_HELP[asked])
            return undo + [SlotSet(asked, None), SlotSet(REQUESTED_SLOT, asked)]
        package_first = asked == PACKAGE_SLOT and package_answered_first(text)
        if package_first:
            # "srebrny, 299 zł rocznie tak?": the answer comes first, the question after it
            # only checks the price; the package is taken and the form goes on.
            tracker.events.append({"event": "slot", "name": PACKAGE_SLOT, "value": package_first})
            tracker.slots[PACKAGE_SLOT] = package_first
        elif intent in INTERRUPTING_INTENTS:
            if not tracker.slots_to_validate():
                return []
            # Undo what the mappings took from a question and let the rules answer it.
            undo = [
                SlotSet(slot, slot_before_latest_message(tracker, slot))
                for slot in tracker.slots_to_validate()
                if slot != REQUESTED_SLOT
            ]
            return undo + [ActionExecutionRejected(self.form_name())]
        add_values_from_text(tracker)
        before = {slot: slot_before_latest_message(tracker, slot) for slot in FIELD_SLOTS}
        events = await super().run(dispatcher, tracker, domain)
        taken = taken_values(events, before)
        if asked not in (CONFIRMATION_SLOT, CORRECTION_SLOT) and set(taken) - {asked}:
            # The message brought values the form did not ask for (or started the form): say
            # what was taken, so nobody types them again; the PIN is named, never shown.
            dispatcher.utter_message(
                response=UTTER_VALUES_TAKEN, registration_taken=describe_taken(taken, domain)
            )
        return events

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        # Every slot of the form is validated, whatever the domain lists.
        return list(FORM_SLOTS)

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Optional[EventType]:
        return SlotSet(REQUESTED_SLOT, next_registration_question(tracker.slots))

    # --- the values ---------------------------------------------------------------------------

    def validate_package(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        return self._field(PACKAGE_SLOT, slot_value, dispatcher, tracker, self._check(
            parse_package, UTTER_INVALID_PACKAGE))

    def validate_email(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        return self._field(EMAIL_SLOT, slot_value, dispatcher, tracker, self._check(
            normalize_email, UTTER_INVALID_EMAIL))

    def validate_comarch_id(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        return self._field(COMARCH_ID_SLOT, slot_value, dispatcher, tracker, self._check(
            parse_comarch_id, UTTER_INVALID_COMARCH_ID))

    def validate_pin(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        return self._field(PIN_SLOT, slot_value, dispatcher, tracker, self._check(
            parse_pin, UTTER_INVALID_PIN))

    def validate_nip(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        def check(value: Any) -> Tuple[Optional[str], str]:
            result = parse_nip(value)
            problem = UTTER_INVALID_NIP_CHECKSUM if result.problem == "checksum" else (
                UTTER_INVALID_NIP_FORMAT)
            return result.digits, problem

        return self._field(NIP_SLOT, slot_value, dispatcher, tracker, check)

    def validate_person_name(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        return self._field(PERSON_NAME_SLOT, slot_value, dispatcher, tracker, self._check(
            lambda value: person_name_in(tracker, value), UTTER_INVALID_PERSON_NAME))

    @staticmethod
    def _check(
        parse: Callable[[Any], Optional[str]], problem: str
    ) -> Callable[[Any], Tuple[Optional[str], str]]:
        return lambda value: (parse(value), problem)

    @staticmethod
    def _field(
        slot: str,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        check: Callable[[Any], Tuple[Optional[str], str]],
    ) -> Dict[Text, Any]:
        """Common rules of every value.

        - A bare value answers the question asked: when another value was asked for and the
          message is only an entity of this slot (the NLU may read "4821" as a PIN while the ID
          is asked for), this slot keeps its previous value.
        - An invalid value is explained and cleared (asked again when its turn comes).
        - A new valid value after "Popraw dane" re-opens the summary.
        """
        requested = tracker.get_slot(REQUESTED_SLOT)
        previous = {slot: slot_before_latest_message(tracker, slot)}
        text = (tracker.latest_message or {}).get("text")
        stated = values_in_text(text)
        if requested == slot and value == text and set(stated) - {slot}:
            # The answer carries other labelled values too ("a PIN to 4821" while the ID is
            # asked): this value is what is left without them, if anything.
            rest = text_without_other_values(text, slot)
            if check(rest)[0] is None:
                return previous
            value = rest
        if requested != slot:
            bare_text = isinstance(text, str) and slot in stated and (
                text.strip(" .,;!").lower() == str(stated[slot]).lower()
            )
            if requested in FIELD_SLOTS and (is_bare_entity(tracker, slot) or bare_text):
                return previous
            if value == text and slot in (COMARCH_ID_SLOT, PIN_SLOT):
                # The whole message of the one that starts the form: only a labelled number
                # ("ID 68577") is a value; "chcę się zarejestrować" gives none.
                value = stated.get(slot)
                if value is None:
                    return previous
        parsed, problem = check(value)
        if parsed is None:
            if requested != slot and requested not in (CONFIRMATION_SLOT, CORRECTION_SLOT) and (
                slot not in stated
            ):
                # A number the NLU tagged as this value while another one was asked for (an ID
                # read as a PIN): not what the user meant, nothing to explain.
                return previous
            return BaseFormValidator.reject(dispatcher, slot, problem)
        result: Dict[Text, Any] = {slot: parsed}
        if tracker.get_slot(CONFIRMATION_SLOT) is False:
            result[CONFIRMATION_SLOT] = None
        return result

    # --- terms, summary, correction -------------------------------------------------------------

    def validate_terms_accepted(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        if slot_value is True:
            return {TERMS_SLOT: True}
        # Without the acceptance the backend refuses the registration: explain and ask again.
        return BaseFormValidator.reject(dispatcher, TERMS_SLOT, UTTER_TERMS_REQUIRED)

    def validate_confirmation(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        # Only an answer to this form's summary counts; a "tak" left from another form would
        # otherwise send the registration unseen.
        if tracker.get_slot(REQUESTED_SLOT) != CONFIRMATION_SLOT or not isinstance(
            slot_value, bool
        ):
            return {CONFIRMATION_SLOT: None}
        return {CONFIRMATION_SLOT: slot_value}

    def validate_correction(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        field = slot_value if slot_value in FIELD_SLOTS else None
        if field is None or field in tracker.slots_to_validate():
            # Unknown choice, or the new value came in the same message ("popraw NIP: …").
            return {CORRECTION_SLOT: None}
        return {CORRECTION_SLOT: None, field: None, CONFIRMATION_SLOT: None}


UTTER_VALUES_TAKEN = "utter_registration_values_taken"
# One fragment per value ("ID {taken_comarch_id}"); the PIN's names it without its digits.
TAKEN_FRAGMENTS = {slot: f"utter_registration_taken_{slot}" for slot in FIELD_SLOTS}
_TEMPLATE_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def add_values_from_text(tracker: Tracker) -> None:
    """Adds the values the latest message states (`values_in_text`) that no mapping took to
    the slots to validate, so the validators check them like any other value."""
    text = (tracker.latest_message or {}).get("text")
    candidates = tracker.slots_to_validate()
    for slot, value in values_in_text(text).items():
        mapped = candidates.get(slot)
        if slot in candidates and mapped != text and not negated_in(text, mapped):
            continue  # a mapping took this value from an entity already
        # (unless it took the one the message rejects: "PIN to 4821, a nie 4812")
        tracker.events.append({"event": "slot", "name": slot, "value": value})
        tracker.slots[slot] = value


def negated_in(text: Any, value: Any) -> bool:
    """Whether the message rejects the value ("… a nie 4812", "nie 4812, tylko …")."""
    if not isinstance(text, str) or not isinstance(value, str) or not value.strip():
        return False
    return bool(re.search(r"\bnie\s+" + re.escape(value.strip()) + r"\b", text, re.IGNORECASE))


def taken_values(events: List[EventType], before: Dict[str, Any]) -> Dict[str, Any]:
    """The values this message changed (valid ones only: an invalid one is set to None)."""
    taken: Dict[str, Any] = {}
    for event in events:
        if event.get("event") != "slot" or event.get("name") not in FIELD_SLOTS:
            continue
        name, value = event["name"], event.get("value")
        if value is None or value == before.get(name):
            taken.pop(name, None)
        else:
            taken[name] = value
    return taken


def describe_taken(taken: Dict[str, Any], domain: DomainDict) -> str:
    """The fragments of the taken values in the form's order, the PIN last, comma-separated."""
    values = {
        "taken_package": PACKAGE_NAMES.get(taken.get(PACKAGE_SLOT), ""),
        "taken_email": str(taken.get(EMAIL_SLOT) or ""),
        "taken_comarch_id": str(taken.get(COMARCH_ID_SLOT) or ""),
        "taken_nip": format_nip(taken[NIP_SLOT]) if isinstance(taken.get(NIP_SLOT), str) else "",
        "taken_person_name": str(taken.get(PERSON_NAME_SLOT) or ""),
    }
    order = [slot for slot in FIELD_SLOTS if slot != PIN_SLOT] + [PIN_SLOT]
    responses = (domain or {}).get("responses") or {}
    parts = []
    for slot in order:
        if slot not in taken:
            continue
        variants = responses.get(TAKEN_FRAGMENTS[slot]) or [{}]
        template = str(variants[0].get("text") or "")
        parts.append(_TEMPLATE_VARIABLE.sub(lambda m: values.get(m.group(1), ""), template))
    return ", ".join(part for part in parts if part)


def person_name_in(tracker: Tracker, value: Any) -> Optional[str]:
    """The full name a message gives: the tagged name grown to its whole span ("Tomasz" of
    "Tomasz Wrona"), or - when the message is the answer to the name question and nothing was
    tagged - the whole message."""
    message = tracker.latest_message or {}
    text = message.get("text") or ""
    for item in message.get("entities") or []:
        start, end = item.get("start"), item.get("end")
        if item.get("entity") != PERSON_NAME_SLOT or not isinstance(start, int):
            continue
        if not isinstance(end, int) or item.get("value") != value:
            continue
        name = parse_person_name(whole_name(text, start, end))
        if name is not None:
            return parse_person_name(nominative_after_title(text, name))
    if value == text:
        # The whole answer to the name question: its last run of two or more capitalised name
        # words, in the nominative ("Licencja jest na właściciela, pana Jana Nowickiego."), or
        # the whole message when it has none ("jan kowalski").
        runs = [name for name, _ in name_runs(text) if len(name.split()) >= 2]
        if runs:
            return parse_person_name(nominative_after_title(text, runs[-1]))
    return parse_person_name(value)


def next_registration_question(slots: Dict[str, Any]) -> Optional[str]:
    """The slot the registration form asks next, None when it can be sent."""
    for slot in FIELD_SLOTS + (TERMS_SLOT,):
        if slots.get(slot) is None:
            return slot
    confirmation = slots.get(CONFIRMATION_SLOT)
    if confirmation is False:
        return CORRECTION_SLOT
    if confirmation is None:
        return CONFIRMATION_SLOT
    return None


class ActionAskRegistrationConfirmation(Action):
    """The summary before sending (the form's question for `confirmation`), PIN masked."""

    def name(self) -> Text:
        return "action_ask_registration_form_confirmation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        dispatcher.utter_message(response=UTTER_SUMMARY, **summary_values(tracker.slots))
        return []


def summary_values(slots: Dict[str, Any]) -> Dict[str, str]:
    """Template variables of `utter_registration_summary`; the PIN is not among them."""
    package = slots.get(PACKAGE_SLOT)
    nip = slots.get(NIP_SLOT)
    return {
        "summary_package": PACKAGE_NAMES.get(package, str(package or "")),
        "summary_email": str(slots.get(EMAIL_SLOT) or ""),
        "summary_comarch_id": str(slots.get(COMARCH_ID_SLOT) or ""),
        "summary_nip": format_nip(nip) if isinstance(nip, str) else "",
        "summary_person_name": str(slots.get(PERSON_NAME_SLOT) or ""),
    }


# --- sending the registration -----------------------------------------------------------------

# Backend field names -> form slots (for 422 validation_error details).
_BACKEND_FIELDS = {
    "email": EMAIL_SLOT,
    "comarch_id": COMARCH_ID_SLOT,
    "pin": PIN_SLOT,
    "nip": NIP_SLOT,
    "full_name": PERSON_NAME_SLOT,
    "package": PACKAGE_SLOT,
    "terms_accepted": TERMS_SLOT,
}
# Outcomes after which the form is opened again with these values cleared (PIN always).
_ASK_AGAIN = {
    RegistrationStatus.LICENCE_MISMATCH: (COMARCH_ID_SLOT, PIN_SLOT, NIP_SLOT),
    RegistrationStatus.INVALID_NIP: (NIP_SLOT, PIN_SLOT),
}


def registration_payload(slots: Dict[str, Any]) -> Tuple[Dict[str, Any], List[str]]:
    """The request body from the slots, and the slots whose value is missing or invalid."""
    values = {
        "email": normalize_email(slots.get(EMAIL_SLOT)),
        "comarch_id": parse_comarch_id(slots.get(COMARCH_ID_SLOT)),
        "pin": parse_pin(slots.get(PIN_SLOT)),
        "nip": parse_nip(slots.get(NIP_SLOT)).digits,
        "full_name": parse_person_name(slots.get(PERSON_NAME_SLOT)),
        "package": parse_package(slots.get(PACKAGE_SLOT)),
        "terms_accepted": True if slots.get(TERMS_SLOT) is True else None,
    }
    invalid = [_BACKEND_FIELDS[key] for key, value in values.items() if value is None]
    if slots.get(CONFIRMATION_SLOT) is not True:
        invalid.append(CONFIRMATION_SLOT)
    return values, invalid


def status_of_answer(answer: Dict[str, Any]) -> str:
    """Maps a 2xx answer of POST /registrations to a `registration_status` value."""
    status = answer.get("status")
    email = answer.get("activation_email") or {}
    if status == "account_created":
        trial = answer.get("after_trial_package") is not None
        return RegistrationStatus.ACCOUNT_CREATED_TRIAL if trial else (
            RegistrationStatus.ACCOUNT_CREATED)
    if status == "existing_account":
        return RegistrationStatus.EXISTING_ACCOUNT if email.get("queued") else (
            RegistrationStatus.EXISTING_ACCOUNT_LINK_LIMIT)
    if status == "already_active":
        return RegistrationStatus.ALREADY_ACTIVE
    return RegistrationStatus.FAILED


def answer_slots(answer: Dict[str, Any]) -> Dict[str, Optional[str]]:
    """What the replies show: where the link went, the package and its dates (Polish format)."""
    email = answer.get("activation_email") or {}
    package = answer.get("package") or {}
    name = package.get("name") if isinstance(package, dict) else None
    code = package.get("code") if isinstance(package, dict) else None
    return {
        ACTIVATION_EMAIL_SLOT: email.get("to") if isinstance(email.get("to"), str) else None,
        PACKAGE_NAME_SLOT: name if isinstance(name, str) else PACKAGE_NAMES.get(code),
        VALID_UNTIL_SLOT: format_iso_date(answer.get("valid_until")),
        TRIAL_UNTIL_SLOT: format_iso_date(answer.get("trial_until")),
    }


def status_of_error(error: BackendError) -> str:
    """Maps a 4xx answer of POST /registrations to a `registration_status` value."""
    by_code = {
        "invalid_nip": RegistrationStatus.INVALID_NIP,
        "licence_mismatch": RegistrationStatus.LICENCE_MISMATCH,
        "licence_locked": RegistrationStatus.LICENCE_LOCKED,
        "licence_checks_suspended": RegistrationStatus.CHECKS_SUSPENDED,
        "licence_account_unavailable": RegistrationStatus.ACCOUNT_UNAVAILABLE,
        "validation_error": RegistrationStatus.INVALID_DATA,
        "terms_not_accepted": RegistrationStatus.INVALID_DATA,
        # Another request with this key is still running: the answer will come, try again.
        "idempotency_in_progress": RegistrationStatus.UNAVAILABLE,
    }
    return by_code.get(error.code, RegistrationStatus.FAILED)


def refused_fields(error: BackendError) -> List[str]:
    """The form slots a 422 answer names (`details[].field`)."""
    if error.code == "terms_not_accepted":
        return [TERMS_SLOT]
    fields = []
    for item in error.details or []:
        slot = _BACKEND_FIELDS.get(item.get("field")) if isinstance(item, dict) else None
        if slot and slot not in fields:
            fields.append(slot)
    return fields


def clear_form_events() -> List[EventType]:
    """Every value of the registration form forgotten (PIN included)."""
    return [SlotSet(slot, None) for slot in FORM_SLOTS]


def ask_again_events(status: str, slots: Iterable[str]) -> List[EventType]:
    """Re-open the form for `slots`: the status, those values, the PIN and the summary cleared."""
    cleared = list(dict.fromkeys([*slots, PIN_SLOT, CONFIRMATION_SLOT, CORRECTION_SLOT]))
    return [SlotSet(REGISTRATION_STATUS_SLOT, status)] + [SlotSet(s, None) for s in cleared]


def final_events(status: str, shown: Optional[Dict[str, Optional[str]]] = None) -> List[EventType]:
    """A final outcome: the status, what the reply shows, and a cleared form."""
    shown = shown or {slot: None for slot in RESULT_SLOTS}
    events: List[EventType] = [SlotSet(REGISTRATION_STATUS_SLOT, status)]
    events += [SlotSet(slot, shown.get(slot)) for slot in RESULT_SLOTS]
    return events + clear_form_events()


class ActionRegisterAccount(Action):
    """Sends the confirmed registration; the reply is chosen by rules from the status slot."""

    def name(self) -> Text:
        return "action_register_account"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        payload, invalid = registration_payload(tracker.slots)
        if invalid:
            # Not reachable through the form; never send incomplete data.
            logger.warning("registration: not sent, invalid slots %s", sorted(invalid))
            return ask_again_events(RegistrationStatus.INVALID_DATA, invalid)

        key = registration_idempotency_key(tracker, payload)
        who = f"ID {payload['comarch_id']}, {mask_email(payload['email'])}"
        try:
            answer = await get_backend_client().register(payload, key, requester_of(tracker))
        except BackendUnavailable as exc:
            logger.warning("registration: backend unavailable (%s) for %s", exc.reason, who)
            return final_events(RegistrationStatus.UNAVAILABLE)
        except BackendError as exc:
            return self._refused(exc, who)

        answer = answer if isinstance(answer, dict) else {}
        status = status_of_answer(answer)
        logger.info("registration: %s for %s", status, who)
        if status == RegistrationStatus.FAILED:
            return final_events(status)
        return final_events(status, answer_slots(answer))

    @staticmethod
    def _refused(error: BackendError, who: str) -> List[EventType]:
        status = status_of_error(error)
        logger.info(
            "registration: refused %s %s -> %s for %s", error.status, error.code, status, who
        )
        if status in _ASK_AGAIN:
            return ask_again_events(status, _ASK_AGAIN[status])
        if status == RegistrationStatus.INVALID_DATA:
            fields = refused_fields(error)
            if fields:
                return ask_again_events(status, fields)
            return final_events(RegistrationStatus.FAILED)
        return final_events(status)


class ActionResetRegistration(CancelForm):
    """Forgets every value of the registration form (stop / goodbye in the middle of it)."""

    forgotten_slots = FORM_SLOTS

    def name(self) -> Text:
        return "action_reset_registration"


# --- resending the activation link ------------------------------------------------------------


class ValidateResendActivationForm(KeepAskingForEmail, EmailSlotValidator, BaseFormValidator):
    """A "nie" / "nie wiem" at the address question explains and asks again (stop cancels)."""

    email_help_response = "utter_activation_email_needed"

    def form_name(self) -> Text:
        return RESEND_ACTIVATION_FORM


class ActionResendActivation(Action):
    """Asks the backend for a new activation link; the backend answers the same for every
    address (unknown, already active), and so does the reply; a limit reached for this requester
    is `rate_limited` (nothing was sent)."""

    def name(self) -> Text:
        return "action_resend_activation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        email = normalize_email(tracker.get_slot(EMAIL_SLOT))
        if email is None:
            return _resend_outcome(ActivationResendStatus.INVALID_EMAIL)
        try:
            await get_backend_client().resend_activation(email, requester_of(tracker))
        except BackendUnavailable as exc:
            logger.warning("activation resend: backend unavailable (%s)", exc.reason)
            return _resend_outcome(ActivationResendStatus.UNAVAILABLE)
        except BackendError as exc:
            if exc.status == 429:
                return _resend_outcome(ActivationResendStatus.RATE_LIMITED)
            if exc.status == 422:
                logger.info("activation resend: backend refused %s", mask_email(email))
                return _resend_outcome(ActivationResendStatus.INVALID_EMAIL)
            logger.error("activation resend: backend error %s %s", exc.status, exc.code)
            return _resend_outcome(ActivationResendStatus.FAILED)
        logger.info("activation resend accepted for %s", mask_email(email))
        return _resend_outcome(ActivationResendStatus.SENT) + [
            SlotSet(ACTIVATION_EMAIL_SLOT, email)
        ]


def _resend_outcome(status: str) -> List[EventType]:
    return [SlotSet(ACTIVATION_RESEND_STATUS_SLOT, status), SlotSet(EMAIL_SLOT, None)]
