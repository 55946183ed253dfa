"""Identity verification for every sensitive journey (package change, account status, devices,
company users, login e-mail).

The user proves control of the account's mailbox: the backend e-mails a 6-digit code
(`request_verification_code`), the user types it, the backend exchanges it for a 15-minute
*verification grant* (`check_verification_code`). Sensitive backend calls carry the grant;
the backend authorises from the grant's account only.

Interface for the journeys (the operations that need it: docs/backend.md):

- ``VerifiedIdentityValidator`` - abstract base of every sensitive form's validator. The domain
  lists ``email`` and ``verification_code`` first in every sensitive form; ``required_slots``
  keeps them only while the conversation holds no grant. ``validate_email`` (the shared syntax
  check of actions/validators.py) then asks the backend to send a code (the same answer
  whether or not the account exists) and utters ``utter_verification_code_sent`` - or, when a
  limit refused the request (nothing was sent), ``utter_verification_code_limited`` with the
  minutes to wait (a code from an earlier message can still be typed; a consultant is
  offered); ``validate_verification_code`` checks the code; on success it sets
  ``verification_grant``, ``verified_name``, ``verified_email``, clears ``email`` and
  ``verification_code`` and utters ``utter_identity_verified``; a wrong code asks again (tries
  left when the backend says), a dead/expired code starts over at ``email``; an address typed
  instead of the code sends a new code there. At activation, values left from earlier runs
  (the form's own slots not named in the triggering message, any address or code) are cleared.
  A grant in the message metadata ``{"pomocnik_identity": {"grant", "name", "email"}}`` (put
  there only by the gateway, for a visitor signed in on the website) is taken instead - only
  when ``grant`` is a non-empty string.
- ``grant_of(tracker)`` - the grant to send with a sensitive call (metadata first, then the slot).
- ``identity_expired_events()`` - what a sensitive action returns (together with its status slot
  set to ``identity_expired``) when the backend answers 401 ``verification_required``;
  ``is_identity_expired(error)`` recognises that answer. The operations themselves subclass
  ``GrantedOperation`` (actions/granted.py), which does both.
- ``requester_of(tracker)`` - who asks, sent with the requests the backend limits (codes,
  registration, activation resend): ``{"conversation": sender id, "network": from the latest
  message's metadata ``pomocnik_client.network``, omitted when absent}``.
- ``action_ask_verification_code`` - how every sensitive form asks for the code (silent right
  after ``utter_verification_code_sent``, which asks already).

Secrets: the code and the grant are never logged nor put into a response; addresses are logged
masked only.
"""

from __future__ import annotations

import logging
import re
from abc import ABC
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.backend_client import (
    BackendError,
    BackendUnavailable,
    CodeRequestLimited,
    Requester,
    get_backend_client,
    mask_email,
)
from actions.people import fold
from actions.tracker import drop_slot_candidates, latest_intent
from actions.validators import (
    EMAIL_SLOT,
    UTTER_INVALID_EMAIL,
    BaseFormValidator,
    EmailSlotValidator,
    normalize_email,
)

logger = logging.getLogger(__name__)

CODE_SLOT = "verification_code"
GRANT_SLOT = "verification_grant"
VERIFIED_NAME_SLOT = "verified_name"
VERIFIED_EMAIL_SLOT = "verified_email"
IDENTITY_METADATA_KEY = "pomocnik_identity"
# The gateway puts {"pomocnik_client": {"network": "203.0.113.0/24"}} into every message's metadata.
CLIENT_METADATA_KEY = "pomocnik_client"

# The value every sensitive journey's status slot takes when the grant has expired.
IDENTITY_EXPIRED_STATUS = "identity_expired"
VERIFICATION_REQUIRED_CODE = "verification_required"

