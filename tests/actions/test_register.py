"""The register detector (bot/rasa_ext/register.py): formal / informal / nothing, and the
third persons that must not flip the register."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.domain_files import load_domain
from bot.rasa_ext.register import RegisterDetector, detect_register

FORMAL = [
    "Dzień dobry, czy mogliby Państwo sprawdzić moje konto?",
    "dzien dobry, czy moglyby panstwo pomoc",
    "Proszę Pana, nie mogę się zalogować",
    "prosze pani, kod nie przyszedl",
    "Czy Pani może mi pomóc z hasłem?",
    "czy pania moze... czy pani moze sprawdzic pakiet",
    "Może Pan sprawdzić, czy mam sparowany telefon?",
    "Pan mógłby wysłać link jeszcze raz?",
    "Państwa system nie wysyła kodu",
    "u Państwa na stronie jest błąd",
    "u panstwa na stronie nie dziala logowanie",
    "Szanowni Państwo, proszę o zmianę pakietu",
    "Szanowny Panie, mam problem",
    "Uprzejmie proszę o link do zmiany hasła",
    "Dziękuję Państwu za pomoc",
    "hej, czy mogą Państwo zmienić mój pakiet?",
]

INFORMAL = [
    "możesz mi pomóc?",
    "mozesz sprawdzic moj pakiet",
    "mógłbyś wysłać link jeszcze raz",
    "pomożesz mi z logowaniem?",
    "wiesz może, jak zmienić hasło?",
    "cześć",
    "czesc, nie dziala mi logowanie",
    "hej",
    "siema, mam problem z kodem",
    "czy jesteś botem?",
]

NEUTRAL = [
    "nie mogę się zalogować",
    "Dzień dobry",
    "zmień pakiet na srebrny",
    "jan.kowalski@majafirma.pl",
    "dodaj panią księgową ewa.nowak@majafirma.pl",
    "dodaj pana Tomasza Wronę jako pracownika",
    "pan Tomasz Wrona, tomasz.wrona@majafirma.pl",
    "czy pani księgowa może wystawiać faktury?",
    "czy może pani Anna mieć dostęp do firmy?",
    "pani księgowa nie widzi faktur",
    "nasza pani z kadr ma rolę pracownika",
    "usuń pana Kowalskiego z firmy",
    "Pani Ewa Nowak jest księgową",
    "zmień rolę pani Anny na księgową",
    "tak",
    "",
]


@pytest.mark.parametrize("text", FORMAL)
def test_formal_address_is_detected(text):
    assert detect_register(text)[0] == "formal", text


@pytest.mark.parametrize("text", INFORMAL)
def test_informal_address_is_detected(text):
    assert detect_register(text)[0] == "informal", text


@pytest.mark.parametrize("text", NEUTRAL)
def test_third_persons_and_plain_requests_add_nothing(text):
    assert detect_register(text) is None, text


def test_span_points_at_the_words_the_user_typed():
    text = "Dzień dobry, czy mogliby Państwo pomóc?"
    value, (start, end) = detect_register(text)
    assert value == "formal" and text[start:end] == "Państwo"
    text = "Uprzejmie proszę o link"
    assert text[slice(*detect_register(text)[1])] == "Uprzejmie proszę"


def test_component_adds_the_entity_next_to_the_others():
    detector = RegisterDetector.create({}, None, None, None)
    existing = {"entity": "email", "value": "a@b.pl", "start": 0, "end": 6}
    formal = Message({TEXT: "a@b.pl - czy Pani może wysłać kod?", ENTITIES: [existing]})
    neutral = Message({TEXT: "a@b.pl"})
    detector.process([formal, neutral])
    entities = formal.get(ENTITIES)
    assert entities[0] == existing
    assert entities[1]["entity"] == "register" and entities[1]["value"] == "formal"
    assert entities[1]["extractor"] == "RegisterDetector"
    assert not neutral.get(ENTITIES)


def test_slot_and_entity_are_in_the_domain():
    domain = load_domain()
    assert "register" in domain["entities"]
    slot = domain["slots"]["register"]
    assert slot["type"] == "categorical" and set(slot["values"]) == {"formal", "informal"}
    assert slot["initial_value"] == "informal"
    assert slot["influence_conversation"] is False
    assert slot["mappings"] == [{"type": "from_entity", "entity": "register"}]


def test_detector_is_in_the_pipeline_after_the_entity_extractors():
    import yaml
    from pathlib import Path

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "config.yml").read_text())
    names = [component["name"] for component in config["pipeline"]]
    index = names.index("bot.rasa_ext.register.RegisterDetector")
    assert index > names.index("CRFEntityExtractor") and index > names.index("EntitySynonymMapper")
