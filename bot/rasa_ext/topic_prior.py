"""The conversation's topic as a prior for the intent of a follow-up.

People continue a topic in few words: "od kiedy?" right after the assistant said which phone is
paired, "a PIN jaki?" right after the pairing steps, "a z nazwiskiem w środku?" right after the
password rules. On its own such a message belongs to no topic, or to the wrong one: the
classifier reads the message alone. A human reads it in the light of what was just discussed.

``bot.rasa_ext.recent_intents`` hands the NLU the intents of the visitor's recent messages
(newest first) in the message's metadata. ``TopicPrior``, an NLU component placed after the
intent classifier, finds the topic: the area (``topic_areas`` in its config) of the newest recent
intent that has one, looking past answers and yes/no (``inform``, ``affirm``... belong to no
area) but not past a closing (``topic_ends``: thanks, goodbye...). It multiplies the probability
of that area's intents by ``boost`` and renormalises the ranking, but only when the classifier's
best intent belongs to another area: the prior moves a follow-up from a wrong topic to the one at
hand. An answer, a yes/no, a request for a consultant (intents of no area) are left to the
dialogue, which reads them in context already, and a clear message about another topic keeps
its intent (its probability dwarfs the rest).

Without a conversation (``rasa test nlu``, ``/model/parse``, ``make bench-nlu``) there is no
metadata and the component changes nothing, so single-utterance measurements stay the
classifier's own; ``make bench-conversations`` measures the prior.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    METADATA,
    PREDICTED_CONFIDENCE_KEY,
)
from rasa.shared.nlu.training_data.message import Message

from bot.rasa_ext.kindred_intents import group_of_intent
from bot.rasa_ext.recent_intents import RECENT_INTENTS_KEY

def current_area(
    recent: Iterable[Text], areas: Dict[Text, Text], ends: Iterable[Text]
) -> Optional[Text]:
    """The area of the newest recent intent that has one, unless a closing comes first."""
    ends = set(ends)
    for intent in recent:
        if intent in ends:
            return None
        if intent in areas:
            return areas[intent]
    return None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class TopicPrior(GraphComponent):
    """Re-weights the intent ranking towards the conversation's current topic (module
    docstring). Not trainable; place it after the intent classifier and before the
    FallbackClassifier in `config.yml`.

    Config: `topic_areas` (area name -> its intents; an intent in at most one area),
    `topic_ends` (intents that close a topic), `boost` (factor for the topic's intents).
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"topic_areas": {}, "topic_ends": [], "boost": 3.0}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._config = {**self.get_default_config(), **config}
        self._area_of = group_of_intent(self._config["topic_areas"], "TopicPrior")

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TopicPrior:
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        """Re-weights the ranking of each message read inside a conversation with a topic."""
        for message in messages:
            recent = (message.get(METADATA) or {}).get(RECENT_INTENTS_KEY) or []
            area = current_area(recent, self._area_of, self._config["topic_ends"])
            ranking = message.get(INTENT_RANKING_KEY)
            if area and ranking and self._off_topic(ranking[0], area):
                ranking = self.reweighted(ranking, area)
                message.set(INTENT, ranking[0], add_to_output=True)
                message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def _off_topic(self, best: Dict[Text, Any], area: Text) -> bool:
        """Whether the best intent belongs to an area other than the topic's."""
        return self._area_of.get(best[INTENT_NAME_KEY]) not in (None, area)

    def reweighted(self, ranking: List[Dict[Text, Any]], area: Text) -> List[Dict[Text, Any]]:
        """The ranking with the area's intents multiplied by `boost`, renormalised (the mass
        outside the ranking keeps its weight), best first."""
        boost = float(self._config["boost"])
        weights = [
            entry[PREDICTED_CONFIDENCE_KEY]
            * (boost if self._area_of.get(entry[INTENT_NAME_KEY]) == area else 1.0)
            for entry in ranking
        ]
        rest = max(0.0, 1.0 - sum(entry[PREDICTED_CONFIDENCE_KEY] for entry in ranking))
        total = sum(weights) + rest
        new = [
            {INTENT_NAME_KEY: entry[INTENT_NAME_KEY], PREDICTED_CONFIDENCE_KEY: weight / total}
            for entry, weight in zip(ranking, weights)
        ]
        return sorted(new, key=lambda entry: entry[PREDICTED_CONFIDENCE_KEY], reverse=True)
