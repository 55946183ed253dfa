"""Company users ("Dane i ustawienia" → "Użytkownicy", guide 2): roles, add a user, change a
role, remove a user, change a login e-mail.

- ``action_roles_info`` explains the roles from the backend's catalogue (``roles()``, one place:
  backend/roles.py): the role named in the message, or every role a user can be given.
- ``add_user_form`` (member_email, role, confirmation - as ING Księgowość's "Dodawanie użytkownika
  do firmy" form: e-mail and role; a name given anyway, in the starting message or as a
  correction at the summary, is taken and shown, never asked for: ``person_name`` is an optional
  slot, and the invited person gives their name on the activation page), ``change_role_form``
  (member_email, role, confirmation), ``remove_user_form`` (member_email, confirmation) and
  ``change_login_email_form`` (member_email - "mój" means the verified person's own address -,
  new_email, confirmation) need a verified identity; their validators subclass
  ``VerifiedIdentityValidator``. Only the owner manages users: the members list (``members(grant)``,
  owner only) finds the person by e-mail; a refusal the validator already knows (not the owner,
  the owner as target, several companies...) ends the form at once in ``company_refusal`` and the
  submit action reports it without calling the backend.
- Each submit action performs the operation only after a "tak" (``confirmation`` True, accepted
  by the validator only for the values the question showed: actions/confirmation.py), sets its
  categorical ``<journey>_status`` slot (rules in data/rules/company.yml answer), puts what the
  reply shows into ``member_name`` / ``member_address`` / ``role_label`` / ``new_address`` and
  resets the form's slots. Idempotency keys derive from the conversation and the values.

Actions write no text themselves. Grants are never logged, addresses only masked.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
import re
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import (
    BackendError,
    BackendUnavailable,
    get_backend_client,
    mask_email,
)
from actions.confirmation import ConfirmedFormValidator
from actions.idempotency import idempotency_key
from actions.forms import CancelForm
from actions.granted import GrantedOperation, GrantedOutcome, Outcome, refusal_status
from actions.identity import (
    CODE_SLOT,
    VERIFIED_EMAIL_SLOT,
    VERIFIED_NAME_SLOT,
    VerifiedIdentityValidator,
    grant_of,
)
from actions.people import (
    MessageAddresses,
    classify_addresses,
    find_members_by_name,
    fold,
    looks_like_name,
    name_from_answer,
    name_in_request,
    name_runs,
    query_words,
    speaks_of_another_person,
    speaks_of_own_login,
)
from actions.tracker import (
    drop_slot_candidates,
    latest_intent,
    latest_text,
    slot_before_latest_message,
)
from actions.validators import EMAIL_SLOT, UTTER_INVALID_EMAIL, normalize_email

logger = logging.getLogger(__name__)

ADD_USER_FORM = "add_user_form"
CHANGE_ROLE_FORM = "change_role_form"
REMOVE_USER_FORM = "remove_user_form"
CHANGE_LOGIN_EMAIL_FORM = "change_login_email_form"
COMPANY_FORMS = (ADD_USER_FORM, CHANGE_ROLE_FORM, REMOVE_USER_FORM, CHANGE_LOGIN_EMAIL_FORM)

# the forms' slots (shared domain)
MEMBER_EMAIL_SLOT = "member_email"
PERSON_NAME_SLOT = "person_name"
ROLE_SLOT = "role"
NEW_EMAIL_SLOT = "new_email"
CONFIRMATION_SLOT = "confirmation"
# this area's slots (domain/company.yml)
MEMBER_CHECKED_SLOT = "member_checked"
MEMBER_ID_SLOT = "member_id"
MEMBER_IS_SELF_SLOT = "member_is_self"
MEMBER_NAME_SLOT = "member_name"
MEMBER_ADDRESS_SLOT = "member_address"
MEMBER_ROLE_LABEL_SLOT = "member_role_label"
ROLE_LABEL_SLOT = "role_label"
NEW_ADDRESS_SLOT = "new_address"
REFUSAL_SLOT = "company_refusal"
ROLES_INFO_STATUS_SLOT = "roles_info_status"
ROLES_SUMMARY_SLOT = "roles_summary"
ROLES_INFO_LABEL_SLOT = "roles_info_label"
ROLES_INFO_DESCRIPTION_SLOT = "roles_info_description"
ROLES_INFO_PERMISSIONS_SLOT = "roles_info_permissions"
LIST_USERS_STATUS_SLOT = "list_users_status"
MEMBERS_LIST_SLOT = "members_list"
COMPANY_NAME_SLOT = "company_name"
# What the company forms collect, forgotten after each operation and when a form is stopped.
COMPANY_FORM_SLOTS = (
    MEMBER_CHECKED_SLOT,
    MEMBER_EMAIL_SLOT,
    PERSON_NAME_SLOT,
    ROLE_SLOT,
    NEW_EMAIL_SLOT,
    CONFIRMATION_SLOT,
    MEMBER_ID_SLOT,
    MEMBER_IS_SELF_SLOT,
    REFUSAL_SLOT,
)

ADD_USER_STATUS_SLOT = "add_user_status"
CHANGE_ROLE_STATUS_SLOT = "change_role_status"
REMOVE_USER_STATUS_SLOT = "remove_user_status"
CHANGE_LOGIN_EMAIL_STATUS_SLOT = "change_login_email_status"

ADD_USER_INTENT = "add_user"
OWNER_ROLE = "owner"
ROLE_CODES = ("owner", "employee", "management", "warehouse")
# The backend's labels (backend/roles.py), used only while the backend cannot be asked.
FALLBACK_ROLE_LABELS = {
    "owner": "właściciel / prezes",
    "employee": "pracownik",
    "management": "zarząd / pełnomocnik / księgowy",
    "warehouse": "magazynier",
}

UTTER_ALREADY_MEMBER = "utter_add_user_already_member"
UTTER_MEMBER_NOT_FOUND = "utter_company_member_not_found"
UTTER_OWNER_ROLE = "utter_company_owner_role_not_assignable"
UTTER_ROLE_NOT_RECOGNISED = "utter_company_role_not_recognised"
UTTER_INVALID_NAME = "utter_add_user_invalid_name"
UTTER_SAME_EMAIL = "utter_change_login_email_same"
UTTER_MEMBER_AMBIGUOUS = "utter_company_member_ambiguous"
UTTER_MEMBER_NAME_NOT_FOUND = "utter_company_member_name_not_found"
UTTER_MEMBERS_TO_CHOOSE_FROM = "utter_company_members_to_choose_from"
LIST_USERS_FORM = "list_users_form"

# The intents that start each form (the values in such a message are read by the validator).
FORM_INTENTS = {
    ADD_USER_FORM: "add_user",
    CHANGE_ROLE_FORM: "change_role",
    REMOVE_USER_FORM: "remove_user",
    CHANGE_LOGIN_EMAIL_FORM: "change_login_email",
}
# "popraw", "ma być", "jednak" - a value corrected at the summary.
_CORRECTION_CUE = re.compile(
    r"\b(?:popraw\w*|ma\s+byc|powinn?[oa]?\s+byc|powinien\s+byc|mial[oa]?\s+byc|jednak|"
    r"zmien\w*|nie\s+\w+\s*,?\s*tylko|chodzi\s+o|nazywa\s+sie|pomylk\w*|pomylil\w*|blad\w*|"
    r"zle|literowk\w*|sorki|sorry)\b"
)

# A request this short that names nobody in capitals may name them in lower case.
SHORT_REQUEST_WORDS = 5

# Questions the rules answer in the middle of a form (the form then asks again).
QUESTION_INTENTS = ("roles_info", "support_contact", "bot_challenge", "find_login")

# "mój", "swój", "mój adres", "moj wlasny" - the verified person's own address.
_OWN_ADDRESS = re.compile(
    r"^\W*(?:to\s+)?(?:m[oó]j|sw[oó]j|moje?go|swoje?go|m[oó]j\s+w[lł]asny|mnie|ja)"
    r"(?:\s+(?:adres|e-?mail|mail|login))?(?:\s+e-?mail)?\W*$",
    re.IGNORECASE,
)


class Refusal(GrantedOutcome):
    """What the backend (or the validator, knowing it in advance) refuses; status slot values."""

    NOT_OWNER = "not_owner"
    LAST_OWNER = "last_owner"
    MEMBER_NOT_FOUND = "member_not_found"
    OWNER_ROLE = "owner_role"
    ALREADY_MEMBER = "already_member"
    EMAIL_TAKEN = "email_taken"
    EMAIL_UNCHANGED = "email_unchanged"
    MEMBER_NOT_ACTIVE = "member_not_active"
    SELF_ONLY = "self_only"
    SEVERAL_COMPANIES = "several_companies"
    NO_COMPANY = "no_company"
    INVALID_DATA = "invalid_data"


# backend error code -> status value
_BACKEND_REFUSALS = {
    "not_owner": Refusal.NOT_OWNER,
    "last_owner": Refusal.LAST_OWNER,
    "member_not_found": Refusal.MEMBER_NOT_FOUND,
    "owner_role_not_assignable": Refusal.OWNER_ROLE,
    "already_member": Refusal.ALREADY_MEMBER,
    "email_taken": Refusal.EMAIL_TAKEN,
    "email_unchanged": Refusal.EMAIL_UNCHANGED,
    "member_not_active": Refusal.MEMBER_NOT_ACTIVE,
    "email_change_self_only": Refusal.SELF_ONLY,
    "organisation_required": Refusal.SEVERAL_COMPANIES,
    "organisation_not_found": Refusal.NO_COMPANY,
    "validation_error": Refusal.INVALID_DATA,
}


class AddUserStatus:
    INVITED = "invited"  # a new person: invitation with a link to set a password
    ADDED = "added"  # the person has an account already: a notice only
    CANCELLED = "cancelled"


class ChangeRoleStatus:
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    CANCELLED = "cancelled"


class RemoveUserStatus:
    REMOVED = "removed"
    CANCELLED = "cancelled"


class ChangeLoginEmailStatus:
    SENT = "sent"
    CANCELLED = "cancelled"


class RolesInfoStatus:
    ALL = "all"
    ONE = "one"
    UNAVAILABLE = "unavailable"


# --- helpers ---------------------------------------------------------------------------------


def refusal_of(error: BackendError) -> str:
    """The status value for a backend refusal."""
    if error.status == 422 and error.code not in _BACKEND_REFUSALS:
        return Refusal.INVALID_DATA
    return refusal_status(error, _BACKEND_REFUSALS)


def role_label(role: Any, catalogue: Optional[Dict[str, Dict[str, Any]]] = None) -> Optional[str]:
    if not isinstance(role, str):
        return None
    if catalogue and isinstance(catalogue.get(role), dict):
        label = catalogue[role].get("label")
        if isinstance(label, str) and label:
            return label
    return FALLBACK_ROLE_LABELS.get(role)


async def role_catalogue() -> Dict[str, Dict[str, Any]]:
    """code -> the backend's role (label, description, permissions, assignable)."""
    answer = await get_backend_client().roles()
    roles = answer.get("roles") if isinstance(answer, dict) else None
    return {
        role["code"]: role
        for role in roles or []
        if isinstance(role, dict) and isinstance(role.get("code"), str)
    }


