"""Polish text normalisation for the Rasa NLU pipeline.

`PolishTokenFolder` runs right after the tokenizer and folds every token to lower case
without Polish diacritics ("Zapomniałem HASŁA" -> "zapomnialem", "hasla"), so that the
featurisers see one spelling for "hasło", "haslo" and "HASŁO": people type on phones and
keyboards without Polish layout and drop the diacritics about as often as they keep them.

Only the tokens are rewritten (their `text` and `lemma`; CountVectorsFeaturizer reads the
lemma, LexicalSyntacticFeaturizer the text). The message text itself and the tokens'
`start`/`end` offsets stay untouched, so an extracted entity value - which Rasa cuts out of
the message text by those offsets - keeps what the user typed ("Łukasz Żak", not
"lukasz zak"), and the RegexFeaturizer still matches against the original text.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Dict, List, Text, Type

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import ACTION_TEXT, RESPONSE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# Free-text attributes whose tokens are folded. Intent and action names are labels, not
# text, and are left alone.
FOLDED_ATTRIBUTES = (TEXT, RESPONSE, ACTION_TEXT)

# Letters that Unicode decomposition does not take apart ("ł" has no combining mark)
# or that we want mapped explicitly. Applied after lower-casing.
_EXPLICIT = str.maketrans(
    {
        "ą": "a",
        "ć": "c",
        "ę": "e",
        "ł": "l",
        "ń": "n",
        "ó": "o",
        "ś": "s",
        "ź": "z",
        "ż": "z",
        "đ": "d",
        "ø": "o",
        "ß": "ss",
    }
)


def fold(text: Text) -> Text:
    """Lower-cases `text` and strips diacritics: "Zapomniałem HASŁA" -> "zapomnialem hasla".

    Polish letters are mapped explicitly (ł/Ł has no Unicode decomposition); any other
    combining mark (é, ü, ...) is dropped after NFKD decomposition.
    """
    lowered = text.lower().translate(_EXPLICIT)
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class PolishTokenFolder(GraphComponent):
    """Folds tokens to lower case ASCII (Polish diacritics removed), keeping offsets.

    Put it directly after the tokenizer in `config.yml`:

        - name: WhitespaceTokenizer
        - name: bot.rasa_ext.polish.PolishTokenFolder

    Config:
        fold_text: also rewrite `token.text` (default true). With false only the lemma is
            folded: CountVectorsFeaturizer still sees the folded form, while
            LexicalSyntacticFeaturizer keeps its case features.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config (see class docstring)."""
        return {"fold_text": True}

    @classmethod
    def required_components(cls) -> List[Type]:
        """Tokens must exist before they can be folded."""
        return [Tokenizer]

    def __init__(self, config: Dict[Text, Any]) -> None:
        """Creates the component from its merged config."""
        self._fold_text = bool(config.get("fold_text", True))

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> PolishTokenFolder:
        """Creates a new component (nothing to train or persist)."""
        return cls(config)

    def fold_message(self, message: Message) -> None:
        """Folds the tokens of every free-text attribute of `message` in place."""
        for attribute in FOLDED_ATTRIBUTES:
            for token in message.get(TOKENS_NAMES[attribute]) or []:
                folded_lemma = fold(token.lemma or token.text)
                if self._fold_text:
                    token.text = fold(token.text)
                token.lemma = folded_lemma

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Folds the tokens of all training examples."""
        for example in training_data.training_examples:
            self.fold_message(example)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Folds the tokens of incoming messages."""
        for message in messages:
            self.fold_message(message)
        return messages
