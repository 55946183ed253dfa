"""Intents close enough that hesitating between them is no doubt about what the visitor means.

"Dziękuję, to mi wystarczy." is a thanks (`thanks`) and a closing (`done`) at once; the
classifier splits it about evenly, and Rasa's FallbackClassifier reads two intents within its
`ambiguity_threshold` as "not sure what this is" and asks the visitor to rephrase a thank-you.
Both are answered with a polite closing, so the split is not uncertainty about the meaning.

`KindredIntents`, placed right before the FallbackClassifier, looks at the two best intents: when
both are in one of its `groups`, the second's confidence is added to the first's and the second
leaves the ranking. The best intent stays the one the classifier chose; only the ambiguity the
fallback would see is gone. Intents of different groups, or a group's intent against any other,
are left as they are.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
)
from rasa.shared.nlu.training_data.message import Message


def group_of_intent(groups: Mapping[Any, Iterable[Text]], component: Text) -> Dict[Text, Any]:
    """Each intent of `groups` (a group's key -> its intents) -> its group's key; an intent in
    two groups is a configuration error of `component`."""
    group_of: Dict[Text, Any] = {}
    for key, intents in groups.items():
        for intent in intents:
            if intent in group_of:
                raise ValueError(f"{component}: {intent} is in two groups")
            group_of[intent] = key
    return group_of


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class KindredIntents(GraphComponent):
    """Merges the two best intents when they are of one group (module docstring). Config:
    `groups`, lists of intent names; an intent in at most one group."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"groups": []}

    def __init__(self, config: Dict[Text, Any]) -> None:
        groups = {**self.get_default_config(), **config}["groups"]
        self._group_of = group_of_intent(dict(enumerate(groups)), "KindredIntents")

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> KindredIntents:
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            ranking = message.get(INTENT_RANKING_KEY) or []
            if len(ranking) >= 2 and self._kindred(ranking[0], ranking[1]):
                best = {
                    INTENT_NAME_KEY: ranking[0][INTENT_NAME_KEY],
                    PREDICTED_CONFIDENCE_KEY: ranking[0][PREDICTED_CONFIDENCE_KEY]
                    + ranking[1][PREDICTED_CONFIDENCE_KEY],
                }
                message.set(INTENT, best, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [best] + ranking[2:], add_to_output=True)
        return messages

    def _kindred(self, first: Dict[Text, Any], second: Dict[Text, Any]) -> bool:
        group = self._group_of.get(first[INTENT_NAME_KEY])
        return group is not None and group == self._group_of.get(second[INTENT_NAME_KEY])