def find_member(members: Iterable[Dict[str, Any]], email: str) -> Optional[Dict[str, Any]]:
    for member in members:
        if isinstance(member, dict) and normalize_email(member.get("email")) == email:
            return member
    return None


def member_role_code(member: Dict[str, Any]) -> Optional[str]:
    role = member.get("role")
    if isinstance(role, dict):
        role = role.get("code")
    return role if isinstance(role, str) else None


def member_role_label(member: Dict[str, Any]) -> Optional[str]:
    role = member.get("role")
    if isinstance(role, dict) and isinstance(role.get("label"), str):
        return role["label"]
    return role_label(member_role_code(member))


def member_label(member: Dict[str, Any]) -> str:
    """A member as a list shows them: "Tomasz Wrona (t.wrona@…)", or the address alone for one
    invited without a name (the backend's `name` is null until they activate the account)."""
    name = member.get("name")
    if isinstance(name, str) and name.strip():
        return f"{name} ({member.get('email')})"
    return str(member.get("email"))


def means_own_address(text: Any) -> bool:
    return isinstance(text, str) and bool(_OWN_ADDRESS.match(text.strip()))


def user_just_spoke(tracker: Tracker) -> bool:
    """Whether the form runs right after a user message (not after a rule's answer)."""
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            return True
        if kind in ("slot", "active_loop", "user_featurization"):
            continue
        if kind == "action" and (
            event.get("name") in COMPANY_FORMS
            or event.get("name") in ("action_extract_slots", "action_listen")
        ):
            continue
        return False
    return False


