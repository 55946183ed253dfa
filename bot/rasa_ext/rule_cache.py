"""Rasa's RulePolicy with every learnt rule parsed once.

Rasa 3.6's RulePolicy (``rasa/core/policies/rule_policy.py``) keeps each learnt rule as a JSON
string. To see whether a rule applies it parses the string through ``_rule_key_to_state``,
which sits behind ``functools.lru_cache(maxsize=1000)``, for every rule at every step of every
prediction. This assistant's model has more rules than that (1,050 plus 154 for the forms'
unhappy paths on 2026-12-04), and each prediction scans them in the same order, so every entry
is evicted before it is needed again: every check parsed JSON anew, more than half of the
policies' CPU per turn (29 -> 12 ms, docs/benchmarks/turn_profile.md), and of core training too.

The rules do not change once a model is trained. ``install()`` (called by ``bot.rasa_cli``)
puts the same parsing behind a cache large enough for every rule of a model, so each rule is
parsed once. The parsed value is the one Rasa's own cache returns, and Rasa already shares it
between callers, which only read it.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any, Dict, List, Optional, Text

from bot.rasa_ext import patching

logger = logging.getLogger(__name__)

RASA_MODULE = "rasa.core.policies.rule_policy"

# Rules of a model (a few thousand here) times the models one process may load in its life
# (a server that loads a new model, the NLU benchmark's folds): bounded, but never below one
# model's rules.
CACHED_RULES = 1 << 16

# Rasa's own method (a staticmethod), kept when it is replaced (the tests compare the two).
rasa_rule_key_to_state: Optional[staticmethod] = None


@functools.lru_cache(maxsize=CACHED_RULES)
def rule_states(rule_key: Text) -> List[Dict[Text, Any]]:
    """The states of a learnt rule, parsed from its key as RulePolicy does."""
    return json.loads(rule_key)


def install() -> bool:
    """Puts the large cache in place of RulePolicy's, now if Rasa's module is imported, else as
    soon as it is. False if this Rasa is not the one the patch was written for."""
    return patching.install(
        RASA_MODULE, _patch, logger,
        "RulePolicy's own cache of parsed rules is left in place (slower, same predictions)",
    )


def _patch(module: Any) -> None:
    global rasa_rule_key_to_state
    rule_policy = module.RulePolicy
    own = rule_policy.__dict__["_rule_key_to_state"]
    if own.__func__ is not rule_states:
        rasa_rule_key_to_state = own
        rule_policy._rule_key_to_state = staticmethod(rule_states)
