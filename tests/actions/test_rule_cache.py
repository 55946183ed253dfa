"""bot/rasa_ext/rule_cache.py: RulePolicy parses each learnt rule once. Rasa's own cache of
1,000 parsed rules, scanned in order over more rules than that, parses every rule at every
check; the patched policy gives the same answers and parses each rule once."""

from __future__ import annotations

import json

import pytest
from rasa.core.policies.rule_policy import RulePolicy

from bot.rasa_ext import rule_cache


# More rules than Rasa's cache holds, as this assistant's model has: each a short rule
# "intent X → action Y" after the bot's last action.
RULES = [
    json.dumps([
        {"prev_action": {"action_name": f"utter_topic_{n}"}},
        {"user": {"intent": f"intent_{n % 50}"}, "prev_action": {"action_name": "action_listen"}},
    ])
    for n in range(1500)
]
STATE = {"user": {"intent": "intent_7"}, "prev_action": {"action_name": "action_listen"}}
EARLIER = {"prev_action": {"action_name": "utter_topic_7"}}


@pytest.fixture
def parses(monkeypatch):
    """Counts json.loads calls made by either cache (both parse with the json module)."""
    calls = []
    loads = json.loads

    def counting_loads(text, *args, **kwargs):
        calls.append(text)
        return loads(text, *args, **kwargs)

    monkeypatch.setattr(json, "loads", counting_loads)
    return calls


@pytest.fixture
def policy(monkeypatch):
    """A RulePolicy object without training (only its rule checks are used); the class's
    method is restored afterwards, with a fresh cache on each side."""
    rasa_own = RulePolicy.__dict__["_rule_key_to_state"]
    if rasa_own.__func__ is rule_cache.rule_states:  # installed by an earlier test
        rasa_own = rule_cache.rasa_rule_key_to_state
    assert rasa_own.__func__.__module__ == "rasa.core.policies.rule_policy"
    monkeypatch.setattr(RulePolicy, "_rule_key_to_state", rasa_own)
    rasa_own.__func__.cache_clear()
    rule_cache.rule_states.cache_clear()
    return object.__new__(RulePolicy)


def applicable(policy: RulePolicy) -> list:
    """The rules that match the conversation's last two states, as a prediction checks them."""
    latest = [key for key in RULES if policy._is_rule_applicable(key, 0, STATE)]
    return [key for key in latest if policy._is_rule_applicable(key, 1, EARLIER)]


def test_rasa_alone_parses_every_rule_at_every_prediction(policy, parses):
    first = applicable(policy)
    parses.clear()
    assert applicable(policy) == first
    # the second prediction parsed (nearly) all of them again
    assert len(parses) > 0.95 * len(RULES)


def test_patched_policy_parses_each_rule_once_with_the_same_answers(policy, parses):
    rasa_answer = applicable(policy)
    assert rasa_answer == [RULES[7]]  # the scan is real: one rule of 1,500 matches
    assert rule_cache.install()
    assert RulePolicy._rule_key_to_state is rule_cache.rule_states
    parses.clear()
    assert applicable(policy) == rasa_answer
    assert sorted(parses) == sorted(RULES)  # each rule once …
    parses.clear()
    assert applicable(policy) == rasa_answer
    assert parses == []  # … and never again
    assert rule_cache.rule_states(RULES[7]) == json.loads(RULES[7])


def test_the_cache_holds_more_rules_than_a_model_has():
    assert rule_cache.CACHED_RULES > 10 * len(RULES)
