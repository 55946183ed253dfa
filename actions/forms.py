"""Leaving a form, the same way in every area.

A rule runs the area's ``CancelForm`` action after ``action_deactivate_loop`` when the user stops
a form ("stop", "anuluj", "rezygnuję"): it forgets everything the area's forms collected, so the
next run of a form starts clean and nothing typed for a cancelled operation is reused unseen.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import List, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict


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
