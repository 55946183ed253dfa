"""The intents of the visitor's recent messages, handed to the NLU with each new message.

``install()`` (called by ``bot.rasa_cli``) makes Rasa's message processor put the intents of the
visitor's latest messages of the session (newest first, up to ``LOOKBACK``) into the metadata of
the message it is about to classify, under ``RECENT_INTENTS_KEY``, where the NLU component
``bot.rasa_ext.topic_prior.TopicPrior`` reads them. Rasa stores the metadata with the message, so
the tracker shows the context each message was read in; it holds intent names only, never text.

This module imports no Rasa module itself (Rasa's processor imports TensorFlow): the patch is put
in place when Rasa imports the processor (bot/rasa_ext/patching.py).
"""

from __future__ import annotations

import logging
from typing import Any, List, Reversible, Text

from bot.rasa_ext import patching

logger = logging.getLogger(__name__)

RASA_MODULE = "rasa.core.processor"
RECENT_INTENTS_KEY = "pomocnik_recent_intents"
# A topic is at most this many visitor messages old (a form's e-mail, code and confirmation
# come between the question and its follow-up).
LOOKBACK = 6
_SESSION_BOUNDARIES = ("session_started", "restart")


def recent_intents(events: Reversible[Any]) -> List[Text]:
    """The intents of the visitor's latest messages of the session (Rasa events), newest first.
    Walks back from the end (the tracker's deque, not a copy) and stops after ``LOOKBACK``."""
    intents: List[Text] = []
    for event in reversed(events):
        kind = getattr(event, "type_name", None)
        if kind in _SESSION_BOUNDARIES or len(intents) == LOOKBACK:
            break
        if kind == "user" and event.intent_name:
            intents.append(event.intent_name)
    return intents


def install() -> bool:
    """Puts the recent intents into the metadata of each message Rasa classifies in a
    conversation (now if Rasa's processor is imported, else when it is)."""
    return patching.install(
        RASA_MODULE, _patch, logger,
        "messages are classified without the conversation's topic",
    )


def _patch(module: Any) -> None:
    processor = module.MessageProcessor
    rasa_parse = processor._parse_message_with_graph
    if getattr(rasa_parse, "with_recent_intents", False):
        return

    def parse_with_recent_intents(self, message, tracker, only_output_properties=True):
        intents = recent_intents(tracker.events) if tracker is not None else []
        if intents:
            message.metadata = {**(message.metadata or {}), RECENT_INTENTS_KEY: intents}
        return rasa_parse(self, message, tracker, only_output_properties)

    parse_with_recent_intents.with_recent_intents = True  # type: ignore[attr-defined]
    processor._parse_message_with_graph = parse_with_recent_intents
