"""Response selection where the most specific conditional variation wins.

Rasa 3.6 (`ResponseVariationFilter.responses_for_utter_action`) returns *every* conditional
variation whose conditions match the slots and picks one of them at random. A response with a
variation for (device_found=true, device_reason=lost) and one for (device_found=true) therefore
answered a lost phone with the ordinary removal question half of the time. With the formal
variations (condition `register: formal` added to each informal one) the same would happen to
every response that has conditions.

`SpecificResponseGenerator` keeps, among the matching conditional variations, only those with
the most conditions; channel handling is Rasa's: conditional variations for the output channel,
then unconditional ones for the channel, then conditional ones without a channel, then the
unconditional ones without a channel. Variations with the same number of conditions are still
picked at random, as Rasa does with plain variations.

Configured in endpoints.yml (and every endpoints file the harness and deploy/ write):

    nlg:
      type: bot.rasa_ext.nlg.SpecificResponseGenerator
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.nlg.generator import ResponseVariationFilter
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.constants import CHANNEL, RESPONSE_CONDITION
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig


def _most_specific(variations: List[Dict[Text, Any]]) -> List[Dict[Text, Any]]:
    """The variations with the largest number of conditions."""
    if not variations:
        return []
    most = max(len(v.get(RESPONSE_CONDITION) or []) for v in variations)
    return [v for v in variations if len(v.get(RESPONSE_CONDITION) or []) == most]


class SpecificVariationFilter(ResponseVariationFilter):
    """Rasa's filter, but only the most specific matching conditional variations are kept."""

    def responses_for_utter_action(
        self,
        utter_action: Text,
        output_channel: Text,
        filled_slots: Dict[Text, Any],
    ) -> List[Dict[Text, Any]]:
        """The variations that fit the channel and the slots, the most specific ones only."""
        variations = self.responses[utter_action]
        conditional = [
            v
            for v in variations
            if v.get(RESPONSE_CONDITION) and self._matches_filled_slots(filled_slots, v)
        ]
        default = [v for v in variations if not v.get(RESPONSE_CONDITION)]
        conditional_channel = [v for v in conditional if v.get(CHANNEL) == output_channel]
        if conditional_channel:
            return _most_specific(conditional_channel)
        default_channel = [v for v in default if v.get(CHANNEL) == output_channel]
        if default_channel:
            return default_channel
        conditional_no_channel = [v for v in conditional if v.get(CHANNEL) is None]
        if conditional_no_channel:
            return _most_specific(conditional_no_channel)
        return [v for v in default if v.get(CHANNEL) is None]


class SpecificResponseGenerator(TemplatedNaturalLanguageGenerator):
    """The domain's responses, the most specific matching conditional variation winning."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        domain: Optional[Domain] = None,
        responses: Optional[Dict[Text, List[Dict[Text, Any]]]] = None,
    ) -> None:
        """Created by Rasa with `endpoint_config` and `domain` (the `nlg` endpoint's type);
        `responses` instead of a domain for direct use."""
        if responses is None:
            responses = (domain or Domain.empty()).responses
        super().__init__(responses)

    def _random_response_for(
        self, utter_action: Text, output_channel: Text, filled_slots: Dict[Text, Any]
    ) -> Optional[Dict[Text, Any]]:
        """One of the most specific variations that fit, at random."""
        import numpy as np

        if utter_action not in self.responses:
            return None
        suitable = SpecificVariationFilter(self.responses).responses_for_utter_action(
            utter_action, output_channel, filled_slots
        )
        if not suitable:
            return None
        return np.random.choice(suitable)
