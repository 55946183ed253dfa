"""Shared slot validators and the base class of every form validation action.

A form validator subclasses `BaseFormValidator`, names its form and mixes in the shared
`validate_<slot>` methods it needs, e.g.

    class ValidateResetPasswordForm(EmailSlotValidator, BaseFormValidator):
        def form_name(self) -> str:
            return "reset_password_form"

Rejections answer with a domain response (never a string written here) and return
`{slot: None}`, so the form asks for the slot again.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any, Dict, Optional, Text

import email_validator
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

EMAIL_SLOT = "email"
UTTER_INVALID_EMAIL = "utter_invalid_email"

# Something that looks like an address inside a longer sentence ("mój mail to x@y.pl.").
EMAIL_CANDIDATE = re.compile(r"[^\s<>()\[\]{},;:\"'„”]+@[^\s<>()\[\]{},;:\"'„”]+")
_TRAILING_PUNCTUATION = ".,;:!?)]}\"'”"


def normalize_email(value: Any) -> Optional[str]:
    """Returns the address in canonical lower-case form, or None if it is not a valid one.

    Syntax only (no DNS look-up). Free text is accepted when it contains exactly one
    address-like token ("mój mail to jan@firma.pl."); two candidates are ambiguous.
    The reply to the user repeats the address, so a mis-read one is visible.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    candidates = EMAIL_CANDIDATE.findall(text)
    if len(candidates) != 1:
        return None
    text = candidates[0].rstrip(_TRAILING_PUNCTUATION)
    try:
        result = email_validator.validate_email(text, check_deliverability=False)
    except email_validator.EmailNotValidError:
        return None
    if len(result.ascii_domain.rsplit(".", 1)[-1]) < 2:
        return None  # "biuro-nowak.p": cut off; no top-level domain has a single letter
    return result.normalized.lower()


class BaseFormValidator(FormValidationAction, ABC):
    """Base of all `validate_<form>` actions: the name is derived from the form name."""

    @abstractmethod
    def form_name(self) -> Text:
        """The form this action validates, as named in the domain."""

    def name(self) -> Text:
        return f"validate_{self.form_name()}"

    @staticmethod
    def reject(dispatcher: CollectingDispatcher, slot: Text, response: Text) -> Dict[Text, Any]:
        """Explains the problem with `response` and clears `slot` so it is asked again."""
        dispatcher.utter_message(response=response)
        return {slot: None}


class EmailSlotValidator:
    """Mixin: validates the shared `email` slot (syntax, normalised to lower case). A subclass
    that does more with an accepted address (the identity step sends a code there) overrides
    `email_accepted`."""

    async def validate_email(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        email = normalize_email(slot_value)
        if email is None:
            return BaseFormValidator.reject(dispatcher, EMAIL_SLOT, UTTER_INVALID_EMAIL)
        return await self.email_accepted(email, dispatcher, tracker)

    async def email_accepted(
        self, email: Text, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        return {EMAIL_SLOT: email}
