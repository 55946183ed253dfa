"""bot/rasa_ext/kindred_intents.py: two closings split evenly are no ambiguity for the fallback;
anything else is left as the classifier ranked it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.domain_files import load_domain
from bot.rasa_ext.kindred_intents import KindredIntents

ROOT = Path(__file__).resolve().parents[2]
GROUPS = {"groups": [["thanks", "done", "goodbye"]]}


def classified(*pairs):
    ranking = [{"name": name, "confidence": confidence} for name, confidence in pairs]
    message = Message(data={TEXT: "Dziękuję, to mi wystarczy."})
    message.set(INTENT, ranking[0])
    message.set(INTENT_RANKING_KEY, ranking)
    return message


def test_two_closings_split_evenly_become_one_confident_closing():
    message = classified(("thanks", 0.50), ("done", 0.45), ("deny", 0.01))

    KindredIntents(GROUPS).process([message])

    assert message.get(INTENT) == {"name": "thanks", "confidence": pytest.approx(0.95)}
    assert [entry["name"] for entry in message.get(INTENT_RANKING_KEY)] == ["thanks", "deny"]


@pytest.mark.parametrize("pairs", [
    (("thanks", 0.50), ("deny", 0.45), ("done", 0.04)),  # the second is of no group
    (("deny", 0.50), ("done", 0.45)),
    (("thanks", 0.9),),
])
def test_anything_else_keeps_its_ranking(pairs):
    message = classified(*pairs)
    before = list(message.get(INTENT_RANKING_KEY))

    KindredIntents(GROUPS).process([message])

    assert message.get(INTENT_RANKING_KEY) == before


def test_an_intent_in_two_groups_is_a_configuration_error():
    with pytest.raises(ValueError, match="done"):
        KindredIntents({"groups": [["thanks", "done"], ["done", "goodbye"]]})


def test_the_configured_groups_are_intents_of_the_domain():
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    kindred = next(c for c in config["pipeline"] if c["name"].endswith("KindredIntents"))
    assert {i for group in kindred["groups"] for i in group} <= set(load_domain()["intents"])
    KindredIntents(kindred)
