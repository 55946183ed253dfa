"""Support: handing the conversation over to a consultant, and the Polish first stage of
Rasa's two-stage fallback.

`action_handoff` - the contract with the chat gateway
------------------------------------------------------
Run when the user asks for a person (intent `human_handoff`, data/rules/support.yml and
data/rules/account.yml). It sends, in this order:

1. the response `utter_handoff_requested` ("Dobrze, przekazuję prośbę o rozmowę z
   konsultantem."),
2. the response `utter_support_contact` - the channels (phone 32 356 22 23, e-mail
   wsparcie@ingksiegowosc.pl, the chat on ingksiegowosc.pl) and hours (Mon-Fri 8:00-18:00),
3. a custom payload, exactly ``{"handoff": {"requested": true}}`` (Rasa's REST channel
   delivers it as ``{"recipient_id": ..., "custom": {"handoff": {"requested": true}}}``),

and returns ``SlotSet("handoff_requested", True)`` so the request stays visible in the
tracker. The gateway acts on the payload (queue, business hours: issue 5); until it does,
the texts above are the whole answer. The payload carries no personal data. Further keys may
be added inside ``"handoff"``; ``"requested"`` stays a bool.

"chcę zostawić zgłoszenie", "proszę o kontakt mailowy", "zadzwońcie do mnie" (intent
`leave_ticket`) take the same path with `utter_ticket_requested` instead of
`utter_handoff_requested`: the gateway's desk decides (an adviser free in business hours
takes the chat; otherwise the gateway offers the ticket form).

`action_handoff_returned` - the adviser let go
----------------------------------------------
The gateway sends ``/handoff_returned`` (intent `handoff_returned`) with the metadata
``{"pomocnik_handoff": {"outcome": "returned" | "closed"}}`` when an adviser hands the
conversation back to the assistant or closes it. The action resets `handoff_requested`;
on a hand-back it greets the visitor again (`utter_handoff_returned`), after a close it
stays silent (the gateway asks for a rating).

`ticket_form` - a ticket left by typing
----------------------------------------
When the desk offered a ticket (nobody can take the chat) the visitor may leave it in the chat,
on any channel: "tak", "zostawiam zgłoszenie" or just an address right after `action_handoff`
start `ticket_form` (data/rules/support.yml). It asks where the adviser should answer (an
e-mail address or a Polish phone number, taken from any message of the form, also the one
that started it) and what the matter is (taken from the starting message when it says more
than "zgłoszenie, mój mail …"). `action_leave_ticket` then sends the gateway
``{"ticket": {"email"|"phone": …, "question": …}}`` - the fields of the widget's ticket form;
the gateway files it within its limits and answers with the ticket's number or the reason it
cannot (bot/gateway/chat.py). The slots are forgotten at once.

`action_default_ask_affirmation` - stage 1 of the two-stage fallback
--------------------------------------------------------------------
Overrides Rasa's default (which asks "Did you mean 'reset_password'?"). The guessed intent
is the best-ranked one that is not `nlu_fallback`. If the domain has a response
`utter_ask_affirmation_<intent>` (domain/dialogue_control.yml: "Czy chodzi o reset hasła?" with the
buttons Tak -> ``/<intent>`` and "Nie, o coś innego" -> ``/out_of_scope``, the denial
Rasa's loop expects), that response is sent; otherwise (small talk, yes/no, `inform`, a
typed password...) asking "Czy chodzi o ...?" makes no sense and `utter_ask_rephrase` is
sent instead. The action never writes text itself.

`action_explain_again` - "nie rozumiem"
----------------------------------------
Right after an explanation (the previous answer's responses that are not questions, offers or
conversation control) it sends that explanation again with the same template values, then
`utter_explain_again_follow_up` (which step is unclear? or a consultant). With nothing explained
just before it asks what is unclear. Inside a form `action_default_fallback` repeats the form's
question instead (`ANSWERS_IN_FORM`).

`action_default_fallback` - "I did not understand"
--------------------------------------------------
Overrides Rasa's default (the core fallback, and the end of the two-stage fallback): the
first time `utter_default` ("Przepraszam, nie jestem pewien, o co chodzi…" with the topics
and a consultant); "nadal nie rozumiem" (`utter_default_again`) only when the two-stage
fallback gives up or the previous answer already was a fallback.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Mapping, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.forms import CancelForm
from actions.people import fold
from actions.tracker import latest_intent, latest_text, previous_answer, user_messages
from actions.validators import EMAIL_CANDIDATE, EMAIL_SLOT, BaseFormValidator, normalize_email
from bot.redaction import redact
from common.polish import PHONE_IN_TEXT, find_phone

logger = logging.getLogger(__name__)

HANDOFF_REQUESTED_SLOT = "handoff_requested"
HANDOFF_PAYLOAD: Dict[Text, Any] = {"handoff": {"requested": True}}
UTTER_HANDOFF_REQUESTED = "utter_handoff_requested"
UTTER_SUPPORT_CONTACT = "utter_support_contact"
UTTER_HANDOFF_RETURNED = "utter_handoff_returned"
HANDOFF_CLOSED = "closed"

LEAVE_TICKET_INTENT = "leave_ticket"
UTTER_TICKET_REQUESTED = "utter_ticket_requested"

NLU_FALLBACK_INTENT = "nlu_fallback"
TWO_STAGE_FALLBACK = "action_two_stage_fallback"
UTTER_DEFAULT = "utter_default"
UTTER_DEFAULT_AGAIN = "utter_default_again"
# What the assistant says when it did not understand: after any of these, "nadal".
FALLBACK_RESPONSES = (UTTER_DEFAULT, UTTER_DEFAULT_AGAIN, "utter_ask_rephrase")
AFFIRMATION_RESPONSE_PREFIX = "utter_ask_affirmation_"
UTTER_ASK_REPHRASE = "utter_ask_rephrase"


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        intent = latest_intent(tracker)
        logger.info("handoff requested in conversation %s (%s)", tracker.sender_id, intent)
        if intent == LEAVE_TICKET_INTENT:
            dispatcher.utter_message(response=UTTER_TICKET_REQUESTED)
        else:
            dispatcher.utter_message(response=UTTER_HANDOFF_REQUESTED)
        dispatcher.utter_message(response=UTTER_SUPPORT_CONTACT)
        dispatcher.utter_message(json_message=HANDOFF_PAYLOAD)
        return [SlotSet(HANDOFF_REQUESTED_SLOT, True)]


# Words that only ask for the ticket or introduce the contact: what is left after them (and the
# contact) is the matter itself, when there is enough of it.
_TICKET_FILLER = frozenset(
    "a adres chce dobra dobrze e email i mail maila mailem moj moje na numer ok okej prosze "
    "przyjac tak tel telefon telefonu to zgloszenie zgloszenia zostawiam zostawic zostawie "
    "kontakt kontaktu moim".split()
)
MIN_QUESTION_WORDS = 4
TICKET_FORM = "ticket_form"
TICKET_CONTACT_SLOT = "ticket_contact"
TICKET_QUESTION_SLOT = "ticket_question"


def contact_in(text: Text) -> Optional[Text]:
    """The e-mail address or else the phone number written in `text`, normalised."""
    return normalize_email(text) or find_phone(text)


def matter_in(text: Text) -> Optional[Text]:
    """What the message says beyond asking for a ticket and giving a contact, or None."""
    rest = EMAIL_CANDIDATE.sub(" ", text)
    rest = PHONE_IN_TEXT.sub(" ", rest)
    words = [word for word in re.findall(r"\w+", fold(rest)) if word not in _TICKET_FILLER]
    if len(words) < MIN_QUESTION_WORDS:
        return None
    return " ".join(rest.split()).strip(" ,.;:-")


# Answers to "Czego dotyczy sprawa?" that describe nothing.
NOTHING_MORE_INTENTS = frozenset({"thanks", "done", "affirm", "deny", "dont_know"})
# Messages that close the conversation ("dziękuję, czekam na kontakt"). Given instead of the
# matter they file the ticket as it is: the adviser has the contact and the ticket's copy of
# the conversation. Given instead of the contact they leave no ticket (the form lets them
# through to its rules, which say so).
CLOSING_INTENTS = frozenset({"thanks", "done", "goodbye"})
# The matter of a ticket whose visitor closed the conversation without describing it.
NO_MATTER = "Bez opisu – klient nie opisał sprawy, zob. przebieg rozmowy."
# Messages that only steer the conversation: never the matter of a ticket.
_STEERING_INTENTS = NOTHING_MORE_INTENTS | {
    "human_handoff", "leave_ticket", "inform", "greet", "goodbye", "done", "check_presence",
    "stop", "resume", "share_password", "bot_challenge",
}


# Requests for a person or a ticket may describe the matter too ("chcę rozmawiać z konsultantem,
# od rana nie mogę wystawić faktury"): what they say beyond these words (and the ticket words).
_REQUEST_INTENTS = frozenset({"human_handoff", "leave_ticket"})
_PERSON_REQUEST_FILLER = frozenset(
    "chce chcialbym chcialabym prosze poprosze o z ze rozmawiac porozmawiac rozmowa rozmowy "
    "polaczyc polacz mnie czlowiekiem czlowieka zywym zywa osoba osoby konsultantem konsultanta "
    "konsultant doradca doradcy doradce pracownikiem dzien dobry witam".split()
)


def earlier_matter(tracker: Tracker) -> Optional[Text]:
    """The latest earlier visitor message that says what the problem is (3+ words, not an
    answer or small talk; a request for a person or a ticket only with the matter in it), or
    None."""
    user_events = [event for event in tracker.events if event.get("event") == "user"]
    for event in reversed(user_events[:-1]):
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        text = (event.get("text") or "").strip()
        if intent in _REQUEST_INTENTS:
            words = [word for word in re.findall(r"\w+", fold(text))
                     if word not in _PERSON_REQUEST_FILLER]
            matter = matter_in(" ".join(words))
            if matter is not None:
                return text
        elif intent not in _STEERING_INTENTS and len(re.findall(r"\w+", text)) >= 3:
            return text
    return None


def _closing(tracker: Tracker) -> bool:
    return latest_intent(tracker) in CLOSING_INTENTS


class ValidateTicketForm(BaseFormValidator):
    """Picks the contact and the matter out of the visitor's messages."""

    def form_name(self) -> Text:
        return TICKET_FORM

    async def extract_ticket_contact(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot(TICKET_CONTACT_SLOT):
            return {}
        contact = contact_in(latest_text(tracker))
        if contact is not None:
            return {TICKET_CONTACT_SLOT: contact}
        if tracker.get_slot(REQUESTED_SLOT) == TICKET_CONTACT_SLOT and not _closing(tracker):
            dispatcher.utter_message(response="utter_ticket_contact_invalid")
        return {}

    async def extract_ticket_question(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if tracker.get_slot(TICKET_QUESTION_SLOT):
            return {}
        text = latest_text(tracker).strip()
        requested = tracker.get_slot(REQUESTED_SLOT)
        if requested == TICKET_QUESTION_SLOT:
            if latest_intent(tracker) in NOTHING_MORE_INTENTS | CLOSING_INTENTS:
                # "dzięki" / "tak" instead of a description: the matter the visitor wrote
                # earlier in the conversation, if there is one (else validation asks again,
                # or a "dzięki, czekam" / "do widzenia" files the ticket without one).
                earlier = earlier_matter(tracker)
                if earlier is None and _closing(tracker):
                    return {TICKET_QUESTION_SLOT: NO_MATTER}
                text = earlier or text
            return {TICKET_QUESTION_SLOT: redact(text).text}
        if requested is None:  # the message that started the form
            matter = matter_in(text)
            if matter is not None:
                return {TICKET_QUESTION_SLOT: redact(matter).text}
        return {}

    async def validate_ticket_contact(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        contact = contact_in(slot_value) if isinstance(slot_value, str) else None
        if contact is None:
            return self.reject(dispatcher, TICKET_CONTACT_SLOT, "utter_ticket_contact_invalid")
        if "@" in contact:  # the visitor's own address: no journey asks for it again
            return {TICKET_CONTACT_SLOT: contact, EMAIL_SLOT: contact}
        return {TICKET_CONTACT_SLOT: contact}


    async def validate_ticket_question(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        if not isinstance(slot_value, str) or len(re.findall(r"\w+", slot_value)) < 2:
            return self.reject(dispatcher, TICKET_QUESTION_SLOT, "utter_ticket_question_too_short")
        return {TICKET_QUESTION_SLOT: slot_value}


class ActionLeaveTicket(Action):
    """Hands the collected ticket to the gateway, which files it and answers."""

    def name(self) -> Text:
        return "action_leave_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        contact = tracker.get_slot(TICKET_CONTACT_SLOT) or ""
        ticket = {
            "email" if "@" in contact else "phone": contact,
            "question": tracker.get_slot(TICKET_QUESTION_SLOT) or "",
        }
        logger.info("ticket typed in conversation %s", tracker.sender_id)
        dispatcher.utter_message(json_message={"ticket": ticket})
        if _closing(tracker):  # the gateway confirms the ticket; then the visitor's thanks
            dispatcher.utter_message(
                response="utter_goodbye" if latest_intent(tracker) == "goodbye"
                else "utter_you_are_welcome"
            )
        return [SlotSet(TICKET_CONTACT_SLOT, None), SlotSet(TICKET_QUESTION_SLOT, None)]


class ActionCancelTicket(CancelForm):
    forgotten_slots = (TICKET_CONTACT_SLOT, TICKET_QUESTION_SLOT)

    def name(self) -> Text:
        return "action_cancel_ticket"


class ActionCheckPresence(Action):
    """"halo? jest tam ktoś?": the assistant is here and the conversation goes on; as the very
    first message "halo" is how the visitor says hello, so it gets the greeting."""

    def name(self) -> Text:
        return "action_check_presence"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        first = len(user_messages(tracker)) <= 1
        dispatcher.utter_message(response="utter_greet" if first else "utter_still_here")
        return []


class ActionHandoffReturned(Action):
    def name(self) -> Text:
        return "action_handoff_returned"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        metadata = tracker.latest_message.get("metadata") or {}
        outcome = (metadata.get("pomocnik_handoff") or {}).get("outcome")
        if outcome != HANDOFF_CLOSED:
            dispatcher.utter_message(response=UTTER_HANDOFF_RETURNED)
        return [SlotSet(HANDOFF_REQUESTED_SLOT, False)]


def guessed_intent(latest_message: Mapping[Text, Any]) -> Optional[Text]:
    """The intent the NLU would have chosen without the fallback: the best-ranked one that
    is not `nlu_fallback` (the FallbackClassifier puts `nlu_fallback` first)."""
    ranking = latest_message.get("intent_ranking") or []
    for entry in ranking:
        name = entry.get("name")
        if name and name != NLU_FALLBACK_INTENT:
            return name
    name = (latest_message.get("intent") or {}).get("name")
    if name and name != NLU_FALLBACK_INTENT:
        return name
    return None


def affirmation_response(intent: Optional[Text], domain: Mapping[Text, Any]) -> Text:
    """The domain response that asks the user to confirm `intent`, or utter_ask_rephrase
    when the domain has none for it."""
    if intent:
        response = f"{AFFIRMATION_RESPONSE_PREFIX}{intent}"
        if response in (domain.get("responses") or {}):
            return response
    return UTTER_ASK_REPHRASE


class ActionDefaultAskAffirmation(Action):
    def name(self) -> Text:
        return "action_default_ask_affirmation"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        intent = guessed_intent(tracker.latest_message or {})
        response = affirmation_response(intent, domain)
        logger.debug("fallback: guessed intent %s, asking with %s", intent, response)
        dispatcher.utter_message(response=response)
        return []


def fallback_said_before(tracker: Tracker) -> bool:
    """Whether the assistant's answer to the previous message already said it did not
    understand (a fallback response or a "Czy chodzi o ...?" guess)."""
    return any(
        response in FALLBACK_RESPONSES or response.startswith(AFFIRMATION_RESPONSE_PREFIX)
        for response, _ in template_responses(previous_answer(tracker))
    )


# What Rasa and rasa-sdk put next to a response's own values in a bot event's metadata (the
# response's name again, the chosen variation's fields); not template values.
_NOT_TEMPLATE_VALUES = frozenset(
    {"utter_action", "template", "response", "template_name", "channel", "id", "condition",
     "buttons"}
)


def template_responses(events: List[Dict[Text, Any]]) -> List[tuple]:
    """(response name, the template values it was rendered with) of the bot events sent as
    responses, so each can be sent again as it was."""
    found = []
    for event in events:
        metadata = event.get("metadata") or {}
        response = metadata.get("utter_action")
        if isinstance(response, str):
            values = {k: v for k, v in metadata.items() if k not in _NOT_TEMPLATE_VALUES}
            found.append((response, values))
    return found


# Responses that steer the conversation rather than explain something: not repeated when the
# visitor asks for the explanation again.
_NOT_AN_EXPLANATION_PREFIXES = ("utter_ask_", "utter_offer_", AFFIRMATION_RESPONSE_PREFIX)
_NOT_AN_EXPLANATION = frozenset(
    {
        *FALLBACK_RESPONSES,
        "utter_ok",
        "utter_greet",
        "utter_goodbye",
        "utter_done",
        "utter_you_are_welcome",
        "utter_how_can_help",
        "utter_still_here",
        "utter_explain_again_follow_up",
    }
)


def explanation_in(events: List[Dict[Text, Any]]) -> List[tuple]:
    """The responses of an answer that explained something, with their template values."""
    return [
        (response, values)
        for response, values in template_responses(events)
        if response not in _NOT_AN_EXPLANATION
        and not response.startswith(_NOT_AN_EXPLANATION_PREFIXES)
    ]


class ActionExplainAgain(Action):
    """"nie rozumiem", "możesz prościej?" right after an explanation: the explanation again (the
    same responses with the same values, in the visitor's register), then an offer to go through
    the unclear step or to a consultant. With no explanation just before: what is unclear?"""

    def name(self) -> Text:
        return "action_explain_again"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        explanation = explanation_in(previous_answer(tracker))
        if not explanation:
            dispatcher.utter_message(response="utter_ask_what_unclear")
            return []
        for response, values in explanation:
            dispatcher.utter_message(response=response, **values)
        dispatcher.utter_message(response="utter_explain_again_follow_up")
        return []


# Questions whose answer is a fixed text (as their rules outside forms give it), answered in a
# form that has no rule of its own for them instead of the core fallback.
ANSWERS_IN_FORM = {
    "login_help": "utter_login_help",
    "find_login": "utter_find_login",
    "password_requirements": "utter_password_requirements",
    "support_contact": "utter_support_contact",
    # "nie rozumiem" at a form's question: a lead-in, then the question again
    "explain_again": "utter_explain_form_question",
}
# Said instead when the form's question cannot be repeated from here (a custom action asks it).
UTTER_QUESTION_ABOVE = "utter_explain_form_question_above"


def form_question(form: Text, slot: Optional[Text], domain: Mapping[Text, Any]) -> Optional[Text]:
    """The response a form asks for `slot` with, as Rasa picks it (a custom action_ask_… first,
    then utter_ask_<form>_<slot>, then utter_ask_<slot>), or None: no slot asked, or it is asked
    by a custom action (which only the form itself runs)."""
    if not slot:
        return None
    actions = set(domain.get("actions") or ())
    if {f"action_ask_{form}_{slot}", f"action_ask_{slot}"} & actions:
        return None
    responses = domain.get("responses") or {}
    for name in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}"):
        if name in responses:
            return name
    return None


def form_question_asked(
    tracker: Tracker, form: Text, domain: Mapping[Text, Any]
) -> List[tuple]:
    """The form's question to repeat, with the values it was asked with: as the previous answer
    asked it (a custom action_ask_… included: "Masz teraz pakiet Srebrny… Na który…?"), else as
    Rasa would ask it with a response (`form_question`), else none."""
    asked = [
        (response, values)
        for response, values in template_responses(previous_answer(tracker))
        if response.startswith("utter_ask_")
    ]
    if asked:
        return asked
    response = form_question(form, tracker.get_slot(REQUESTED_SLOT), domain)
    return [(response, {})] if response else []


class ActionDefaultFallback(Action):
    """Overrides Rasa's `action_default_fallback` (the core fallback, and the end of the
    two-stage fallback): the first time `utter_default` ("nie jestem pewien, o co chodzi",
    the topics and a consultant), "nadal nie rozumiem" (`utter_default_again`) only when the
    two-stage fallback gives up or the previous answer was a fallback already. A question of
    `ANSWERS_IN_FORM` inside a form gets its answer and the form's question instead. Like
    Rasa's default, it forgets the message it handled (UserUtteranceReverted)."""

    def name(self) -> Text:
        return "action_default_fallback"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        answer = ANSWERS_IN_FORM.get(latest_intent(tracker) or "")
        form = tracker.active_loop_name
        if answer and form and form != TWO_STAGE_FALLBACK:
            # A question understood, in a form with no rule of its own for it: the answer,
            # then the form's question again; the form goes on with the next message.
            question = form_question_asked(tracker, form, domain)
            if answer == ANSWERS_IN_FORM["explain_again"] and not question:
                answer = UTTER_QUESTION_ABOVE
            dispatcher.utter_message(response=answer)
            for response, values in question:
                dispatcher.utter_message(response=response, **values)
            return [UserUtteranceReverted()]
        again = form == TWO_STAGE_FALLBACK or fallback_said_before(tracker)
        dispatcher.utter_message(response=UTTER_DEFAULT_AGAIN if again else UTTER_DEFAULT)
        return [UserUtteranceReverted()]
