"""Rasa's command line with the known third-party deprecation noise silenced
(common/third_party_warnings.py): ``python -m bot.rasa_cli run …`` is ``rasa run …``.

The Procfile starts Rasa this way, so ``make run`` shows the health lines and the warnings that
matter; everything else about Rasa is unchanged (same arguments, same exit code), but for four
documented patches. Two change no result, only the CPU a turn takes:

- Rasa's check of the action server's answers builds its JSON-schema validator once instead of
  on every call (bot/rasa_ext/action_check.py; same answers accepted, same errors raised,
  ~25 ms less CPU per custom action);
- RulePolicy parses each learnt rule once instead of at every check (bot/rasa_ext/rule_cache.py;
  its own cache is smaller than this model's rules).

The third gives the NLU the conversation's recent intents (bot/rasa_ext/recent_intents.py): the
`TopicPrior` component in config.yml reads a follow-up in the light of the topic at hand. The
fourth ends the two-stage fallback at a typed question about something else, which Rasa took for
the "Nie, o coś innego" button (bot/rasa_ext/fallback_loop.py).

Rasa sets up its own warning filters when a command starts (``once`` for every UserWarning, in
front of the others); pyparsing's deprecations are UserWarnings too, so the silencing filters
are put back in front right after Rasa's.
"""

from __future__ import annotations

import sys

from common import third_party_warnings


def install() -> None:
    """Silence now, and again each time Rasa has set up its own filters; put the cached check of
    the action server's answers, the cache of parsed rules, the recent intents and the end of
    the fallback loop in place."""
    third_party_warnings.silence()
    from bot.rasa_ext import action_check, fallback_loop, recent_intents, rule_cache

    action_check.install()
    rule_cache.install()
    recent_intents.install()
    fallback_loop.install()
    import rasa.utils.common as rasa_common

    rasa_filters = rasa_common._filter_warnings

    def rasa_filters_then_ours(*args, **kwargs) -> None:
        rasa_filters(*args, **kwargs)
        third_party_warnings.silence()

    rasa_common._filter_warnings = rasa_filters_then_ours


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
