"""bot/rasa_ext/recent_intents.py and topic_prior.py: the recent intents Rasa's processor hands
to the NLU, and the prior that reads a follow-up in the light of the topic at hand."""

from __future__ import annotations

import pytest
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Restarted,
    SessionStarted,
    UserUttered,
)
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, METADATA, TEXT
from rasa.shared.nlu.training_data.message import Message

from pathlib import Path

from bot.rasa_ext import recent_intents as recent_intents_patch
from bot.rasa_ext.recent_intents import LOOKBACK, RECENT_INTENTS_KEY, recent_intents
from bot.rasa_ext.topic_prior import TopicPrior, current_area

AREAS = {
    "devices": ["device_status", "pair_phone", "remove_device"],
    "packages": ["packages_info", "change_package", "account_status"],
}
ENDS = ["thanks", "done", "goodbye", "greet"]
ROOT = Path(__file__).resolve().parents[2]


def said(intent):
    return UserUttered("…", {"name": intent, "confidence": 0.9})


def ranked(*pairs):
    return [{"name": name, "confidence": confidence} for name, confidence in pairs]


def classified(ranking, recent=None):
    message = Message(data={TEXT: "od kiedy?"})
    if recent is not None:
        message.set(METADATA, {RECENT_INTENTS_KEY: recent})
    message.set(INTENT, ranking[0])
    message.set(INTENT_RANKING_KEY, ranking)
    return message


def test_recent_intents_are_newest_first_within_the_session():
    events = [said("packages_info"), SessionStarted(), ActionExecuted("action_listen"),
              said("device_status"), BotUttered("…"), said("inform"), said("inform")]

    assert recent_intents(events) == ["inform", "inform", "device_status"]
    assert recent_intents([said("greet"), Restarted()]) == []


def test_recent_intents_stop_at_the_lookback():
    events = [said("device_status")] + [said("inform")] * LOOKBACK

    assert recent_intents(events) == ["inform"] * LOOKBACK


def test_the_area_is_the_newest_topic_past_answers_but_not_past_a_closing():
    areas = TopicPrior({"topic_areas": AREAS})._area_of

    assert current_area(["inform", "affirm", "device_status"], areas, ENDS) == "devices"
    assert current_area(["thanks", "device_status"], areas, ENDS) is None
    assert current_area(["inform"], areas, ENDS) is None


def test_an_ambiguous_follow_up_goes_to_the_topic_at_hand():
    prior = TopicPrior({"topic_areas": AREAS, "boost": 3.0})
    message = classified(ranked(("account_status", 0.6), ("device_status", 0.3), ("inform", 0.1)),
                         recent=["inform", "device_status"])

    prior.process([message])

    ranking = message.get(INTENT_RANKING_KEY)
    assert [entry["name"] for entry in ranking] == ["device_status", "account_status", "inform"]
    assert ranking[0]["confidence"] == pytest.approx(0.9 / 1.6)
    assert message.get(INTENT) == ranking[0]
    assert sum(entry["confidence"] for entry in ranking) == pytest.approx(1.0)


def test_a_clear_message_about_another_topic_keeps_its_intent():
    prior = TopicPrior({"topic_areas": AREAS, "boost": 3.0})
    message = classified(ranked(("packages_info", 0.9), ("device_status", 0.05)),
                         recent=["device_status"])

    prior.process([message])

    assert message.get(INTENT)["name"] == "packages_info"


def test_an_answer_or_a_request_of_no_area_is_left_to_the_dialogue():
    # "a 799 to złoty?" is an answer-like message; the dialogue reads it in context already
    prior = TopicPrior({"topic_areas": AREAS, "boost": 3.0})
    ranking = ranked(("inform", 0.6), ("packages_info", 0.3), ("human_handoff", 0.1))
    message = classified(ranking, recent=["packages_info"])

    prior.process([message])

    assert message.get(INTENT_RANKING_KEY) == ranking


@pytest.mark.parametrize("recent", [None, [], ["thanks", "device_status"]])
def test_without_a_topic_nothing_changes(recent):
    ranking = ranked(("account_status", 0.6), ("device_status", 0.3))
    message = classified(ranking, recent=recent)

    TopicPrior({"topic_areas": AREAS, "topic_ends": ENDS}).process([message])

    assert message.get(INTENT_RANKING_KEY) == ranking


def test_an_intent_in_two_areas_is_a_configuration_error():
    with pytest.raises(ValueError, match="device_status"):
        TopicPrior({"topic_areas": {"a": ["device_status"], "b": ["device_status"]}})


def test_the_processor_puts_the_recent_intents_into_the_message_metadata():
    class Tracker:
        events = [said("device_status"), said("inform")]

    class Processor:
        def _parse_message_with_graph(self, message, tracker, only_output_properties=True):
            return dict(message.metadata)

    class Module:
        MessageProcessor = Processor

    class UserMessage:
        metadata = {"pomocnik_turn": "t1"}

    recent_intents_patch._patch(Module)
    recent_intents_patch._patch(Module)  # once only

    seen = Processor()._parse_message_with_graph(UserMessage(), Tracker())
    assert seen == {"pomocnik_turn": "t1", RECENT_INTENTS_KEY: ["inform", "device_status"]}


def test_the_configured_areas_name_intents_of_the_domain_once():
    import yaml

    from bot.domain_files import load_domain

    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    prior = next(c for c in config["pipeline"] if c["name"].endswith("TopicPrior"))
    intents = set(load_domain()["intents"])
    named = [i for area in prior["topic_areas"].values() for i in area] + prior["topic_ends"]
    assert set(named) <= intents
    TopicPrior(prior)  # no intent in two areas