UTTER_CODE_SENT = "utter_verification_code_sent"
UTTER_CODE_LIMITED = "utter_verification_code_limited"
UTTER_CODE_LIMITED_LATER = "utter_verification_code_limited_later"
UTTER_ASK_CODE = "utter_ask_verification_code"
UTTER_ASK_CODE_TO = "utter_ask_verification_code_to"
UTTER_CODE_FORMAT = "utter_verification_code_format"
UTTER_CODE_WRONG = "utter_verification_code_wrong"
UTTER_CODE_WRONG_TRIES = "utter_verification_code_wrong_tries"
UTTER_CODE_EXPIRED = "utter_verification_code_expired"
UTTER_VERIFIED = "utter_identity_verified"
UTTER_IDENTITY_UNAVAILABLE = "utter_identity_unavailable"
UTTER_IDENTITY_FAILED = "utter_identity_failed"

UTTER_CODE_NOT_RECEIVED = "utter_verification_code_not_received"
# The code needs the account's mailbox; without it a consultant verifies the visitor.
UTTER_MAILBOX_NEEDED = "utter_verification_mailbox_needed"

# The intent of "kod nie przyszedł" / "wyślij kod jeszcze raz"; "nie dostałem maila" is often
# read as the activation-link resend, which at the code prompt means the same.
CODE_NOT_RECEIVED_INTENTS = ("code_not_received", "resend_activation")
# ...and the words, on the folded text (lower case, no diacritics), for any other reading.
_NOT_RECEIVED = re.compile(
    r"\bnie\s+(?:\w+\s+)?(?:przyszed|przyszl|doszed|doszl|dotar|dosta|otrzyma|mam\b|ma\b|widz)"
    r"|\bbrak\s+(?:kodu|maila|wiadomosci)"
    r"|\b(?:wyslij|przeslij|wygeneruj|daj)\w*\s+(?:\w+\s+)?(?:kod|jeszcze\s+raz|ponownie|nowy)"
    r"|\bnowy\s+kod"
)
# "do starego maila nie mam już dostępu", "nie mam jak odebrać kodu": the code goes to the
# account's address, so without that mailbox the chat cannot verify anyone (folded text).
_MAILBOX = r"(?:(?:e-?)?mail\w*|poczt\w*|skrzynk\w*|adres\w*|starego|stary)"
_NO_MAILBOX = re.compile(
    r"\bnie\s+mam\s+(?:juz\s+)?(?:jak\s+odebrac|dostepu\s+do\s+(?:\w+\s+)?" + _MAILBOX + r")"
    r"|\bdo\s+(?:\w+\s+)?" + _MAILBOX + r"\s+(?:juz\s+)?nie\s+mam\s+(?:juz\s+)?dostepu"
    r"|\bbrak\s+dostepu\s+do\s+(?:\w+\s+)?" + _MAILBOX
    + r"|\b" + _MAILBOX + r"\s+(?:juz\s+)?"
    r"(?:nie\s+dziala|nie\s+istnieje|zostal\w*\s+(?:usuni|zamkni|zlikwidowan))"
)
# Entity roles of an address that is not the visitor's own (data/nlu/company.yml).
OTHER_ADDRESS_ROLES = ("member", "new")
# Form slots that hold someone else's address.
OTHER_ADDRESS_SLOTS = ("member_email", "new_email")

# Six digits, also as people paste them: "482 913", "482-913", "kod to 123456".
_CODE = re.compile(r"(?<!\d)(\d{3})[ \-]?(\d{3})(?!\d)")


@dataclass(frozen=True)
class Identity:
    grant: str
    name: Optional[str]
    email: Optional[str]


def identity_from_metadata(tracker: Tracker) -> Optional[Identity]:
    """The signed-in visitor's identity the gateway put into the latest message's metadata."""
    latest = tracker.latest_message or {}
    metadata = latest.get("metadata") if isinstance(latest, dict) else None
    if not isinstance(metadata, dict):
        return None
    identity = metadata.get(IDENTITY_METADATA_KEY)
    if not isinstance(identity, dict):
        return None
    grant = identity.get("grant")
    if not isinstance(grant, str) or not grant.strip():
        return None
    if grant.strip() in _rejected_grants(tracker):
        # The backend refused it already (identity_expired_events cleared it): a stale grant
        # the gateway keeps sending must not verify the user again and again.
        return None
    name = identity.get("name")
    email = identity.get("email")
    return Identity(
        grant=grant.strip(),
        name=name if isinstance(name, str) and name.strip() else None,
        email=normalize_email(email) if isinstance(email, str) else None,
    )