# Role words (folded stems) for a message the NLU left without a role entity.
_ROLE_STEMS = (
    # "pracwnik", "pracownk": the usual typos as well
    (re.compile(r"\b(?:pracowni\w*|prac\w{0,3}n\w{0,2}k\w*)"), "employee"),
    (re.compile(r"\b(?:magazyn\w+)"), "warehouse"),
    (re.compile(r"\b(?:ksiegow\w*|zarzad\w*|pelnomocni\w*|czlon\w+\s+zarzadu)"), "management"),
    (re.compile(r"\b(?:wlasciciel\w*|prezes\w*)"), "owner"),
)


# "…, nie pracownik", "a nie magazynierem": the role named right after it is the wrong one.
_NEGATED_BEFORE = re.compile(r"\bnie\s+(?:jako\s+|na\s+)?$")
# "zmień na księgową": the role after "na" is the new one.
_NEW_ROLE_BEFORE = re.compile(r"\bna\s+(?:role\s+)?$")
# Words that make a role word the role given ("jako księgową", "z rolą magazynier", "rola:
# zarząd"), not a description of the person ("dodaj naszą księgową", "nowego pracownika").
# A role word standing as an item of a list of values ("Tomasz Wrona, t.wrona@…, pracownik")
# is given as well.
_ROLE_CUE_BEFORE = re.compile(
    r"(?:\bjako|\bz\s+rol\w*|\brol\w*|\bna(?:\s+rol\w*)?|\bma\s+(?:byc|miec)(?:\s+rol\w*)?"
    r"|\buprawnieni\w*|^|[,;\n])\s*[:=-]?\s*$"
)
_ADDRESS_LIKE = re.compile(r"\S+@\S+")


def _role_mentions(text: Any) -> List[Tuple[str, str]]:
    """Every role word of a message in order, as (role code, the folded text before it); words
    inside e-mail addresses ("ksiegowa.nowa@…") name no role."""
    folded = _ADDRESS_LIKE.sub(lambda match: " " * len(match.group(0)), fold(text))
    found = sorted(
        (match.start(), code)
        for pattern, code in _ROLE_STEMS
        for match in pattern.finditer(folded)
    )
    return [(code, folded[:start]) for start, code in found]


def role_in_text(text: Any) -> Optional[str]:
    """The role a message names by a role word, leaving out the ones it negates ("jako
    księgowa, nie pracownik"); with "na <rola>" the one after "na" (the new one), else the last
    one named."""
    named = [
        (code, before) for code, before in _role_mentions(text)
        if not _NEGATED_BEFORE.search(before)
    ]
    if not named:
        return None
    after_na = [code for code, before in named if _NEW_ROLE_BEFORE.search(before)]
    return after_na[-1] if after_na else named[-1][0]


def role_given_in_text(text: Any) -> Optional[str]:
    """The role a message gives with a role cue ("dodaj x@y.pl jako magazyniera"), else None."""
    return next(
        (
            code for code, before in _role_mentions(text)
            if _ROLE_CUE_BEFORE.search(before) and not _NEGATED_BEFORE.search(before)
        ),
        None,
    )


def negates_a_role(text: Any) -> bool:
    return any(_NEGATED_BEFORE.search(before) for _, before in _role_mentions(text))


def is_correction(text: str) -> bool:
    return bool(_CORRECTION_CUE.search(fold(text)))


def carries_correction(text: str) -> bool:
    """A correction cue with a value: an address, a role or a name ("nie, ma być Ewa Lis")."""
    return is_correction(text) and bool(
        classify_addresses(text).all() or role_in_text(text) or name_runs(text)
    )


# --- validators ------------------------------------------------------------------------------


