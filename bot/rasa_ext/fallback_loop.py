"""A question about something else, typed at "Czy chodzi o …?", is answered as one.

Rasa's two-stage fallback asks "Czy chodzi o …?" with the buttons "Tak" and "Nie, o coś innego";
the second sends the payload ``/out_of_scope``, and Rasa's loop takes any message whose intent is
``out_of_scope`` as that "no" (``rasa.core.actions.two_stage_fallback``): it asks to rephrase.
So a visitor who answers the question with a real question about something else ("a kto wygrał
wczoraj mecz?") was asked to rephrase it, then told "nadal nie rozumiem".

``install()`` (called by ``bot.rasa_cli``) makes the loop end at a *typed* message the NLU reads as
``out_of_scope``, as it ends at any other clear message: Rasa reverts the loop's turns and the
message is handled as if it had come first (the out-of-scope answer). The button's payload
(text starting with "/") still means "no". Imports no Rasa module itself (see patching.py).
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from bot.rasa_ext import patching

logger = logging.getLogger(__name__)

RASA_MODULE = "rasa.core.actions.two_stage_fallback"
OUT_OF_SCOPE = "out_of_scope"
PAYLOAD_PREFIX = "/"


def typed_out_of_scope(intent: Optional[str], text: Optional[str]) -> bool:
    """Whether a message is a typed question about something else, not the "no" button."""
    return (
        intent == OUT_OF_SCOPE
        and isinstance(text, str)
        and bool(text.strip())
        and not text.lstrip().startswith(PAYLOAD_PREFIX)
    )


def install() -> bool:
    """Ends the two-stage fallback at a typed out-of-scope message (now if Rasa's module is
    imported, else when it is)."""
    return patching.install(
        RASA_MODULE, _patch, logger,
        "a typed out-of-scope message at 'Czy chodzi o …?' counts as the 'no' button",
    )


def _patch(module: Any) -> None:
    loop = module.TwoStageFallbackAction
    rasa_is_done = loop.is_done
    if getattr(rasa_is_done, "ends_at_typed_out_of_scope", False):
        return

    async def is_done(self, output_channel, nlg, tracker, domain, events_so_far):
        latest = tracker.latest_message
        if latest is not None and typed_out_of_scope(latest.intent_name, latest.text):
            return True
        return await rasa_is_done(self, output_channel, nlg, tracker, domain, events_so_far)

    is_done.ends_at_typed_out_of_scope = True  # type: ignore[attr-defined]
    loop.is_done = is_done