def requester_of(tracker: Tracker) -> Requester:
    """Who asks, for the backend's limits: this conversation, and the client's network when the
    gateway reported it in the latest message's metadata."""
    requester: Requester = {"conversation": tracker.sender_id}
    latest = tracker.latest_message or {}
    metadata = latest.get("metadata") if isinstance(latest, dict) else None
    client = metadata.get(CLIENT_METADATA_KEY) if isinstance(metadata, dict) else None
    network = client.get("network") if isinstance(client, dict) else None
    if isinstance(network, str) and network.strip():
        requester["network"] = network.strip()
    return requester


def _rejected_grants(tracker: Tracker) -> set:
    """Grants this conversation held and then dropped (set, later cleared by
    identity_expired_events after the backend's 401)."""
    rejected, current = set(), None
    for event in tracker.events or []:
        if event.get("event") != "slot" or event.get("name") != GRANT_SLOT:
            continue
        value = event.get("value")
        if value is None and current:
            rejected.add(current)
        current = value
    return rejected


def grant_of(tracker: Tracker) -> Optional[str]:
    """The verification grant for a sensitive call: the gateway's (message metadata) first,
    then the one this conversation obtained with a code; None when the user is not verified."""
    identity = identity_from_metadata(tracker)
    if identity is not None:
        return identity.grant
    grant = tracker.get_slot(GRANT_SLOT)
    return grant if isinstance(grant, str) and grant.strip() else None


def identity_expired_events() -> List[EventType]:
    """Forget the verified identity (the backend answered 401 `verification_required`): the next
    sensitive form asks for the e-mail and a new code again."""
    return [
        SlotSet(GRANT_SLOT, None),
        SlotSet(VERIFIED_NAME_SLOT, None),
        SlotSet(VERIFIED_EMAIL_SLOT, None),
        SlotSet(EMAIL_SLOT, None),
        SlotSet(CODE_SLOT, None),
    ]


def is_identity_expired(error: BackendError) -> bool:
    """The backend no longer accepts the grant (expired, unknown, account locked)."""
    return error.status == 401 and error.code == VERIFICATION_REQUIRED_CODE


def extract_code(text: Any) -> Optional[str]:
    """The 6 digits of a verification code in a message, or None (also for two candidates)."""
    if not isinstance(text, str):
        return None
    matches = _CODE.findall(text)
    if len(matches) != 1:
        return None
    return "".join(matches[0])