class CompanyFormValidator(ConfirmedFormValidator, VerifiedIdentityValidator):
    """Common part of the company-user forms (identity first, then the form's own slots; "tak"
    approves exactly the values the confirmation question showed: actions/confirmation.py).

    Values come from any message: the one that starts the form ("dodaj x@y.pl jako
    magazyniera", "zmień rolę Łukasza Żółcia na księgowego") and a correction at the summary
    ("popraw: ma być Ewa Lis"). An address is the visitor's own ("jestem …", "mój mail …": the
    identity's `email`), the member's, or the new login ("na …") by the words before it. A member
    may be named instead of an address: found by name in the company's members list once the
    identity is verified (`member_email` holds the name until then, `member_checked` says
    whether it was looked up: False while it waits for the grant)."""

    # May `member_email` be the verified person's own address ("mój")?
    accepts_own_address = False
    # May the member be named instead of an address (an existing member)?
    finds_by_name = True
    # Does a role word in the starting message count only with a cue ("jako …")?
    role_needs_cue = False

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        # A question in the middle of the form ("co może magazynier?") may carry a value for a
        # slot (the role); it is not an answer: reject, so the rules answer the question and
        # come back to the form (action_roles_info restores the slot).
        if (
            tracker.active_loop.get("name") == self.form_name()
            and latest_intent(tracker) in QUESTION_INTENTS
            and user_just_spoke(tracker)
        ):
            return [ActionExecutionRejected(self.form_name())]
        events: List[EventType] = []
        if tracker.get_slot("requested_slot") is None:
            events = self._read_request_addresses(tracker)
        elif (
            tracker.get_slot("requested_slot") == CONFIRMATION_SLOT
            and tracker.slots_to_validate().get(CONFIRMATION_SLOT) is False
            and carries_correction(latest_text(tracker))
        ):
            # "nie, ma być Ewa Lis": not a "no" to the operation but a corrected value - the
            # summary is shown again with it
            drop_slot_candidates(tracker, (CONFIRMATION_SLOT,))
            tracker.slots[CONFIRMATION_SLOT] = None
        return events + await super().run(dispatcher, tracker, domain)

    def _read_request_addresses(self, tracker: Tracker) -> List[EventType]:
        """At activation, whose each address in the message is (by the words before it) is
        written into the message's `email` entities as their role - "member" / "new" for
        another person's address, none for the visitor's own - which the identity step reads
        (actions/identity.py: another person's address is never verified, the visitor's own
        one is not asked for again), whatever roles the NLU gave."""
        addresses = classify_addresses(latest_text(tracker))
        if not addresses.all():
            return []
        own = self.own_addresses(tracker, addresses)
        latest = tracker.latest_message or {}
        entities = [
            entity
            for entity in latest.get("entities") or []
            if not (isinstance(entity, dict) and entity.get("entity") == EMAIL_SLOT)
        ]
        for email in addresses.all():
            entity: Dict[str, Any] = {"entity": EMAIL_SLOT, "value": email}
            if email not in own:
                entity["role"] = "new" if email in addresses.new else "member"
            entities.append(entity)
        latest["entities"] = entities
        events: List[EventType] = []
        candidate = normalize_email(tracker.slots_to_validate().get(EMAIL_SLOT))
        if candidate is not None and candidate not in own:
            drop_slot_candidates(tracker, (EMAIL_SLOT,))
            tracker.slots[EMAIL_SLOT] = None
            events.append(SlotSet(EMAIL_SLOT, None))
        return events

    def own_addresses(self, tracker: Tracker, addresses: MessageAddresses) -> List[str]:
        return list(addresses.own)

    def member_from_request(self, tracker: Tracker, addresses: MessageAddresses) -> Optional[str]:
        """The member named in the message that starts the form: an address, else a name."""
        return self._member_named(
            tracker, addresses.member + addresses.current + addresses.new
        )

    def member_from_correction(
        self, tracker: Tracker, addresses: MessageAddresses
    ) -> Optional[str]:
        found = addresses.member + addresses.new + addresses.current
        text = latest_text(tracker)
        if not found and not name_runs(text) and role_in_text(text):
            return None  # "nie, sorry, magazyniera": the role is corrected, not the member
        return self._member_named(tracker, found)

    def _member_named(self, tracker: Tracker, addresses: List[str]) -> Optional[str]:
        """The first of `addresses`, else the longest name in the latest message; in a short
        message written in lower case ("usun piotra", "zmien ewie role") the one or two words
        that are not common ones (checked against the members' names once they are known)."""
        if addresses:
            return addresses[0]
        if self.finds_by_name:
            text = latest_text(tracker)
            runs = name_runs(text)
            if runs:
                return max(runs, key=lambda run: len(run[0].split()))[0]
            words = query_words(text)
            if 1 <= len(words) <= 2 and len(text.split()) <= SHORT_REQUEST_WORDS:
                return " ".join(words)
        return None

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        # A refusal known in advance ends the form; the submit action reports it.
        own = [] if tracker.get_slot(REFUSAL_SLOT) else list(domain_slots)
        return await super().required_slots(own, dispatcher, tracker, domain)

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        for event in events:
            if event.get("event") == "slot":
                tracker.slots[event["name"]] = event["value"]
        # A member given before the identity was verified (an address or a name from the first
        # message) is looked up as soon as the grant is there.
        pending = tracker.get_slot(MEMBER_EMAIL_SLOT)
        if (
            pending is not None
            and tracker.get_slot(MEMBER_CHECKED_SLOT) is False
            and not tracker.get_slot(REFUSAL_SLOT)
            and grant_of(tracker) is not None
        ):
            checked = await self.validate_member_email(pending, dispatcher, tracker, domain)
            tracker.slots.update(checked)
            events += [SlotSet(name, value) for name, value in checked.items()]
        return events

    # --- extraction ---

    async def extract_role(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Asked for the role, the user typed something that names none: say so, ask again.
        In the message that starts the form a role word the NLU did not mark still counts."""
        requested = tracker.get_slot("requested_slot")
        text = latest_text(tracker)
        if user_just_spoke(tracker) and negates_a_role(text):
            # "ma być pracownikiem a nie magazynierem": the NLU marks both roles and the slot
            # mapping cannot tell which one is meant
            role = role_in_text(text)
            if role:
                return {ROLE_SLOT: role}
        # an entity the NLU marked but could not map ("pracwnik") counts as none
        has_entity = any(
            e.get("entity") == ROLE_SLOT and e.get("value") in ROLE_CODES
            for e in tracker.latest_message.get("entities") or []
        )
        if requested is None and self.role_needs_cue:
            # A role word with no cue describes the person ("dodaj naszą księgową"); the role
            # (its permissions) is asked for unless the message gives it ("jako księgową").
            given = role_given_in_text(text)
            if given or has_entity or tracker.get_slot(ROLE_SLOT) is not None:
                return {ROLE_SLOT: given}
            return {}
        # a value the slot mapping took from an unmapped entity ("pracwnik") is no role yet
        no_role_yet = tracker.get_slot(ROLE_SLOT) not in ROLE_CODES
        if requested is None and not has_entity and no_role_yet:
            role = role_in_text(latest_text(tracker))
            return {ROLE_SLOT: role} if role else {}
        if (
            requested == ROLE_SLOT
            and no_role_yet
            and user_just_spoke(tracker)
            and latest_intent(tracker)
            not in ("stop", "deny", "goodbye", "human_handoff", *QUESTION_INTENTS)
            and not has_entity
        ):
            role = role_in_text(latest_text(tracker))
            if role:
                return {ROLE_SLOT: role}
            if not classify_addresses(text).all():  # an address corrects the member instead
                dispatcher.utter_message(response=UTTER_ROLE_NOT_RECOGNISED)
            return {ROLE_SLOT: None}
        return {}

    async def extract_member_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        requested = tracker.get_slot("requested_slot")
        text = latest_text(tracker)
        if requested is None and tracker.get_slot(MEMBER_EMAIL_SLOT) is None:
            value = self.member_from_request(tracker, classify_addresses(text))
        elif (
            requested in (CONFIRMATION_SLOT, ROLE_SLOT)
            and user_just_spoke(tracker)
            and is_correction(text)
        ):
            # "sorki, źle, piotr.wrona@…" while the role (or the summary) is asked
            value = self.member_from_correction(tracker, classify_addresses(text))
        else:
            return {}
        return {MEMBER_EMAIL_SLOT: value} if value else {}

    async def extract_confirmation(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return {}

    # --- validation ---

    async def validate_member_email(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        own_email = normalize_email(tracker.get_slot(VERIFIED_EMAIL_SLOT))
        if self.accepts_own_address and (
            (latest_intent(tracker) == "affirm" and tracker.get_slot("requested_slot")
             == MEMBER_EMAIL_SLOT)
            or means_own_address(slot_value)
        ):
            return self._own_address(tracker, own_email)
        email = normalize_email(slot_value)
        grant = grant_of(tracker)
        if email is None:
            if self.finds_by_name and looks_like_name(slot_value):
                if grant is None:  # looked up once the identity is verified
                    return {MEMBER_EMAIL_SLOT: slot_value, MEMBER_CHECKED_SLOT: False}
                return await self._find_by_name(str(slot_value), dispatcher, tracker)
            return self.reject(dispatcher, MEMBER_EMAIL_SLOT, UTTER_INVALID_EMAIL)
        if self.accepts_own_address and own_email is not None and email == own_email:
            return self._own_address(tracker, own_email)

        if grant is None:  # the identity step comes first; checked once it is verified
            return {MEMBER_EMAIL_SLOT: email, MEMBER_CHECKED_SLOT: False}
        members = await self._members(grant)
        if isinstance(members, dict):
            return self._refused(email, members["refusal"])
        member = find_member(members, email)
        result = self.member_found(email, member, dispatcher, tracker)
        if result.get(MEMBER_EMAIL_SLOT) is not None:
            result[MEMBER_CHECKED_SLOT] = True
        return result

    async def _members(self, grant: str) -> Any:
        """The company's members, or {"refusal": status} when the list cannot be read."""
        try:
            answer = await get_backend_client().members(grant)
        except BackendUnavailable as exc:
            logger.warning("%s: members list unavailable (%s)", self.form_name(), exc.reason)
            return {"refusal": Refusal.UNAVAILABLE}
        except BackendError as exc:
            logger.info("%s: members list refused (%s)", self.form_name(), exc.code)
            return {"refusal": refusal_of(exc)}
        members = answer.get("members") if isinstance(answer, dict) else None
        return [m for m in members or [] if isinstance(m, dict)]

    async def _find_by_name(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        """"Tomasz Wrona, nie pamiętam jego maila": the member by name (case and Polish letters
        do not matter, the whole name or the surname); several -> which one; none -> the
        address is asked for."""
        members = await self._members(str(grant_of(tracker)))
        if isinstance(members, dict):
            return self._refused(text, members["refusal"])
        found = find_members_by_name(members, text)
        if len(found) == 1 and normalize_email(found[0].get("email")):
            email = normalize_email(found[0].get("email"))
            result = self.member_found(str(email), found[0], dispatcher, tracker)
            if result.get(MEMBER_EMAIL_SLOT) is not None:
                result[MEMBER_CHECKED_SLOT] = True
            return result
        if found:
            listing = "\n".join(f"- {member_label(m)}" for m in found)
            logger.info("%s: %d members match the name", self.form_name(), len(found))
            dispatcher.utter_message(response=UTTER_MEMBER_AMBIGUOUS, member_candidates=listing)
            return {MEMBER_EMAIL_SLOT: None, MEMBER_CHECKED_SLOT: None}
        runs = name_runs(text)
        query = max(runs, key=lambda run: len(run[0].split()))[0] if runs else text.strip()
        logger.info("%s: no member matches the name", self.form_name())
        dispatcher.utter_message(response=UTTER_MEMBER_NAME_NOT_FOUND, member_query=query)
        return {MEMBER_EMAIL_SLOT: None, MEMBER_CHECKED_SLOT: None}

    def member_found(
        self,
        email: str,
        member: Optional[Dict[str, Any]],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
    ) -> Dict[Text, Any]:
        """An existing member to act on (change role, remove, change e-mail)."""
        if member is None:
            logger.info("%s: no member %s", self.form_name(), mask_email(email))
            dispatcher.utter_message(response=UTTER_MEMBER_NOT_FOUND, member_email=email)
            return {MEMBER_EMAIL_SLOT: None}
        values = {
            MEMBER_EMAIL_SLOT: email,
            MEMBER_ID_SLOT: str(member.get("id")),
            MEMBER_NAME_SLOT: member.get("name"),
            MEMBER_ROLE_LABEL_SLOT: member_role_label(member),
            MEMBER_IS_SELF_SLOT: bool(member.get("is_you")),
        }
        return {**values, **self.member_checks(member)}

    def member_checks(self, member: Dict[str, Any]) -> Dict[Text, Any]:
        """Refusals known from the member alone (e.g. the owner cannot be removed)."""
        return {}

    def _own_address(self, tracker: Tracker, own_email: Optional[str]) -> Dict[Text, Any]:
        if own_email is None:  # "mój" before the identity is verified: filled in after it
            return {MEMBER_EMAIL_SLOT: "mój", MEMBER_IS_SELF_SLOT: True, MEMBER_CHECKED_SLOT: False}
        return {
            MEMBER_EMAIL_SLOT: own_email,
            MEMBER_ID_SLOT: None,
            MEMBER_IS_SELF_SLOT: True,
            MEMBER_NAME_SLOT: tracker.get_slot(VERIFIED_NAME_SLOT),
            MEMBER_CHECKED_SLOT: True,
        }

    @staticmethod
    def _refused(email: str, refusal: str) -> Dict[Text, Any]:
        # The form ends; the submit action reports the refusal (and forgets an expired grant).
        return {MEMBER_EMAIL_SLOT: email, REFUSAL_SLOT: refusal}

    async def validate_role(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        if slot_value not in ROLE_CODES:
            return {ROLE_SLOT: None}
        if slot_value == OWNER_ROLE:
            return self.reject(dispatcher, ROLE_SLOT, UTTER_OWNER_ROLE)
        try:
            catalogue = await role_catalogue()
        except (BackendUnavailable, BackendError) as exc:
            logger.warning("role labels unavailable (%s)", type(exc).__name__)
            catalogue = {}
        role = catalogue.get(slot_value)
        if isinstance(role, dict) and role.get("assignable") is False:
            return self.reject(dispatcher, ROLE_SLOT, UTTER_OWNER_ROLE)
        return {ROLE_SLOT: slot_value, ROLE_LABEL_SLOT: role_label(slot_value, catalogue)}


class ValidateAddUserForm(CompanyFormValidator):
    confirmed_slots = (MEMBER_EMAIL_SLOT, PERSON_NAME_SLOT, ROLE_SLOT)
    # Never asked for (the guide's form has only the e-mail and the role): taken when given.
    optional_slots = (PERSON_NAME_SLOT,)
    finds_by_name = False  # a new person: only an address will do
    role_needs_cue = True

    async def extract_person_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """The name in the starting message (when written in the nominative) and a corrected
        name at the summary ("popraw: ma być Ewa Lis"), whatever the NLU marked."""
        requested = tracker.get_slot("requested_slot")
        text = latest_text(tracker)
        if requested is None and tracker.get_slot(PERSON_NAME_SLOT) is None:
            name = name_in_request(text)
            return {PERSON_NAME_SLOT: name} if name else {}
        if (
            requested == CONFIRMATION_SLOT
            and user_just_spoke(tracker)
            and is_correction(text)
            and not classify_addresses(text).all()
            and role_in_text(text) is None
        ):
            name = name_from_answer(text)
            return {PERSON_NAME_SLOT: name} if name else {}
        return {}

    def form_name(self) -> Text:
        return ADD_USER_FORM

    def member_found(
        self,
        email: str,
        member: Optional[Dict[str, Any]],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
    ) -> Dict[Text, Any]:
        if member is not None:
            dispatcher.utter_message(response=UTTER_ALREADY_MEMBER, member_email=email)
            return {MEMBER_EMAIL_SLOT: None}
        return {MEMBER_EMAIL_SLOT: email}

    async def validate_person_name(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """The optional name (read by ``extract_person_name``): from the starting message, only
        in the nominative ("dodaj Annę Zielińską" is inflected: left out - it would go into the
        invitation as written; the invited person gives the name on the activation page); at
        the summary, a correction ("popraw: ma być Ewa Lis") - one that is no name keeps the
        name shown before and says so."""
        if tracker.get_slot("requested_slot") is None:
            name = _plausible_name(name_in_request(latest_text(tracker)))
            if name is None:
                return {PERSON_NAME_SLOT: None}
            return {PERSON_NAME_SLOT: name, MEMBER_NAME_SLOT: name}
        name = _plausible_name(slot_value)
        if name is None:
            dispatcher.utter_message(response=UTTER_INVALID_NAME)
            previous = slot_before_latest_message(tracker, PERSON_NAME_SLOT)
            return {PERSON_NAME_SLOT: previous, MEMBER_NAME_SLOT: previous}
        return {PERSON_NAME_SLOT: name, MEMBER_NAME_SLOT: name}


def _plausible_name(value: Any) -> Optional[str]:
    """A person's name tidied up, or None: at least two letters, at most 200 characters, no
    digits, "@" or control characters."""
    name = " ".join(str(value or "").split()).strip(" .,;:!")
    letters = sum(ch.isalpha() for ch in name)
    if (
        letters < 2
        or len(name) > 200
        or any(ch.isdigit() or ch == "@" or not ch.isprintable() for ch in name)
    ):
        return None
    return name


class ValidateChangeRoleForm(CompanyFormValidator):
    confirmed_slots = (MEMBER_EMAIL_SLOT, MEMBER_ID_SLOT, ROLE_SLOT)

    def form_name(self) -> Text:
        return CHANGE_ROLE_FORM

    def member_checks(self, member: Dict[str, Any]) -> Dict[Text, Any]:
        if member_role_code(member) == OWNER_ROLE:
            return {REFUSAL_SLOT: Refusal.LAST_OWNER}
        return {}


class ValidateRemoveUserForm(CompanyFormValidator):
    confirmed_slots = (MEMBER_EMAIL_SLOT, MEMBER_ID_SLOT)

    def form_name(self) -> Text:
        return REMOVE_USER_FORM

    def member_checks(self, member: Dict[str, Any]) -> Dict[Text, Any]:
        if member_role_code(member) == OWNER_ROLE:
            return {REFUSAL_SLOT: Refusal.LAST_OWNER}
        return {}


class ValidateChangeLoginEmailForm(CompanyFormValidator):
    accepts_own_address = True
    confirmed_slots = (MEMBER_EMAIL_SLOT, MEMBER_ID_SLOT, MEMBER_IS_SELF_SLOT, NEW_EMAIL_SLOT)

    def form_name(self) -> Text:
        return CHANGE_LOGIN_EMAIL_FORM

    def own_addresses(self, tracker: Tracker, addresses: MessageAddresses) -> List[str]:
        # "zmieńcie mi login z jan@… na biuro@…": the current login is the visitor's own
        own = list(addresses.own)
        if speaks_of_own_login(latest_text(tracker)) and not addresses.member:
            own += addresses.current
        return own

    def member_from_request(self, tracker: Tracker, addresses: MessageAddresses) -> Optional[str]:
        text = latest_text(tracker)
        if addresses.member:
            return addresses.member[0]
        if addresses.current:
            return addresses.current[0]
        if speaks_of_own_login(text) or addresses.own:
            return "mój"
        runs = name_runs(text)
        if runs:
            return max(runs, key=lambda run: len(run[0].split()))[0]
        # "chcę zmienić maila do logowania": nobody else is named, so it is the visitor's own
        # login (someone else's would be named, as in "zmień login pracownika Tomasza")
        return None if speaks_of_another_person(text) else "mój"

    def member_from_correction(
        self, tracker: Tracker, addresses: MessageAddresses
    ) -> Optional[str]:
        return None  # an address at the summary corrects the new one (extract_new_email)

    async def extract_new_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        requested = tracker.get_slot("requested_slot")
        text = latest_text(tracker)
        addresses = classify_addresses(text)
        if requested is None and tracker.get_slot(NEW_EMAIL_SLOT) is None:
            if addresses.new:
                return {NEW_EMAIL_SLOT: addresses.new[0]}
            return {}
        if requested == CONFIRMATION_SLOT and user_just_spoke(tracker) and is_correction(text):
            found = addresses.new + addresses.member + addresses.current
            return {NEW_EMAIL_SLOT: found[0]} if found else {}
        return {}

    def member_checks(self, member: Dict[str, Any]) -> Dict[Text, Any]:
        if member.get("is_you"):
            return {MEMBER_ID_SLOT: None}  # one's own address: the "me" route, any role
        if member.get("state") not in (None, "active"):
            return {REFUSAL_SLOT: Refusal.MEMBER_NOT_ACTIVE}
        return {}

    async def validate_new_email(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        email = normalize_email(slot_value)
        if email is None:
            return self.reject(dispatcher, NEW_EMAIL_SLOT, UTTER_INVALID_EMAIL)
        if email == normalize_email(tracker.get_slot(MEMBER_EMAIL_SLOT)):
            return self.reject(dispatcher, NEW_EMAIL_SLOT, UTTER_SAME_EMAIL)
        return {NEW_EMAIL_SLOT: email}


# --- submit actions --------------------------------------------------------------------------


class CompanySubmitAction(GrantedOperation, ABC):
    """Common flow: a known refusal or no "tak" -> no call; else the backend call; then the
    status, the reply's values and the form's slots reset."""

    form_slots = COMPANY_FORM_SLOTS
    cancelled_status: Text = "cancelled"

    def settled(self, tracker: Tracker) -> Optional[Text]:
        refusal = tracker.get_slot(REFUSAL_SLOT)
        if refusal:
            return refusal
        if tracker.get_slot(CONFIRMATION_SLOT) is not True:
            return self.cancelled_status
        return None

    def refusal_of(self, error: BackendError) -> Text:
        return refusal_of(error)

    def reply_values(self, tracker: Tracker, values: Dict[Text, Any]) -> Dict[Text, Any]:
        return {**self.shown_values(tracker), **values}

    def shown_values(self, tracker: Tracker) -> Dict[Text, Any]:
        """What the reply shows, kept after the form's slots are reset."""
        return {
            MEMBER_NAME_SLOT: tracker.get_slot(MEMBER_NAME_SLOT),
            MEMBER_ADDRESS_SLOT: tracker.get_slot(MEMBER_EMAIL_SLOT),
        }

    @staticmethod
    def member_id(tracker: Tracker) -> Optional[int]:
        value = tracker.get_slot(MEMBER_ID_SLOT)
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None


class ActionAddUser(CompanySubmitAction):
    status_slot = ADD_USER_STATUS_SLOT

    def name(self) -> Text:
        return "action_add_user"

    def shown_values(self, tracker: Tracker) -> Dict[Text, Any]:
        return {
            MEMBER_NAME_SLOT: tracker.get_slot(PERSON_NAME_SLOT),
            MEMBER_ADDRESS_SLOT: tracker.get_slot(MEMBER_EMAIL_SLOT),
            ROLE_LABEL_SLOT: role_label(tracker.get_slot(ROLE_SLOT))
            if tracker.get_slot(ROLE_LABEL_SLOT) is None
            else tracker.get_slot(ROLE_LABEL_SLOT),
        }

    async def perform(self, grant: str, tracker: Tracker) -> Outcome:
        email = tracker.get_slot(MEMBER_EMAIL_SLOT)
        name = tracker.get_slot(PERSON_NAME_SLOT)
        role = tracker.get_slot(ROLE_SLOT)
        key = idempotency_key(tracker, "add_user", email, name, role)
        answer = await get_backend_client().add_member(grant, email, name, role, key)
        logger.info("add user: %s added", mask_email(str(email)))
        member = answer.get("member") if isinstance(answer, dict) else None
        extra: Dict[Text, Any] = {}
        if isinstance(member, dict):
            extra = {
                MEMBER_NAME_SLOT: member.get("name") or name,
                ROLE_LABEL_SLOT: member_role_label(member),
            }
        invited = isinstance(answer, dict) and answer.get("invitation_sent") is True
        return (AddUserStatus.INVITED if invited else AddUserStatus.ADDED), extra


class ActionChangeRole(CompanySubmitAction):
    status_slot = CHANGE_ROLE_STATUS_SLOT

    def name(self) -> Text:
        return "action_change_role"

    def shown_values(self, tracker: Tracker) -> Dict[Text, Any]:
        return {
            **super().shown_values(tracker),
            ROLE_LABEL_SLOT: tracker.get_slot(ROLE_LABEL_SLOT)
            or role_label(tracker.get_slot(ROLE_SLOT)),
        }

    async def perform(self, grant: str, tracker: Tracker) -> Outcome:
        member_id = self.member_id(tracker)
        if member_id is None:
            return Refusal.MEMBER_NOT_FOUND, {}
        answer = await get_backend_client().change_member_role(
            grant, member_id, tracker.get_slot(ROLE_SLOT)
        )
        changed = not (isinstance(answer, dict) and answer.get("changed") is False)
        return (ChangeRoleStatus.CHANGED if changed else ChangeRoleStatus.UNCHANGED), {}


class ActionRemoveUser(CompanySubmitAction):
    status_slot = REMOVE_USER_STATUS_SLOT

    def name(self) -> Text:
        return "action_remove_user"

    async def perform(self, grant: str, tracker: Tracker) -> Outcome:
        member_id = self.member_id(tracker)
        if member_id is None:
            return Refusal.MEMBER_NOT_FOUND, {}
        await get_backend_client().remove_member(grant, member_id)
        return RemoveUserStatus.REMOVED, {}


class ActionChangeLoginEmail(CompanySubmitAction):
    status_slot = CHANGE_LOGIN_EMAIL_STATUS_SLOT

    def name(self) -> Text:
        return "action_change_login_email"

    def shown_values(self, tracker: Tracker) -> Dict[Text, Any]:
        return {
            **super().shown_values(tracker),
            NEW_ADDRESS_SLOT: tracker.get_slot(NEW_EMAIL_SLOT),
        }

    async def perform(self, grant: str, tracker: Tracker) -> Outcome:
        new_email = tracker.get_slot(NEW_EMAIL_SLOT)
        member_id = None if tracker.get_slot(MEMBER_IS_SELF_SLOT) else self.member_id(tracker)
        if member_id is None and not tracker.get_slot(MEMBER_IS_SELF_SLOT):
            return Refusal.MEMBER_NOT_FOUND, {}
        key = idempotency_key(tracker, "change_login_email", member_id or "me", new_email)
        await get_backend_client().change_member_email(grant, member_id, new_email, key)
        logger.info("login e-mail change requested (new %s)", mask_email(str(new_email)))
        return ChangeLoginEmailStatus.SENT, {}


# --- who has access (reading only) -----------------------------------------------------------


class ListUsersStatus:
    LISTED = "listed"


LIST_USERS_REFUSALS = (
    Refusal.NOT_OWNER,
    Refusal.SEVERAL_COMPANIES,
    Refusal.NO_COMPANY,
    Refusal.IDENTITY_EXPIRED,
    Refusal.UNAVAILABLE,
    Refusal.FAILED,
)


class ValidateListUsersForm(VerifiedIdentityValidator):
    """Only the identity: the form's single slot `verification_grant` is filled by it."""

    def form_name(self) -> Text:
        return LIST_USERS_FORM


class ActionListUsers(GrantedOperation):
    """"kto ma dostęp do firmy?": the company's members from the backend (owner only), one line
    each: name, address, role, and the state when not active. Changes nothing."""

    status_slot = LIST_USERS_STATUS_SLOT
    reply_slots = (MEMBERS_LIST_SLOT, COMPANY_NAME_SLOT)

    def name(self) -> Text:
        return "action_list_users"

    def refusal_of(self, error: BackendError) -> Text:
        status = refusal_of(error)
        return status if status in LIST_USERS_REFUSALS else Refusal.FAILED

    async def perform(self, grant: str, tracker: Tracker) -> Outcome:
        answer = await get_backend_client().members(grant)
        members_list, company_name = members_listing(answer)
        return ListUsersStatus.LISTED, {
            MEMBERS_LIST_SLOT: members_list,
            COMPANY_NAME_SLOT: company_name,
        }


def members_listing(answer: Any) -> Tuple[str, Optional[str]]:
    """The backend's members answer as lines (name and address - the address alone without a
    name -, role, and the state when not active) and the company's name."""
    members = answer.get("members") if isinstance(answer, dict) else None
    organisation = answer.get("organisation") if isinstance(answer, dict) else None
    lines = []
    for member in members or []:
        if not isinstance(member, dict):
            continue
        line = f"- {member_label(member)} – {member_role_label(member)}"
        if member.get("state") not in (None, "active") and member.get("state_label"):
            line += f", {member.get('state_label')}"
        lines.append(line)
    name = organisation.get("name") if isinstance(organisation, dict) else None
    return "\n".join(lines), name


class AskWhichMember(Action, ABC):
    """The question "which user?" of a form that acts on an existing member: with a verified
    identity it first shows who is in the company (as "kto ma dostęp?" does), so nobody has to
    remember an address; without one, or when the list cannot be read, just the question."""

    @property
    @abstractmethod
    def form(self) -> Text:
        """The form whose question this is (a class attribute in each subclass)."""

    def name(self) -> Text:
        return f"action_ask_{self.form}_{MEMBER_EMAIL_SLOT}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        grant = grant_of(tracker)
        if grant is not None:
            try:
                members_list, company_name = members_listing(
                    await get_backend_client().members(grant)
                )
            except (BackendError, BackendUnavailable) as exc:  # the question still stands
                logger.info("%s: members list not shown (%s)", self.form, type(exc).__name__)
                members_list, company_name = "", None
            if members_list:
                dispatcher.utter_message(
                    response=UTTER_MEMBERS_TO_CHOOSE_FROM,
                    members_list=members_list,
                    company_name=company_name or "",
                )
        dispatcher.utter_message(response=f"utter_ask_{self.form}_{MEMBER_EMAIL_SLOT}")
        return []


class ActionAskChangeRoleMember(AskWhichMember):
    form = CHANGE_ROLE_FORM


class ActionAskRemoveUserMember(AskWhichMember):
    form = REMOVE_USER_FORM


class ActionAskChangeLoginEmailMember(AskWhichMember):
    form = CHANGE_LOGIN_EMAIL_FORM


# --- roles -----------------------------------------------------------------------------------


class ActionRolesInfo(Action):
    """The roles from the backend: the one named in the message, else all a user can be given."""

    def name(self) -> Text:
        return "action_roles_info"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        asked = next(
            (
                e.get("value")
                for e in tracker.latest_message.get("entities") or []
                if e.get("entity") == ROLE_SLOT and e.get("value") in ROLE_CODES
            ),
            None,
        ) or role_in_text(latest_text(tracker))  # "a księgowa to która?"
        # A role named in a question is not an answer to a form: put the slot back.
        events: List[EventType] = [
            SlotSet(ROLE_SLOT, slot_before_latest_message(tracker, ROLE_SLOT))
        ]
        try:
            catalogue = await role_catalogue()
        except (BackendUnavailable, BackendError) as exc:
            logger.warning("roles info: backend unavailable (%s)", type(exc).__name__)
            return [SlotSet(ROLES_INFO_STATUS_SLOT, RolesInfoStatus.UNAVAILABLE)] + events

        role = catalogue.get(asked) if asked else None
        if isinstance(role, dict):
            permissions = [
                p.get("label")
                for p in role.get("permissions") or []
                if isinstance(p, dict) and isinstance(p.get("label"), str)
            ]
            return [
                SlotSet(ROLES_INFO_STATUS_SLOT, RolesInfoStatus.ONE),
                SlotSet(ROLES_INFO_LABEL_SLOT, role.get("label")),
                SlotSet(ROLES_INFO_DESCRIPTION_SLOT, role.get("description")),
                SlotSet(ROLES_INFO_PERMISSIONS_SLOT, "\n".join(f"- {p}" for p in permissions)),
            ] + events

        lines = [
            f"- {role.get('label')}: {_first_sentence(role.get('description'))}"
            for role in catalogue.values()
            if role.get("assignable")
        ]
        if not lines:
            return [SlotSet(ROLES_INFO_STATUS_SLOT, RolesInfoStatus.UNAVAILABLE)] + events
        return [
            SlotSet(ROLES_INFO_STATUS_SLOT, RolesInfoStatus.ALL),
            SlotSet(ROLES_SUMMARY_SLOT, "\n".join(lines)),
        ] + events


def _first_sentence(text: Any) -> str:
    if not isinstance(text, str):
        return ""
    match = re.match(r"(.+?[.!?])(\s|$)", text.strip())
    return match.group(1) if match else text.strip()


# --- leaving a company form --------------------------------------------------------------------


class ActionCancelCompanyForm(CancelForm):
    forgotten_slots = COMPANY_FORM_SLOTS + (EMAIL_SLOT, CODE_SLOT)

    def name(self) -> Text:
        return "action_cancel_company_form"
