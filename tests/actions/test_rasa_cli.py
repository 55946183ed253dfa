"""bot/rasa_cli.py: Rasa started as `python -m bot.rasa_cli …` gets its patches
(bot/rasa_ext/action_check.py, rule_cache.py, recent_intents.py, fallback_loop.py) the moment
Rasa imports the modules they patch, without importing those modules (or TensorFlow) itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_rasa_cli_patches_rasa_when_rasa_imports_the_modules():
    script = (
        "import sys\n"
        "from bot import rasa_cli\n"
        "rasa_cli.install()\n"
        "patched = ('rasa.core.actions.action', 'rasa.core.policies.rule_policy',\n"
        "           'rasa.core.processor', 'rasa.core.actions.two_stage_fallback',\n"
        "           'tensorflow')\n"
        "assert not [name for name in patched if name in sys.modules]\n"
        "from rasa.core.agent import load_agent\n"  # as `rasa run` reaches them
        "from rasa.core.actions.action import RemoteAction\n"
        "from rasa.core.policies.rule_policy import RulePolicy\n"
        "from rasa.core.processor import MessageProcessor\n"
        "from bot.rasa_ext import action_check, rule_cache\n"
        "assert RemoteAction._validate_action_result is action_check.validate_action_result\n"
        "assert action_check.rasa_validate_action_result.__module__ == 'rasa.core.actions.action'\n"
        "assert RulePolicy._rule_key_to_state is rule_cache.rule_states\n"
        "assert rule_cache.rasa_rule_key_to_state.__func__.__module__ == "
        "'rasa.core.policies.rule_policy'\n"
        "assert MessageProcessor._parse_message_with_graph.with_recent_intents\n"
        "from rasa.core.actions.two_stage_fallback import TwoStageFallbackAction\n"
        "assert TwoStageFallbackAction.is_done.ends_at_typed_out_of_scope\n"
        "print('patched')\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("patched")
