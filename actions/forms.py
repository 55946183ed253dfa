"""Leaving a form, and coming back to it, the same way in every area.

A rule runs the area's ``CancelForm`` action after ``action_deactivate_loop`` when the user stops
a form ("stop", "anuluj", "rezygnuję"): it forgets everything the area's forms collected, so the
next run of a form starts clean and nothing typed for a cancelled operation is reused unseen.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import re
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.people import fold
from actions.tracker import action_before_latest_message, latest_text, session_events
from actions.validators import normalize_email


class CancelForm(Action, ABC):
    """Forgets `forgotten_slots` (the area's form slots) after a form was stopped."""

    forgotten_slots: Tuple[Text, ...] = ()

    @abstractmethod
    def name(self) -> Text:
        """The action's name in the domain."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        return [SlotSet(slot, None) for slot in self.forgotten_slots]


# --- a value given after the form that needed it -------------------------------------------

# What marks the topic of the last turns, by the form that takes its values: the form itself, the
# operation it ran, or an answer that points to it ("Czy wysłać link do zmiany hasła?",
# "ID i PIN znajdziesz w mailu od Comarch").
_TOPIC_MARKERS: Dict[Text, Tuple[Text, ...]] = {
    "reset_password_form": (
        "reset_password_form", "action_request_password_reset", "utter_offer_reset",
        "utter_password_requirements",
    ),
    "resend_activation_form": ("resend_activation_form", "action_resend_activation"),
    "registration_form": ("registration_form", "utter_forgot_comarch_id"),
}
# The values (entities) each of those forms takes.
_TOPIC_VALUES: Dict[Text, Tuple[Text, ...]] = {
    "reset_password_form": ("email",),
    "resend_activation_form": ("email",),
    "registration_form": ("email", "comarch_id", "pin", "nip", "package"),
}
# How many visitor messages back the topic still counts.
_TOPIC_REACH = 3
# Answers a short follow-up with nothing the topic takes ("8?", "a w sobotę?") is asked about:
# given again, as for a follow-up the classifier cannot place (rules/dialogue_control.yml).
_ANSWERS_TO_REPEAT = ("utter_password_requirements", "utter_support_contact")


def answer_just_given(tracker: Tracker) -> Optional[Text]:
    """The last response before the latest visitor message, if it is one to give again."""
    name = action_before_latest_message(tracker)
    return name if name in _ANSWERS_TO_REPEAT else None


def latest_recent_action(tracker: Tracker, names: Iterable[Text]) -> Optional[Text]:
    """The latest of `names` run before the latest message, within the last `_TOPIC_REACH`
    visitor messages."""
    wanted = frozenset(names)
    users_seen = 0
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            users_seen += 1
            if users_seen > _TOPIC_REACH:
                return None
        elif kind == "action" and users_seen >= 1 and event.get("name") in wanted:
            return event["name"]
    return None


def recent_topic_form(tracker: Tracker) -> Optional[Text]:
    """The form whose topic the conversation was on just before the latest message."""
    form_of = {marker: form for form, markers in _TOPIC_MARKERS.items() for marker in markers}
    marker = latest_recent_action(tracker, form_of)
    return form_of[marker] if marker else None


class ActionValueForTopic(Action):
    """A bare value nobody asked for ("jan@firma.pl", "ID 68577"). Right after the topic it
    belongs to - the reset offer, a sent link with a mistyped address, where ID and PIN are
    found - the form of that topic starts again with the value (its validator checks it as in
    any form). Without such a value, right after the password rules or the contact details,
    that answer is given again ("8?"); otherwise the visitor is asked what they need."""

    def name(self) -> Text:
        return "action_value_for_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        form = recent_topic_form(tracker)
        values = self._values(tracker, _TOPIC_VALUES.get(form, ()))
        if form is None or not values:
            dispatcher.utter_message(response=answer_just_given(tracker) or "utter_how_can_help")
            return []
        return [SlotSet(slot, value) for slot, value in values.items()] + [
            FollowupAction(form)
        ]

    @staticmethod
    def _values(tracker: Tracker, wanted: Tuple[Text, ...]) -> Dict[Text, Any]:
        values: Dict[Text, Any] = {}
        for entity in tracker.latest_message.get("entities") or []:
            name, value = entity.get("entity"), entity.get("value")
            if name in wanted and name not in values and isinstance(value, str):
                values[name] = value
        if "email" in wanted and "email" not in values:
            address = normalize_email(latest_text(tracker))
            if address:
                values["email"] = address
        return values


# --- "nic nie przyszło": the e-mail just sent did not arrive -------------------------------

# The operations that send a link, with the form that sends it again and the slot recording
# where it went (set only when it was sent).
_LINK_SENDERS: Dict[Text, Tuple[Text, Text]] = {
    "action_request_password_reset": ("reset_password_form", "last_reset_email"),
    "action_resend_activation": ("resend_activation_form", "activation_email"),
    "action_register_account": ("resend_activation_form", "activation_email"),
}
# A link is sent again once on request; after that the backend's hourly limits would soon refuse
# anyway, and a mail that twice does not arrive needs a person (a mistyped address, a filter).
_RESENDS_ON_REQUEST = 1


class ActionMailNotReceived(Action):
    """The visitor says the e-mail did not arrive, with no form open. Right after a reset link
    or an activation link was sent, it is sent again to the same address (with the spam hint;
    the form's action reports the backend's limits honestly); a second time the visitor is
    pointed to a person. With no link sent lately, a message naming the reset or the activation
    link starts that form (it asks for the address); otherwise the visitor is told what the
    verification codes are for."""

    def name(self) -> Text:
        return "action_mail_not_received"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        sender = latest_recent_action(tracker, _LINK_SENDERS)
        if sender is None:
            # "link do zmiany hasła nie przyszedł" as a first message: that link is wanted again
            form = _link_named(latest_text(tracker))
            if form is not None:
                return [FollowupAction(form)]
            dispatcher.utter_message(response="utter_verification_code_not_pending")
            return []
        form, address_slot = _LINK_SENDERS[sender]
        address = tracker.get_slot(address_slot)
        if not isinstance(address, str) or not address:
            dispatcher.utter_message(response="utter_verification_code_not_pending")
            return []
        if _times_run(tracker, form) > _RESENDS_ON_REQUEST:
            dispatcher.utter_message(response="utter_mail_still_not_received")
            return []
        dispatcher.utter_message(response="utter_mail_not_received_sending_again")
        return [SlotSet("email", address), FollowupAction(form)]


# Words naming the link that did not arrive, by the form that sends it (folded text).
_LINK_WORDS: Tuple[Tuple[Text, "re.Pattern[str]"], ...] = (
    ("reset_password_form", re.compile(r"\b(?:hasl\w*|reset\w*)")),
    ("resend_activation_form", re.compile(r"\baktywac\w*|\baktywuj\w*")),
)


def _link_named(text: Text) -> Optional[Text]:
    """The form whose link the message names ("link do zmiany hasła"), None for a code or
    nothing named."""
    folded = fold(text)
    if re.search(r"\bkod\w*", folded):
        return None
    for form, words in _LINK_WORDS:
        if words.search(folded):
            return form
    return None


def _times_run(tracker: Tracker, form: Text) -> int:
    """How many times the link of `form` was sent in this conversation session."""
    senders = {name for name, (sent_by, _) in _LINK_SENDERS.items() if sent_by == form}
    return sum(
        1
        for event in session_events(tracker)
        if event.get("event") == "action" and event.get("name") in senders
    )
