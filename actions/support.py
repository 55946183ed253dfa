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

`action_default_ask_affirmation` - stage 1 of the two-stage fallback
--------------------------------------------------------------------
Overrides Rasa's default (which asks "Did you mean 'reset_password'?"). The guessed intent
is the best-ranked one that is not `nlu_fallback`. If the domain has a response
`utter_ask_affirmation_<intent>` (domain/dialogue_control.yml: "Czy chodzi o reset hasła?" with the
buttons Tak -> ``/<intent>`` and "Nie, o coś innego" -> ``/out_of_scope``, the denial
Rasa's loop expects), that response is sent; otherwise (small talk, yes/no, `inform`, a
typed password...) asking "Czy chodzi o ...?" makes no sense and `utter_ask_rephrase` is
sent instead. The action never writes text itself.

`action_default_fallback` - "I did not understand"
--------------------------------------------------
Overrides Rasa's default (the core fallback, and the end of the two-stage fallback): the
first time `utter_default` ("Przepraszam, nie jestem pewien, o co chodzi…" with the topics
and a consultant); "nadal nie rozumiem" (`utter_default_again`) only when the two-stage
fallback gives up or the previous answer already was a fallback.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.tracker import latest_intent

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
    user_messages = 0
    for event in reversed(tracker.events or []):
        kind = event.get("event")
        if kind == "user":
            user_messages += 1
            if user_messages == 2:
                return False
        elif kind == "bot" and user_messages == 1:
            response = (event.get("metadata") or {}).get("utter_action") or ""
            if response in FALLBACK_RESPONSES or response.startswith(AFFIRMATION_RESPONSE_PREFIX):
                return True
    return False


class ActionDefaultFallback(Action):
    """Overrides Rasa's `action_default_fallback` (the core fallback, and the end of the
    two-stage fallback): the first time `utter_default` ("nie jestem pewien, o co chodzi",
    the topics and a consultant), "nadal nie rozumiem" (`utter_default_again`) only when the
    two-stage fallback gives up or the previous answer was a fallback already. Like Rasa's
    default, it forgets the message it did not understand (UserUtteranceReverted)."""

    def name(self) -> Text:
        return "action_default_fallback"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[EventType]:
        again = tracker.active_loop_name == TWO_STAGE_FALLBACK or fallback_said_before(tracker)
        dispatcher.utter_message(response=UTTER_DEFAULT_AGAIN if again else UTTER_DEFAULT)
        return [UserUtteranceReverted()]
