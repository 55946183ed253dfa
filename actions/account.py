"""Account access: the password-reset form and the backend call behind it.

`action_request_password_reset` does not talk to the user itself. It reports the outcome
in the categorical slot `password_reset_status` and the rules in
`data/rules/account.yml` branch on that slot to the right domain responses. This keeps
every reply in the domain and every response reachable from rules/stories (so
`rasa data validate --fail-on-warnings` can check them), and lets conversation tests
cover each outcome.

Slot policy: `email` is cleared after every attempt, so a new "nie pamiętam hasła" always
asks for the address again instead of silently reusing an old one. On success the
address is kept in `last_reset_email` (shown in the reply; reserved for a later
"wyślij ponownie" journey).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.backend_client import (
    BackendError,
    BackendUnavailable,
    get_backend_client,
    mask_email,
)
from actions.people import classify_addresses, speaks_of_another_person
from actions.tracker import latest_intent, user_messages
from actions.validators import EMAIL_SLOT, BaseFormValidator, EmailSlotValidator, normalize_email

logger = logging.getLogger(__name__)

RESET_PASSWORD_FORM = "reset_password_form"
LAST_RESET_EMAIL_SLOT = "last_reset_email"
PASSWORD_RESET_STATUS_SLOT = "password_reset_status"


class PasswordResetStatus:
    """Values of the categorical slot `password_reset_status` (see domain/account.yml)."""

    SENT = "sent"
    RATE_LIMITED = "rate_limited"
    INVALID_EMAIL = "invalid_email"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"


# A "nie" or "nie wiem" at the address question answers no yes/no question: the form explains
# why it needs the address and asks again; a "tak" just gets the question again. Only an
# explicit stop ("anuluj", "stop", "przerwij", "rezygnuję") cancels (data/rules/account.yml);
# "nie no, chcę dalej" (`resume`) is answered by rules/dialogue_control.yml.
HELP_INTENTS = frozenset({"deny", "dont_know"})
# Journeys whose addresses are other people's (company users, a new login).
OTHER_PEOPLE_INTENTS = frozenset({"add_user", "change_role", "remove_user", "change_login_email"})
GO_ON_INTENTS = frozenset({"affirm"})


class KeepAskingForEmail:
    """Mixin of the forms that ask only for the user's own address (reset, activation link).
    Started without one, the form takes the one address the visitor already wrote in this
    conversation ("mam konto jan@…", then "a jak nie pamiętam hasła?"); with several it asks."""

    email_help_response: Text = ""

    async def extract_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot(REQUESTED_SLOT) is not None or tracker.get_slot(EMAIL_SLOT):
            return {}
        typed = set()
        for message in user_messages(tracker):
            intent = ((message.get("parse_data") or {}).get("intent") or {}).get("name")
            addresses = classify_addresses(message["text"])
            # someone else's address (a colleague added, a new login) is never the visitor's
            typed.update(addresses.own)
            if intent not in OTHER_PEOPLE_INTENTS and not speaks_of_another_person(
                message["text"]
            ):
                typed.update(addresses.member)
        return {EMAIL_SLOT: typed.pop()} if len(typed) == 1 else {}

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        intent = latest_intent(tracker)
        candidates = tracker.slots_to_validate()
        address = normalize_email(candidates.get(EMAIL_SLOT))
        if (
            tracker.get_slot(REQUESTED_SLOT) == EMAIL_SLOT
            and intent in HELP_INTENTS | GO_ON_INTENTS
            and address is None
        ):
            if intent in HELP_INTENTS:
                dispatcher.utter_message(response=self.email_help_response)
            return [SlotSet(EMAIL_SLOT, None), SlotSet(REQUESTED_SLOT, EMAIL_SLOT)]
        return await super().run(dispatcher, tracker, domain)  # type: ignore[misc]


class ValidateResetPasswordForm(KeepAskingForEmail, EmailSlotValidator, BaseFormValidator):
    email_help_response = "utter_reset_email_needed"

    def form_name(self) -> Text:
        return RESET_PASSWORD_FORM


class ActionRequestPasswordReset(Action):
    def name(self) -> Text:
        return "action_request_password_reset"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        # The form validated the slot already; checking again keeps garbage away from
        # the backend should the action ever be reached another way.
        email = normalize_email(tracker.get_slot(EMAIL_SLOT))
        if email is None:
            return _outcome(PasswordResetStatus.INVALID_EMAIL)

        try:
            await get_backend_client().request_password_reset(email)
        except BackendUnavailable as exc:
            logger.warning("password reset: backend unavailable (%s)", exc.reason)
            return _outcome(PasswordResetStatus.UNAVAILABLE)
        except BackendError as exc:
            if exc.status == 429 or exc.code == "rate_limited":
                return _outcome(PasswordResetStatus.RATE_LIMITED)
            if exc.status == 422 or exc.code == "validation_error":
                logger.info("password reset: backend refused %s", mask_email(email))
                return _outcome(PasswordResetStatus.INVALID_EMAIL)
            logger.error("password reset: backend error %s %s", exc.status, exc.code)
            return _outcome(PasswordResetStatus.FAILED)

        return _outcome(PasswordResetStatus.SENT) + [SlotSet(LAST_RESET_EMAIL_SLOT, email)]


def _outcome(status: str) -> List[EventType]:
    return [SlotSet(PASSWORD_RESET_STATUS_SLOT, status), SlotSet(EMAIL_SLOT, None)]
