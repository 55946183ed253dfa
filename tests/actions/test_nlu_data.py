"""The NLU training data (data/nlu/) is consistent with itself and with the domain.

- No example is in two intents, and no intent holds the same example twice, compared the way
  the featurisers see them: the tokens of WhitespaceTokenizer (punctuation around words
  dropped), lower case, Polish diacritics folded (`bot.rasa_ext.polish.fold`). "Zmień pakiet"
  in one intent and "zmien pakiet?" in another teach the model a contradiction; a repeated
  example only weighs one phrasing twice and flatters the cross-validation.
- Nor is an example in two intents as the intent classifier sees it: values replaced by their
  placeholders (`bot.rasa_ext.linear_intent.normalise`), split like its word vectoriser. Two
  examples that differ only in a value (or in a word the normalisation swallows) teach it a
  contradiction just the same.
- Every annotated entity, and every entity role, is declared in the domain.
- Every annotated value of an entity with a closed set of values (package, role, device
  reason, the field to correct) resolves, through the synonyms, to a value the actions know.

Run in the Rasa environment (`.venv/rasa/bin/python -m pytest tests/actions/test_nlu_data.py`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

rasa = pytest.importorskip("rasa")

import yaml  # noqa: E402
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer  # noqa: E402
from rasa.shared.nlu.training_data.entities_parser import replace_entities  # noqa: E402
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402

from actions.company import ROLE_CODES  # noqa: E402
from actions.devices import REMOVAL_REASONS  # noqa: E402
from actions.registration import FIELD_SLOTS, PACKAGE_NAMES  # noqa: E402
from bot.domain_files import load_domain  # noqa: E402
from bot.rasa_ext.linear_intent import normalise  # noqa: E402
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


Example = Tuple[str, str]  # (intent, text without annotations)


def examples_in_yaml(text: str) -> List[Example]:
    """Every example of an NLU YAML document as written, repeats included (Rasa's loader
    silently drops exact repeats, so the files are read directly)."""
    found: List[Example] = []
    for item in (yaml.safe_load(text) or {}).get("nlu") or []:
        if "intent" not in item:
            continue
        for line in str(item.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("-"):
                found.append((item["intent"], replace_entities(line[1:].strip())))
    return found


def examples_by_form(examples: List[Example]) -> Dict[Form, List[Example]]:
    grouped: Dict[Form, List[Example]] = defaultdict(list)
    for intent, text in examples:
        grouped[featurised_form(text)].append((intent, text))
    return grouped


def cross_intent_clashes(examples: List[Example]) -> Dict[str, List[str]]:
    return {
        " ".join(form): sorted({f"{intent}: {text}" for intent, text in group})
        for form, group in examples_by_form(examples).items()
        if len({intent for intent, _ in group}) > 1
    }


def repeated_examples(examples: List[Example]) -> Dict[str, List[str]]:
    return {
        " ".join(form): [f"{intent}: {text}" for intent, text in group]
        for form, group in examples_by_form(examples).items()
        if len(group) > len({intent for intent, _ in group})
    }


def classifier_clashes(examples: List[Example]) -> Dict[str, List[str]]:
    """Examples of several intents that the intent classifier cannot tell apart."""
    grouped: Dict[Tuple[str, ...], List[Example]] = defaultdict(list)
    for intent, text in examples:
        grouped[tuple(re.findall(r"[^\s,.;:!?()\"']+", normalise(text)))].append((intent, text))
    return {
        " ".join(form): sorted({f"{intent}: {text}" for intent, text in group})
        for form, group in grouped.items()
        if len({intent for intent, _ in group}) > 1
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


@pytest.fixture(scope="module")
def written_examples() -> List[Example]:
    return [
        example
        for path in sorted(NLU_DIR.glob("*.yml"))
        for example in examples_in_yaml(path.read_text(encoding="utf-8"))
    ]


def test_featurised_form_folds_case_diacritics_and_punctuation():
    assert featurised_form("Zmień pakiet?") == featurised_form("zmien  PAKIET")
    assert featurised_form("Dziękuję, to wszystko.") == ("dziekuje", "to", "wszystko")
    assert featurised_form("nie wiem") != featurised_form("nie")


def test_the_checks_find_what_is_planted():
    document = """
version: "3.1"
nlu:
  - intent: change_package
    examples: |
      - Zmień pakiet
      - zmien pakiet?
      - chcę przejść na [złoty]{"entity": "package", "value": "gold"}
      - chcę przejść na [złoty]{"entity": "package", "value": "gold"}
  - intent: inform
    examples: |
      - zmien PAKIET
      - [platynowy]{"entity": "package", "value": "platinum"}
      - [a@b.pl]{"entity": "email", "role": "boss"}
      - [Samsung](device)
"""
    written = examples_in_yaml(document)
    assert list(cross_intent_clashes(written)) == ["zmien pakiet"]
    assert list(repeated_examples(written)) == ["zmien pakiet", "chce przejsc na zloty"]
    planted = RasaYAMLReader().reads(document)
    assert [e for _, e, _ in undeclared_annotations(planted, declared_entities())] == [
        "email",
        "device",
    ]
    assert unknown_closed_values(planted) == [("platynowy", "package", "platinum")]


def test_no_example_is_in_two_intents(written_examples):
    clashes = cross_intent_clashes(written_examples)
    assert not clashes, f"the same example in several intents: {clashes}"


def test_no_two_intents_share_an_example_as_the_classifier_sees_it(written_examples):
    clashes = classifier_clashes(written_examples)
    assert not clashes, f"examples the intent classifier cannot tell apart: {clashes}"


def test_classifier_clashes_are_found():
    planted = [("add_user", "dodaj ewa@firma.pl"), ("inform", "dodaj tomek@biuro.com"),
               ("packages_info", "a srebrny?"), ("support_contact", "a telefon?")]
    assert list(classifier_clashes(planted)) == ["dodaj __email__"]


def test_no_intent_repeats_an_example(written_examples):
    repeats = repeated_examples(written_examples)
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
