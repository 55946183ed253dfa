"""The Polish NLU pieces: the token-folding component, the regex features, config.yml.

Run in the Rasa environment (`.venv/rasa/bin/python -m pytest tests/actions`): these import
Rasa itself, not only rasa_sdk.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List

import pytest
import yaml

rasa = pytest.importorskip("rasa")

from rasa.engine.graph import ExecutionContext, GraphSchema  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.nlu.extractors.extractor import EntityExtractorMixin  # noqa: E402
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (  # noqa: E402
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402

from bot.rasa_ext.polish import PolishTokenFolder, fold  # noqa: E402
from bot.domain_files import load_domain

ROOT = Path(__file__).resolve().parents[2]


def tokenized(text: str, **extra) -> Message:
    message = Message(data={"text": text, **extra})
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    return message


def folded(text: str, **config) -> Message:
    message = tokenized(text)
    PolishTokenFolder({**PolishTokenFolder.get_default_config(), **config}).process([message])
    return message


def token_texts(message: Message, attribute: str = "text") -> List[str]:
    return [t.text for t in message.get(f"{attribute}_tokens")]


def token_lemmas(message: Message) -> List[str]:
    return [t.lemma for t in message.get("text_tokens")]


# ---------------------------------------------------------------------------- fold()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Zapomniałem HASŁA", "zapomnialem hasla"),
        ("zażółć gęślą jaźń", "zazolc gesla jazn"),
        ("ZAŻÓŁĆ GĘŚLĄ JAŹŃ", "zazolc gesla jazn"),
        ("Łukasz Żak", "lukasz zak"),
        ("ł Ł", "l l"),
        ("Café Müller", "cafe muller"),
        ("already ascii 123", "already ascii 123"),
    ],
)
def test_fold_lowercases_and_strips_polish_diacritics(raw, expected):
    assert fold(raw) == expected


def test_fold_is_idempotent_and_keeps_length_of_polish_words():
    text = "Żółć, źdźbło i łąka"
    assert fold(fold(text)) == fold(text)
    assert len(fold(text)) == len(text)


# ----------------------------------------------------------------------- component


def test_tokens_are_folded_but_message_text_and_offsets_are_not():
    text = "Zapomniałem HASŁA"
    before = [(t.start, t.end) for t in tokenized(text).get("text_tokens")]
    message = folded(text)

    assert message.get("text") == text
    assert token_texts(message) == ["zapomnialem", "hasla"]
    assert token_lemmas(message) == ["zapomnialem", "hasla"]
    assert [(t.start, t.end) for t in message.get("text_tokens")] == before
    assert [text[t.start : t.end] for t in message.get("text_tokens")] == ["Zapomniałem", "HASŁA"]


def test_entity_value_keeps_the_users_spelling():
    # The entity extractor (CRFEntityExtractor) turns per-token tags into entities with this
    # very function, which cuts the value out of the message text by the token offsets.
    text = "nazywam się Łukasz Żak"
    message = folded(text)
    tags = {"entity": ["O", "O", "B-person_name", "L-person_name"]}
    entities = EntityExtractorMixin.convert_predictions_into_entities(
        text, message.get("text_tokens"), tags
    )
    assert [(e["entity"], e["value"]) for e in entities] == [("person_name", "Łukasz Żak")]


def test_training_data_and_prediction_paths_both_fold():
    component = PolishTokenFolder(PolishTokenFolder.get_default_config())
    examples = [tokenized("Nie pamiętam HASŁA", intent="reset_password")]
    data = component.process_training_data(TrainingData(training_examples=examples))
    assert token_texts(data.training_examples[0]) == ["nie", "pamietam", "hasla"]

    incoming = component.process([tokenized("Nie pamiętam HASŁA")])
    assert token_texts(incoming[0]) == ["nie", "pamietam", "hasla"]


def test_intent_tokens_are_left_alone_and_action_text_is_folded():
    message = Message(
        data={"text": "Źle", "intent": "reset_password", "action_text": "Podaj HASŁO"}
    )
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    tokenizer.process([message])
    PolishTokenFolder({}).process([message])
    assert token_texts(message, "intent") == ["reset_password"]
    assert token_texts(message, "action_text") == ["podaj", "haslo"]
    assert token_texts(message) == ["zle"]


def test_fold_text_false_folds_only_the_lemma():
    message = folded("Zapomniałem HASŁA", fold_text=False)
    assert token_texts(message) == ["Zapomniałem", "HASŁA"]
    assert token_lemmas(message) == ["zapomnialem", "hasla"]


def test_message_without_tokens_is_ignored():
    message = Message(data={"text": ""})
    PolishTokenFolder({}).process([message])
    assert message.get("text_tokens") is None


def test_featuriser_sees_the_same_features_with_and_without_diacritics(tmp_path):
    featurizer = CountVectorsFeaturizer.create(
        {**CountVectorsFeaturizer.get_default_config(), "analyzer": "char_wb", "max_ngram": 3},
        LocalModelStorage(tmp_path),
        Resource("cvf"),
        ExecutionContext(GraphSchema({}), "test"),
    )
    train = [folded("Zapomniałem hasła"), folded("zgubiłem login")]
    for message in train:
        message.set("intent", "reset_password")
    featurizer.train(TrainingData(training_examples=train))

    def features(text: str):
        message = folded(text)
        featurizer.process([message])
        sequence, sentence = message.get_sparse_features("text")
        return sentence.features.toarray().tolist()

    assert features("ZAPOMNIAŁEM HASŁA") == features("zapomnialem hasla")
    assert features("zapomnialem hasla") != features("zgubilem login")


# ------------------------------------------------------------------------ config.yml


def test_config_puts_the_folder_right_after_the_tokenizer():
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    names = [c["name"] for c in config["pipeline"]]
    assert names[0] == "WhitespaceTokenizer"
    assert names[1] == "bot.rasa_ext.polish.PolishTokenFolder"
    fallback = next(c for c in config["pipeline"] if c["name"] == "FallbackClassifier")
    assert 0 < fallback["threshold"] < 1


def test_rasa_builds_and_validates_the_training_graph_of_config_yml(monkeypatch):
    from rasa.engine import validation
    from rasa.engine.recipes.recipe import Recipe
    from rasa.shared.data import TrainingType

    monkeypatch.chdir(ROOT)
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    recipe = Recipe.recipe_for_name(config.get("recipe"))
    model_config = recipe.graph_config_for_recipe(config, {}, training_type=TrainingType.NLU)
    validation.validate(model_config)
    used = {node.uses for node in model_config.train_schema.nodes.values()}
    assert PolishTokenFolder in used


# ----------------------------------------------------------------------------- regexes


def _regexes() -> dict:
    data = yaml.safe_load((ROOT / "data/nlu/regexes.yml").read_text(encoding="utf-8"))
    patterns = {}
    for item in data["nlu"]:
        if "regex" in item:
            lines = [ln[2:] for ln in item["examples"].splitlines() if ln.startswith("- ")]
            patterns[item["regex"]] = [re.compile(p, re.IGNORECASE) for p in lines]
    return patterns


def _matches(name: str, text: str) -> List[str]:
    return [m.group(0) for p in _regexes()[name] for m in p.finditer(text)]


def test_regex_names_are_entities_of_the_domain():
    domain = load_domain()
    entities = {e if isinstance(e, str) else next(iter(e)) for e in domain.get("entities", [])}
    assert set(_regexes()) == {"email", "nip", "comarch_id", "pin", "verification_code"}
    assert set(_regexes()) <= entities


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("email", "mój mail to Ł.Żak@Firma.PL, dzięki", ["Ł.Żak@Firma.PL"]),
        ("email", "jan.kowalski@majafirma.com.pl", ["jan.kowalski@majafirma.com.pl"]),
        ("email", "piotr małpa wp kropka pl", []),
        ("nip", "NIP 1234567890", ["1234567890"]),
        ("nip", "nip: 123-456-78-90.", ["123-456-78-90"]),
        ("nip", "123 45 67 890", ["123 45 67 890"]),
        ("nip", "12345678901", []),
        ("pin", "PIN to 1234", ["1234"]),
        ("pin", "PIN 12345", []),
        ("pin", "123-456-78-90", []),
        ("pin", "pakiet za 1200 zł", []),
        ("pin", "1200,50 netto", []),
        ("pin", "stawka 23% czy 8%, PIN 4821.", ["4821"]),
        ("verification_code", "kod 482913", ["482913"]),
        ("verification_code", "kod 4829130", []),
        ("comarch_id", "moje ID 987654321", ["987654321"]),
        ("comarch_id", "PIN 1234", []),
    ],
)
def test_regexes_match_what_they_should(name, text, expected):
    assert _matches(name, text) == expected
