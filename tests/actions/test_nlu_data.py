"""The NLU training data (data/nlu/) is consistent with itself and with the domain.

- No example is in two intents, and no intent holds the same example twice, compared the way
  the featurisers see them: the tokens of WhitespaceTokenizer (punctuation around words
  dropped), lower case, Polish diacritics folded (`bot.rasa_ext.polish.fold`). "Zmień pakiet"
  in one intent and "zmien pakiet?" in another teach the model a contradiction; a repeated
  example only weighs one phrasing twice and flatters the cross-validation.
- Every annotated entity, and every entity role, is declared in the domain.
- Every annotated value of an entity with a closed set of values (package, role, device
  reason, the field to correct) resolves, through the synonyms, to a value the actions know.

Run in the Rasa environment (`.venv/rasa/bin/python -m pytest tests/actions/test_nlu_data.py`).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

rasa = pytest.importorskip("rasa")

from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer  # noqa: E402
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402

from actions.company import ROLE_CODES  # noqa: E402
from actions.devices import REMOVAL_REASONS  # noqa: E402
from actions.registration import FIELD_SLOTS, PACKAGE_NAMES  # noqa: E402
from bot.domain_files import load_domain  # noqa: E402
from bot.rasa_ext.polish import fold  # noqa: E402

NLU_DIR = Path(__file__).resolve().parents[2] / "data" / "nlu"

# Entities whose values are codes the actions branch on: an annotation must resolve to one.
CLOSED_VALUES: Dict[str, Set[str]] = {
    "package": set(PACKAGE_NAMES),
    "role": set(ROLE_CODES),
    "device_reason": set(REMOVAL_REASONS),
    "correction": set(FIELD_SLOTS),
}

_TOKENIZER = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())

Form = Tuple[str, ...]


def featurised_form(text: str) -> Form:
    """The example as the featurisers see it: folded tokens, punctuation around words gone."""
    message = Message(data={"text": fold(text)})
    _TOKENIZER.process([message])
    return tuple(token.text for token in message.get("text_tokens"))


def examples_by_form(data: TrainingData) -> Dict[Form, List[Tuple[str, str]]]:
    grouped: Dict[Form, List[Tuple[str, str]]] = defaultdict(list)
    for message in data.intent_examples:
        grouped[featurised_form(message.get("text"))].append(
            (message.get("intent"), message.get("text"))
        )
    return grouped


def cross_intent_clashes(data: TrainingData) -> Dict[str, List[str]]:
    return {
        " ".join(form): sorted({f"{intent}: {text}" for intent, text in examples})
        for form, examples in examples_by_form(data).items()
        if len({intent for intent, _ in examples}) > 1
    }


def repeated_examples(data: TrainingData) -> Dict[str, List[str]]:
    return {
        " ".join(form): [f"{intent}: {text}" for intent, text in examples]
        for form, examples in examples_by_form(data).items()
        if len(examples) > len({intent for intent, _ in examples})
    }


def declared_entities() -> Dict[str, Set[str]]:
    """Entity name -> its declared roles (empty when it has none)."""
    declared: Dict[str, Set[str]] = {}
    for entry in load_domain().get("entities", []):
        if isinstance(entry, str):
            declared[entry] = set()
        else:
            for name, options in entry.items():
                declared[name] = set((options or {}).get("roles", []))
    return declared


def annotations(data: TrainingData) -> Iterator[Tuple[str, dict]]:
    for message in data.intent_examples:
        for entity in message.get("entities") or []:
            yield message.get("text"), entity


def undeclared_annotations(data: TrainingData, declared: Dict[str, Set[str]]) -> list:
    return [
        (text, entity["entity"], entity.get("role"))
        for text, entity in annotations(data)
        if entity["entity"] not in declared
        or (entity.get("role") is not None and entity["role"] not in declared[entity["entity"]])
    ]


def unknown_closed_values(data: TrainingData) -> list:
    synonyms = data.entity_synonyms
    return [
        (text, entity["entity"], entity["value"])
        for text, entity in annotations(data)
        if entity["entity"] in CLOSED_VALUES
        and synonyms.get(entity["value"], entity["value"]) not in CLOSED_VALUES[entity["entity"]]
    ]


@pytest.fixture(scope="module")
def training_data() -> TrainingData:
    return load_data(str(NLU_DIR), language="pl")


def test_featurised_form_folds_case_diacritics_and_punctuation():
    assert featurised_form("Zmień pakiet?") == featurised_form("zmien  PAKIET")
    assert featurised_form("Dziękuję, to wszystko.") == ("dziekuje", "to", "wszystko")
    assert featurised_form("nie wiem") != featurised_form("nie")


def test_the_checks_find_what_is_planted():
    planted = RasaYAMLReader().reads(
        """
version: "3.1"
nlu:
  - intent: change_package
    examples: |
      - Zmień pakiet
      - zmien pakiet?
  - intent: inform
    examples: |
      - zmien PAKIET
      - [platynowy]{"entity": "package", "value": "platinum"}
      - [a@b.pl]{"entity": "email", "role": "boss"}
      - [Samsung](device)
"""
    )
    assert list(cross_intent_clashes(planted)) == ["zmien pakiet"]
    assert list(repeated_examples(planted)) == ["zmien pakiet"]
    assert [e for _, e, _ in undeclared_annotations(planted, declared_entities())] == [
        "email",
        "device",
    ]
    assert unknown_closed_values(planted) == [("platynowy", "package", "platinum")]


def test_no_example_is_in_two_intents(training_data):
    clashes = cross_intent_clashes(training_data)
    assert not clashes, f"the same example in several intents: {clashes}"


def test_no_intent_repeats_an_example(training_data):
    repeats = repeated_examples(training_data)
    assert not repeats, f"examples repeated within an intent: {repeats}"


def test_every_annotated_entity_and_role_is_in_the_domain(training_data):
    unknown = undeclared_annotations(training_data, declared_entities())
    assert not unknown, f"entities or roles not declared in domain/: {unknown}"


def test_closed_values_resolve_to_known_codes(training_data):
    unknown = unknown_closed_values(training_data)
    assert not unknown, f"annotated values the actions do not know: {unknown}"


def test_synonyms_map_to_known_codes(training_data):
    known = set().union(*CLOSED_VALUES.values())
    # Every synonym in data/nlu targets a closed value; a typo there would silently invent one.
    synonyms = training_data.entity_synonyms
    stray = {surface: code for surface, code in synonyms.items() if code not in known}
    assert not stray, f"synonyms mapping to unknown values: {stray}"
