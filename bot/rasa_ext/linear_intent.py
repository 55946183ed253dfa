"""A sparse linear intent classifier for Polish as people type it.

`LinearIntentClassifier` reads the whole message as bags of character n-grams (within words)
and word uni/bigrams, weighted by TF-IDF, and classifies it with a multinomial logistic
regression. Measured against DIET on our data (docs/benchmarks/nlu.md, and the conversation
benchmark): it trains in seconds instead of minutes, and a long message that mixes a question
with values keeps its intent, because every clause votes instead of one attention pattern
deciding.

The text is normalised before featurising:
- folded to lower case without Polish diacritics (`bot.rasa_ext.polish.fold`), so "hasła",
  "hasla" and "HASŁA" are one word;
- values are replaced by placeholders ("__email__", "__nip__", "__fourdigits__", ...; no digits
  in their names, so a later pattern cannot match inside one), so the intent is
  learnt from the words around a value and never from the value itself: "zmień rolę
  ewa@firma.pl" and "zmień rolę tomek@biuro.com" are one pattern, and a PIN never looks like
  a topic;
- a token shaped like a password (letters with digits or symbols, 8+ characters, not an
  address, not a product name such as "iKsięgowość24"; the "?" or "!" that ends a sentence
  does not count) becomes "__password__", which is what the redaction intent
  `share_password` needs to see.

Entities are not this component's business (CRFEntityExtractor, with the regex features,
extracts them).
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import joblib
import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.rasa_ext.polish import fold

logger = logging.getLogger(__name__)

MODEL_FILE = "linear_intent.joblib"

# Order matters: an address before the numbers inside it, a NIP before shorter digit runs.
_PLACEHOLDERS = [
    (re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}"), " __email__ "),
    (re.compile(r"https?://\S+|www\.\S+"), " __url__ "),
    (
        re.compile(
            r"(?<![\d-])(?:\d{10}|\d{3}[- ]\d{3}[- ]\d{2}[- ]\d{2}|\d{3}[- ]\d{2}[- ]\d{2}[- ]\d{3})"
            r"(?![\d-])"
        ),
        " __nip__ ",
    ),
    # phone numbers: 9 digits, grouped 3-3-3 or written together, optional +48
    (re.compile(r"(?:\+48[ -]?)?(?<!\d)\d{3}[ -]\d{3}[ -]\d{3}(?!\d)"), " __phone__ "),
    (re.compile(r"(?<!\d)\d{9}(?!\d)"), " __phone__ "),
    (re.compile(r"(?<!\d)\d{6}(?!\d)"), " __sixdigits__ "),
    (re.compile(r"(?<!\d)\d{5}(?!\d)|(?<!\d)\d{7,8}(?!\d)|(?<!\d)\d{11,20}(?!\d)"), " __id__ "),
    (re.compile(r"(?<!\d)\d{4}(?!\d)"), " __fourdigits__ "),
    (re.compile(r"\d+(?:[.,]\d+)?"), " __number__ "),
]
# At least 8 characters, no spaces, letters mixed with digits or symbols - "Zima2026!xq".
_PASSWORD_SHAPED = re.compile(
    r"(?<!\S)(?=\S*[a-z])(?=\S*(?:\d|[!#$%^&*?~+=]))[^\s@]{8,}(?!\S)", re.IGNORECASE
)
# Sentence punctuation typed right after a word is not part of it: without this rule every
# question ending in a long word ("jak sparować telefon?", "a srebrny?", "jesteś jeszcze?") lost
# that word to "__password__" - 13% of the training examples did. The shape is checked on the
# word without it ("Zima2026!" is still a password: "Zima2026" mixes letters and digits).
_SENTENCE_END = ".,;:!?…)\"'”»"
# Names the domain itself writes as letters + digits are not passwords either: the product
# iKsięgowość24 (also "iksiegowosc24", "ksiegowosc24", "w iKsięgowości24", "www.iksiegowosc24.pl")
# and the brands and device models around it ("Comarch2024", "Optima2025", "iPhone15"). Such a
# word - folded, without the punctuation around it - is one of these names followed by digits
# only (inside a web address at most), and stays text: "iksiegowosc24" then reads like
# "iksiegowosc 24". Anything more - a symbol inside ("Comarch#2024"), another word
# ("Kowalski123") - is still a password.
_DOMAIN_WORD_WITH_DIGITS = re.compile(
    r"(?:https?://)?(?:www\.)?"
    r"(?:i?ksiegowosc(?:i|ia)?|ingksiegowosc|comarch|optima|iphone|ipad|galaxy|redmi|pixel)"
    r"\d+(?:\.(?:pl|com|eu))?/?"
)


def _password_placeholder(match: "re.Match[str]") -> Text:
    token = match.group()
    word = token.rstrip(_SENTENCE_END)
    if not _PASSWORD_SHAPED.fullmatch(word):
        return token
    if _DOMAIN_WORD_WITH_DIGITS.fullmatch(fold(word).lstrip("(\"'„«")):
        return token
    return f" __password__ {token[len(word):]}"


def normalise(text: Text) -> Text:
    """The text as the classifier sees it: placeholders for values, folded, single-spaced."""
    text = _PASSWORD_SHAPED.sub(_password_placeholder, text)
    text = fold(text)
    for pattern, placeholder in _PLACEHOLDERS:
        text = pattern.sub(placeholder, text)
    return " ".join(text.split())


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """TF-IDF (char_wb + word n-grams) + logistic regression over normalised text.

    Config (defaults in `get_default_config`): `char_ngram_range`, `word_ngram_range`,
    `C` (inverse regularisation), `max_iter`, `ranking_length` (intents kept in the ranking),
    `class_weight` ("balanced" or null).
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Measured on our 5 folds (scripts/bench_nlu.py); see docs/benchmarks/nlu.md."""
        return {
            "char_ngram_range": [1, 4],
            "word_ngram_range": [1, 2],
            "C": 20.0,
            "max_iter": 2000,
            "ranking_length": 10,
            "class_weight": "balanced",
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[Dict[Text, Any]] = None,
    ) -> None:
        """Creates the component; `model` holds the fitted vectorisers and classifier."""
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentClassifier:
        """Creates an untrained component."""
        return cls(config, model_storage, resource)

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """This module's source: Rasa's training cache must not reuse a model trained with an
        older normalisation (the cache key is otherwise only the class name and config)."""
        return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()

    def _vectorisers(self) -> List[TfidfVectorizer]:
        return [
            TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=tuple(self._config["char_ngram_range"]),
                sublinear_tf=True,
                min_df=1,
            ),
            TfidfVectorizer(
                analyzer="word",
                ngram_range=tuple(self._config["word_ngram_range"]),
                token_pattern=r"[^\s,.;:!?()\"']+",
                sublinear_tf=True,
                min_df=1,
            ),
        ]

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the vectorisers and the classifier on the examples that have an intent."""
        examples = [
            example
            for example in training_data.intent_examples
            if example.get(TEXT) and example.get(INTENT)
        ]
        if len({example.get(INTENT) for example in examples}) < 2:
            logger.warning("LinearIntentClassifier needs at least two intents; not trained.")
            return self._resource
        texts = [normalise(example.get(TEXT)) for example in examples]
        labels = [example.get(INTENT) for example in examples]
        vectorisers = self._vectorisers()
        features = scipy.sparse.hstack([v.fit_transform(texts) for v in vectorisers]).tocsr()
        classifier = LogisticRegression(
            C=self._config["C"],
            max_iter=self._config["max_iter"],
            class_weight=self._config["class_weight"],
        )
        classifier.fit(features, labels)
        self._model = {"vectorisers": vectorisers, "classifier": classifier}
        self.persist()
        return self._resource

    def persist(self) -> None:
        """Writes the fitted model into the model storage."""
        if self._model is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(self._model, Path(directory) / MODEL_FILE)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        """Loads the fitted model; an untrained component predicts nothing."""
        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(Path(directory) / MODEL_FILE)
        except (ValueError, FileNotFoundError):
            logger.debug("No trained LinearIntentClassifier in the model; it predicts nothing.")
            model = None
        return cls(config, model_storage, resource, model)

    def predict_proba(self, texts: List[Text]) -> np.ndarray:
        """Class probabilities of normalised `texts` (rows) in `self.intents` order."""
        assert self._model is not None
        normalised = [normalise(text) for text in texts]
        features = scipy.sparse.hstack(
            [v.transform(normalised) for v in self._model["vectorisers"]]
        ).tocsr()
        return self._model["classifier"].predict_proba(features)

    @property
    def intents(self) -> List[Text]:
        """The intent names, in the classifier's column order."""
        assert self._model is not None
        return list(self._model["classifier"].classes_)

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets `intent` and `intent_ranking` on every message with text."""
        if self._model is None:
            return messages
        with_text = [message for message in messages if message.get(TEXT)]
        if not with_text:
            return messages
        probabilities = self.predict_proba([message.get(TEXT) for message in with_text])
        intents = self.intents
        for message, row in zip(with_text, probabilities):
            order = np.argsort(row)[::-1][: self._config["ranking_length"]]
            ranking = [
                {INTENT_NAME_KEY: intents[i], PREDICTED_CONFIDENCE_KEY: float(row[i])}
                for i in order
            ]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