def _usable_grant(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def visitor_address_in_message(
    tracker: Tracker, *, collects_other_address: bool = False
) -> Optional[str]:
    """The visitor's own address in the latest message, or None.

    An ``email`` entity tagged with a role in ``OTHER_ADDRESS_ROLES`` (a company user's
    address, a new login: the company forms tag every address of the message by the words
    before it, actions/company.py) is someone else's; of the others exactly one distinct
    address must remain. Without any ``email`` entity the text is searched (exactly one
    address in it) - except in a form that also collects someone else's address, where an
    address is the visitor's only when an entity says so.
    """
    latest = tracker.latest_message or {}
    entities = [
        entity
        for entity in latest.get("entities") or []
        if isinstance(entity, dict) and entity.get("entity") == EMAIL_SLOT
    ]
    others = {
        normalize_email(entity.get("value"))
        for entity in entities
        if entity.get("role") in OTHER_ADDRESS_ROLES
    } - {None}
    own = {
        normalize_email(entity.get("value"))
        for entity in entities
        if entity.get("role") not in OTHER_ADDRESS_ROLES
    } - {None} - others
    if own or collects_other_address:
        return own.pop() if len(own) == 1 else None
    if others:
        return None
    return normalize_email(latest.get("text"))


def says_code_not_received(tracker: Tracker, text: Any) -> bool:
    """Whether the answer to "Wpisz kod" says that the code did not arrive (or asks for a new
    one) instead of giving it: by the intent, or by the words when the NLU read it otherwise."""
    if latest_intent(tracker) in CODE_NOT_RECEIVED_INTENTS:
        return True
    return bool(_NOT_RECEIVED.search(fold(text)))


def says_mailbox_lost(text: Any) -> bool:
    """Whether the message says the visitor cannot read the account's mailbox ("do starego
    maila nie mam już dostępu"), where the verification code would go."""
    return bool(_NO_MAILBOX.search(fold(text)))


def _identity_events(identity: Identity) -> Dict[Text, Any]:
    return {
        GRANT_SLOT: identity.grant,
        VERIFIED_NAME_SLOT: identity.name,
        VERIFIED_EMAIL_SLOT: identity.email,
        EMAIL_SLOT: None,
        CODE_SLOT: None,
    }


class VerifiedIdentityValidator(EmailSlotValidator, BaseFormValidator, ABC):
    """Base of the validator of every form that needs a verified identity.

    Subclasses name the form (``form_name``) and add ``validate_<slot>`` for their own slots.
    If they override ``required_slots``, they must call ``super().required_slots(...)`` with
    their list so that the identity slots still come first.

    ``optional_slots``: slots the form takes when the user gives them (extracted and validated
    like the domain's required slots, forgotten at activation like them) but never asks for -
    they are not in the domain's ``required_slots``, so Rasa never requests them either.
    """

    optional_slots: Tuple[Text, ...] = ()

    def domain_slots(self, domain: DomainDict) -> List[Text]:
        slots = super().domain_slots(domain)
        return slots + [slot for slot in self.optional_slots if slot not in slots]

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        updates: Dict[Text, Any] = {}
        if tracker.get_slot(REQUESTED_SLOT) is None:
            # The form is being activated. Values left from an earlier (cancelled or finished)
            # run or from another journey must not count: only what the triggering message
            # said; an address or code never (a code goes only to the address given when this
            # verification asks for it).
            candidates = tracker.slots_to_validate()
            for slot in self.domain_slots(domain) + [EMAIL_SLOT, CODE_SLOT]:
                if slot == GRANT_SLOT or tracker.get_slot(slot) is None:
                    continue
                if slot in (EMAIL_SLOT, CODE_SLOT) or slot not in candidates:
                    updates[slot] = None
            drop_slot_candidates(tracker, (EMAIL_SLOT, CODE_SLOT))
        identity = identity_from_metadata(tracker)
        if identity is not None and tracker.get_slot(GRANT_SLOT) != identity.grant:
            updates.update(_identity_events(identity))
        own_address = None
        if tracker.get_slot(REQUESTED_SLOT) is None and identity is None:
            if not _usable_grant(updates.get(GRANT_SLOT, tracker.get_slot(GRANT_SLOT))):
                if says_mailbox_lost(tracker.latest_message.get("text")):
                    # "chcę zmienić login, ale do starego nie mam już dostępu": said before the
                    # address is asked for, so the visitor can go to a consultant at once
                    dispatcher.utter_message(response=UTTER_MAILBOX_NEEDED)
                # "chcę zmienić pakiet na srebrny, mail jan@x.pl": the address in the message
                # that starts the form is the one to verify - never asked for again.
                own_address = visitor_address_in_message(
                    tracker, collects_other_address=self._collects_other_address(domain)
                )
                if own_address is not None:
                    updates.pop(EMAIL_SLOT, None)
        # Visible to required_slots and the validators below (no event appended on purpose:
        # the SlotSets at the end of the tracker are the candidates to validate).
        tracker.slots.update(updates)
        events: List[EventType] = [SlotSet(slot, value) for slot, value in updates.items()]
        if own_address is not None:
            # A candidate like the ones Rasa appends: validate_email sends the code there.
            tracker.add_slots([SlotSet(EMAIL_SLOT, own_address)])
        return events + await super().run(dispatcher, tracker, domain)

    def _collects_other_address(self, domain: DomainDict) -> bool:
        """Whether this form asks for someone else's address too (a company user's login, a
        new login e-mail): then a lone address in the message is taken as that one."""
        return any(slot in OTHER_ADDRESS_SLOTS for slot in self.domain_slots(domain))

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        own = [slot for slot in domain_slots if slot not in (EMAIL_SLOT, CODE_SLOT)]
        if grant_of(tracker):
            return own
        return [EMAIL_SLOT, CODE_SLOT] + own

    async def next_requested_slot(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Optional[EventType]:
        """Always names the next slot (rasa_sdk leaves it to Rasa when `required_slots` equals
        the domain's list, which it does here while unverified): one rule, in one place."""
        required = await self.required_slots(
            self.domain_slots(domain), dispatcher, tracker, domain
        )
        missing = next(
            (
                slot
                for slot in required
                if slot not in self.optional_slots and tracker.slots.get(slot) is None
            ),
            None,
        )
        return SlotSet(REQUESTED_SLOT, missing)

    # The identity slots are filled by the domain's mappings; nothing to extract (these stubs
    # only keep rasa_sdk from warning about missing `extract_` methods on every turn).
    async def extract_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return {}

    async def extract_verification_code(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return {}

    async def extract_verification_grant(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return {}

    # --- validation --------------------------------------------------------------------

    async def validate_email(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        if normalize_email(slot_value) is None and (
            latest_intent(tracker) in CODE_NOT_RECEIVED_INTENTS or says_mailbox_lost(slot_value)
        ):
            # "nie mam jak odebrać kodu" where the address is asked: no code was sent yet, and
            # one can only go to the account's mailbox - an address of it, or a consultant.
            return self.reject(dispatcher, EMAIL_SLOT, UTTER_MAILBOX_NEEDED)
        return await super().validate_email(slot_value, dispatcher, tracker, domain)

    async def email_accepted(
        self, email: Text, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        return await self._send_code(email, dispatcher, tracker)

    async def validate_verification_code(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        email = normalize_email(tracker.get_slot(EMAIL_SLOT))
        if email is None:  # nothing was sent: start over
            return {EMAIL_SLOT: None, CODE_SLOT: None}

        other_address = normalize_email(slot_value)
        if other_address is not None:
            # An address instead of a code: "ups, to jednak inny adres" (or the same one again,
            # i.e. "wyślij jeszcze raz"): a new code goes there, the old one is cancelled.
            return {CODE_SLOT: None, **await self._send_code(other_address, dispatcher, tracker)}

        code = extract_code(slot_value)
        if code is None:
            if says_code_not_received(tracker, slot_value):
                # "kod nie przyszedł, sprawdziłem spam": where to look, then a new code to the
                # same address - unless a limit refuses it (then that is said honestly).
                logger.info("verification code not received by %s", mask_email(email))
                dispatcher.utter_message(response=UTTER_CODE_NOT_RECEIVED)
                return {CODE_SLOT: None, **await self._send_code(email, dispatcher, tracker)}
            return self.reject(dispatcher, CODE_SLOT, UTTER_CODE_FORMAT)

        try:
            verified = await get_backend_client().check_verification_code(email, code)
        except BackendUnavailable as exc:
            logger.warning("verification check: backend unavailable (%s)", exc.reason)
            # The code stays valid; the user can type it again in a moment.
            return self.reject(dispatcher, CODE_SLOT, UTTER_IDENTITY_UNAVAILABLE)
        except BackendError as exc:
            return self._code_refused(exc, email, dispatcher)

        grant = verified.get("grant") if isinstance(verified, dict) else None
        if not isinstance(grant, str) or not grant:
            logger.error("verification check: no grant in the backend's answer")
            dispatcher.utter_message(response=UTTER_IDENTITY_FAILED)
            return {EMAIL_SLOT: None, CODE_SLOT: None}
        account = verified.get("account") if isinstance(verified.get("account"), dict) else {}
        name = account.get("name") if isinstance(account.get("name"), str) else None
        verified_email = normalize_email(account.get("email")) or email
        logger.info("identity verified for %s", mask_email(verified_email))
        dispatcher.utter_message(response=UTTER_VERIFIED)
        return _identity_events(Identity(grant=grant, name=name, email=verified_email))

    async def validate_verification_grant(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        grant = grant_of(tracker)
        if grant is None and isinstance(slot_value, str) and slot_value.strip():
            grant = slot_value
        return {GRANT_SLOT: grant}

    # --- helpers -------------------------------------------------------------------------

    async def _send_code(
        self, email: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        try:
            outcome = await get_backend_client().request_verification_code(
                email, requester_of(tracker)
            )
        except BackendUnavailable as exc:
            logger.warning("verification code: backend unavailable (%s)", exc.reason)
            return self.reject(dispatcher, EMAIL_SLOT, UTTER_IDENTITY_UNAVAILABLE)
        except BackendError as exc:
            if exc.status == 422:
                logger.info("verification code: backend refused %s", mask_email(email))
                return self.reject(dispatcher, EMAIL_SLOT, UTTER_INVALID_EMAIL)
            logger.error("verification code: backend error %s %s", exc.status, exc.code)
            return self.reject(dispatcher, EMAIL_SLOT, UTTER_IDENTITY_FAILED)
        if isinstance(outcome, CodeRequestLimited):
            # Nothing was sent: say so and when to ask again. The address stays, so a code from
            # an earlier message (if one is still valid) can be typed; a consultant is offered.
            logger.info("verification code: limit reached for %s", mask_email(email))
            minutes = outcome.retry_after_minutes
            if minutes is None:
                dispatcher.utter_message(response=UTTER_CODE_LIMITED_LATER)
            else:
                dispatcher.utter_message(response=UTTER_CODE_LIMITED, minutes=minutes)
            return {EMAIL_SLOT: email, CODE_SLOT: None}
        logger.info("verification code requested for %s", mask_email(email))
        dispatcher.utter_message(response=UTTER_CODE_SENT, masked_email=mask_email(email))
        return {EMAIL_SLOT: email, CODE_SLOT: None}

    def _code_refused(
        self, exc: BackendError, email: str, dispatcher: CollectingDispatcher
    ) -> Dict[Text, Any]:
        if exc.code == "invalid_code":
            attempts_left = exc.details_map.get("attempts_left")
            logger.info("verification code wrong for %s", mask_email(email))
            if isinstance(attempts_left, int) and not isinstance(attempts_left, bool):
                dispatcher.utter_message(
                    response=UTTER_CODE_WRONG_TRIES, attempts_left=attempts_left
                )
            else:
                dispatcher.utter_message(response=UTTER_CODE_WRONG)
            return {CODE_SLOT: None}
        if exc.code in ("invalid_code_format", "validation_error") or exc.status == 422:
            return self.reject(dispatcher, CODE_SLOT, UTTER_CODE_FORMAT)
        if exc.code == "code_expired":
            logger.info("verification code dead for %s", mask_email(email))
            dispatcher.utter_message(response=UTTER_CODE_EXPIRED)
            return {EMAIL_SLOT: None, CODE_SLOT: None}
        logger.error("verification check: backend error %s %s", exc.status, exc.code)
        dispatcher.utter_message(response=UTTER_IDENTITY_FAILED)
        return {EMAIL_SLOT: None, CODE_SLOT: None}


class ActionAskVerificationCode(Action):
    """Asks for the code - unless this turn just sent it (`utter_verification_code_sent` says
    "Wpisz go tutaj" already)."""

    def name(self) -> Text:
        return "action_ask_verification_code"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        if _email_accepted_this_turn(tracker):
            return []
        email = normalize_email(tracker.get_slot(EMAIL_SLOT))
        if email is None:
            dispatcher.utter_message(response=UTTER_ASK_CODE)
        else:
            dispatcher.utter_message(response=UTTER_ASK_CODE_TO, masked_email=mask_email(email))
        return []


def _email_accepted_this_turn(tracker: Tracker) -> bool:
    """Whether, since the latest user message, the last value given to `email` is an address
    (the validator keeps it only after asking the backend for a code)."""
    last_value: Any = None
    seen = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        if event.get("event") == "slot" and event.get("name") == EMAIL_SLOT and not seen:
            last_value, seen = event.get("value"), True
    return seen and last_value is not None
