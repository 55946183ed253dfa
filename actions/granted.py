"""Operations on a verified account: one shape for every action that calls the backend with the
verification grant (company users, the mobile device, the package change, the account's status).

    grant check -> backend call -> refusal map -> outcome slot -> slot reset

``GrantedOperation`` is the base of every such action. A subclass names its categorical outcome
slot (``status_slot``), the slots whose values the reply shows (``reply_slots``: set on every
outcome, None when it has none) and the form slots it forgets (``form_slots``); maps the
backend's error codes to the outcome slot's values (``refusals``); and implements ``perform``,
which calls the backend and returns the outcome with the reply's values. ``settled`` decides an
outcome without a call (the user said "nie", a refusal the validator already knows).

Every outcome slot shares three values (``GrantedOutcome``), handled here once:

- ``identity_expired``: no grant, or the backend no longer accepts it (401
  ``verification_required``); the verified identity is forgotten too, so the next sensitive
  form asks for the e-mail and a new code;
- ``unavailable``: the backend could not answer (network, timeout, 5xx);
- ``failed``: a refusal the action has no value for.

``call_with_grant`` is the same call for the actions whose outcome is not a slot (the package
change form's questions). Actions write no text: the rules answer from the outcome slot.
Grants are never logged.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    FrozenSet,
    List,
    Mapping,
    Optional,
    Text,
    Tuple,
)

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendError, BackendUnavailable
from actions.identity import (
    IDENTITY_EXPIRED_STATUS,
    grant_of,
    identity_expired_events,
    is_identity_expired,
)

logger = logging.getLogger(__name__)


class GrantedOutcome:
    """The values every granted operation's outcome slot has; an area's status class
    subclasses it and adds its own."""

    IDENTITY_EXPIRED = IDENTITY_EXPIRED_STATUS
    UNAVAILABLE = "unavailable"
    FAILED = "failed"

    @classmethod
    def values(cls) -> FrozenSet[Text]:
        """Every value of the slot (inherited ones included), for checks against the domain."""
        public = (getattr(cls, name) for name in dir(cls) if not name.startswith("_"))
        return frozenset(value for value in public if isinstance(value, str))


# What `perform` returns: the outcome slot's value and the reply's values.
Outcome = Tuple[Text, Dict[Text, Any]]


def refusal_status(error: BackendError, refusals: Mapping[Text, Text]) -> Text:
    """The outcome value for a backend refusal: an expired grant, a mapped code, else failed."""
    if is_identity_expired(error):
        return GrantedOutcome.IDENTITY_EXPIRED
    return refusals.get(error.code, GrantedOutcome.FAILED)


async def call_with_grant(
    tracker: Tracker,
    operation: Text,
    call: Callable[[str], Awaitable[Any]],
    refusal_of: Callable[[BackendError], Text],
) -> Tuple[Optional[Text], Any]:
    """Runs `call(grant)`: `(None, its answer)`, or `(the outcome value, None)` when there is no
    grant, the backend is unavailable or it refused."""
    grant = grant_of(tracker)
    if grant is None:
        return GrantedOutcome.IDENTITY_EXPIRED, None
    try:
        return None, await call(grant)
    except BackendUnavailable as exc:
        logger.warning("%s: backend unavailable (%s)", operation, exc.reason)
        return GrantedOutcome.UNAVAILABLE, None
    except BackendError as exc:
        status = refusal_of(exc)
        # A refusal the action has no answer for, or data the validators let through, is a bug.
        unexpected = status == GrantedOutcome.FAILED or exc.status == 422
        (logger.error if unexpected else logger.info)(
            "%s: backend refused %s %s -> %s", operation, exc.status, exc.code, status
        )
        return status, None


class GrantedOperation(Action, ABC):
    """Base of every action that performs (or reads) something on the verified account."""

    status_slot: Text = ""
    # Slots the reply shows, set on every outcome (None when the outcome has no value).
    reply_slots: Tuple[Text, ...] = ()
    # Slots the operation's form collected, forgotten after every outcome.
    form_slots: Tuple[Text, ...] = ()
    # Form slots kept when the identity expired: the form runs again after a new code.
    kept_for_next_attempt: Tuple[Text, ...] = ()
    # Backend error code -> outcome value.
    refusals: Mapping[Text, Text] = {}

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        status = self.settled(tracker)
        values: Dict[Text, Any] = {}
        if status is None:
            refusal, outcome = await call_with_grant(
                tracker, self.name(), lambda grant: self.perform(grant, tracker), self.refusal_of
            )
            status, values = (refusal, {}) if refusal is not None else outcome
        return self.outcome_events(tracker, status, values)

    def settled(self, tracker: Tracker) -> Optional[Text]:
        """The outcome when no call is needed (not confirmed, a refusal known in advance)."""
        return None

    @abstractmethod
    async def perform(self, grant: str, tracker: Tracker) -> Outcome:
        """Calls the backend; returns the outcome value and the reply's values."""

    def refusal_of(self, error: BackendError) -> Text:
        return refusal_status(error, self.refusals)

    def reply_values(self, tracker: Tracker, values: Dict[Text, Any]) -> Dict[Text, Any]:
        """What the reply shows: `reply_slots` (None unless the outcome has them), then
        whatever else the outcome returned."""
        return {**{slot: None for slot in self.reply_slots}, **values}

    def outcome_events(
        self, tracker: Tracker, status: Text, values: Dict[Text, Any]
    ) -> List[EventType]:
        events: List[EventType] = [SlotSet(self.status_slot, status)]
        shown = self.reply_values(tracker, values)
        events += [SlotSet(name, value) for name, value in shown.items()]
        events += [SlotSet(slot, None) for slot in self.form_slots]
        if status == GrantedOutcome.IDENTITY_EXPIRED:
            events += [SlotSet(slot, tracker.get_slot(slot)) for slot in self.kept_for_next_attempt]
            events += identity_expired_events()
        return events
