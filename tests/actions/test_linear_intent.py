"""The sparse linear intent classifier (bot/rasa_ext/linear_intent.py): what it sees of a message,
that it learns, ranks and survives persisting, and that config.yml uses it with a CRF for the
entities.

Run in the Rasa environment: these import Rasa itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

rasa = pytest.importorskip("rasa")

from rasa.engine.graph import ExecutionContext, GraphSchema  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402

from bot.rasa_ext.linear_intent import LinearIntentClassifier, normalise  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

EXAMPLES = {
    "reset_password": ["nie pamiętam hasła", "zapomniałem hasła do konta", "reset hasła prosze",
                       "jak ustawić nowe hasło", "haslo nie dziala, chce nowe"],
    "change_role": ["zmień rolę użytkownika", "zmien role pracownika na magazyniera",
                    "chcę zmienić komuś uprawnienia", "nadaj inną rolę", "zmiana roli ewy"],
    "thanks": ["dziękuję", "dzieki", "bardzo dziękuję za pomoc", "thx", "dzięki wielkie"],
}


def test_values_become_placeholders_and_text_is_folded():
    assert normalise("Zmień rolę EWA.Lis@Firma.pl na księgową") == (
        "zmien role __email__ na ksiegowa")
    assert normalise("ID 68577, PIN 4821, NIP 526-025-02-74, kod 123456") == (
        "id __id__ , pin __fourdigits__ , nip __nip__ , kod __sixdigits__")
    assert normalise("zadzwońcie 601 234 567") == "zadzwoncie __phone__"
    # a password-shaped token, never its characters
    assert normalise("moje hasło to Zima2026!xq") == "moje haslo to __password__"
    assert normalise("mój mail to jan@firma.pl") == "moj mail to __email__"


def test_a_question_mark_does_not_make_a_word_a_password():
    # "?" and "!" at the end of a sentence are punctuation, not a symbol of the word before
    assert normalise("a srebrny?") == "a srebrny?"
    assert normalise("jak sparować telefon?") == "jak sparowac telefon?"
    assert normalise("jesteś jeszcze?!") == "jestes jeszcze?!"
    # a password keeps its shape without them, and the punctuation stays
    assert normalise("hasło Zima2026!") == "haslo __password__ !"
    assert normalise("czy Lato2026! to dobre hasło?") == "czy __password__ ! to dobre haslo?"
    assert normalise("haslo: Wiosna2026#") == "haslo: __password__"


def test_product_names_with_digits_are_not_passwords():
    # iKsięgowość24 in any spelling reads like its name followed by a number, never a password
    assert normalise("nie mogę wejść do iKsięgowość24") == "nie moge wejsc do iksiegowosc __number__"
    assert normalise("nie mogę wejść do iksiegowosc24") == "nie moge wejsc do iksiegowosc __number__"
    assert normalise("nie mogę wejść do iKsięgowość 24") == "nie moge wejsc do iksiegowosc __number__"
    assert normalise("IKSIĘGOWOŚĆ24!") == "iksiegowosc __number__ !"
    assert normalise("ksiegowosc24, konto") == "ksiegowosc __number__ , konto"
    assert normalise("zakładam konto w iKsięgowości24") == "zakladam konto w iksiegowosci __number__"
    assert normalise("wchodzę na www.iksiegowosc24.pl") == "wchodze na __url__"
    assert normalise("Optima2025 i ING Office na iPhone15") == (
        "optima __fourdigits__ i ing office na iphone __number__")
    # a password built around such a word, or any other word with digits, still is one
    for password in ("Iksiegowosc#24", "Ksiegowosc!2025", "iksiegowosc24x", "Kowalski123"):
        assert normalise(f"hasło {password}") == "haslo __password__"


def component(tmp_path: Path, **config) -> LinearIntentClassifier:
    return LinearIntentClassifier.create(
        {**LinearIntentClassifier.get_default_config(), **config},
        LocalModelStorage(tmp_path),
        Resource("linear_intent"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def training_data() -> TrainingData:
    return TrainingData([Message(data={"text": text, "intent": intent})
                         for intent, texts in EXAMPLES.items() for text in texts])


def test_it_learns_ranks_and_survives_persisting(tmp_path):
    classifier = component(tmp_path)
    resource = classifier.train(training_data())
    message = Message(data={"text": "zapomnialam hasla, pomocy"})
    classifier.process([message])
    assert message.get("intent")["name"] == "reset_password"
    ranking = message.get("intent_ranking")
    assert [r["name"] for r in ranking][0] == "reset_password"
    assert len(ranking) == 3 and abs(sum(r["confidence"] for r in ranking) - 1) < 1e-6
    # a value inside the message does not decide the intent
    for text in ("zmień rolę ewa@firma.pl na magazyniera", "zmień rolę tomek@biuro.com"):
        message = Message(data={"text": text})
        classifier.process([message])
        assert message.get("intent")["name"] == "change_role"

    loaded = LinearIntentClassifier.load(
        LinearIntentClassifier.get_default_config(), LocalModelStorage(tmp_path), resource,
        ExecutionContext(GraphSchema({}), "test"))
    again = Message(data={"text": "zapomnialam hasla, pomocy"})
    loaded.process([again])
    assert again.get("intent_ranking") == ranking
    assert again.get("intent") == ranking[0]


def test_untrained_it_predicts_nothing(tmp_path):
    classifier = LinearIntentClassifier.load(
        LinearIntentClassifier.get_default_config(), LocalModelStorage(tmp_path),
        Resource("missing"), ExecutionContext(GraphSchema({}), "test"))
    message = Message(data={"text": "dziękuję"})
    classifier.process([message])
    assert message.get("intent") is None


def test_config_classifies_intents_linearly_and_leaves_entities_to_the_crf():
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    names = [c["name"] for c in config["pipeline"]]
    linear = names.index("bot.rasa_ext.linear_intent.LinearIntentClassifier")
    assert linear < names.index("FallbackClassifier")
    assert names.index("CRFEntityExtractor") < names.index("EntitySynonymMapper")
    # one intent classifier and one entity extractor: no DIET, no TensorFlow model to build
    assert "DIETClassifier" not in names
