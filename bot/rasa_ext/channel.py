"""The gateway's input channel: Rasa's REST channel that also answers what the turn did.

``PomocnikInput`` (``credentials.yml``: ``bot.rasa_ext.channel.PomocnikInput``) serves
``POST /webhooks/pomocnik/webhook``. The request is the REST channel's (``sender``,
``message``, ``metadata``); the answer is

    {"messages": [<the bot's messages, exactly as the REST channel answers them>],
     "turn": {"message": <id>, "intent": …, "predicted_intent": …, "confidence": …,
              "actions": […], "journeys": […], "active_form": …} | null}

``turn`` summarises the turn of the gateway's message (the one marked ``{"pomocnik_turn":
{"message": <id>}}`` in its metadata) with ``bot.understanding.turn_of``, the one definition of a
turn. It is computed in the same request from the tracker Rasa has just saved, so the gateway
needs no read of the tracker afterwards: the webhook opens a ``TurnCapture`` for its message
(a ``contextvars.ContextVar``, so it is seen only by this request's task, whichever conversation
another request on the same event loop runs), and the tracker store
(``bot/rasa_ext/tracker_store.py``) fills it in ``save`` once the events are written. No state
outlives the request, so any replica can serve any message. ``turn`` is null when the message
carried no marker (the desk's ``/handoff_returned``), when the turn failed before it was saved,
or when the tracker store is not ours. It holds names and a confidence only, never a slot value or
a message text.

Streaming (``?stream=true``) is not offered: the gateway waits for the whole answer.
"""

from __future__ import annotations

import contextvars
import logging
from asyncio import CancelledError
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import Event
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.understanding import CONTEXT_EVENTS, marked_message, turn_of

logger = logging.getLogger(__name__)


@dataclass
class TurnCapture:
    """The summary of one webhook request's turn, filled by the tracker store's ``save``."""

    sender_id: Text
    message_id: Optional[int]
    summary: Optional[Dict[Text, Any]] = None


_capture: contextvars.ContextVar[Optional[TurnCapture]] = contextvars.ContextVar(
    "pomocnik_turn_capture", default=None
)


def summarise(events: Iterable[Event], message_id: int) -> Optional[Dict[Text, Any]]:
    """``turn_of`` of the message ``message_id`` in a tracker's events, as the channel answers
    it. Only the events from the message on are serialised (and, before it, the few that tell
    which loop was open: ``CONTEXT_EVENTS``), so the cost does not grow with the conversation."""
    events = list(events)
    start = next(
        (
            index
            for index in range(len(events) - 1, -1, -1)
            if events[index].type_name == "user"
            and marked_message(events[index].metadata) == message_id
        ),
        None,
    )
    if start is None:
        return None
    context = [event.as_dict() for event in events[:start] if event.type_name in CONTEXT_EVENTS]
    record = turn_of(context + [event.as_dict() for event in events[start:]], message_id)
    return record.as_dict(message_id) if record is not None else None


def tracker_saved(sender_id: Text, events: Iterable[Event]) -> None:
    """Called by the tracker store once it saved a tracker: fills the running request's
    capture if the tracker is that request's conversation. Never raises (a summary is not worth
    a turn)."""
    capture = _capture.get()
    if capture is None or capture.message_id is None or capture.sender_id != sender_id:
        return
    try:
        capture.summary = summarise(events, capture.message_id)
    except Exception:  # pragma: no cover - defensive: the turn itself is already saved
        logger.exception("turn summary failed")
        capture.summary = None


class PomocnikInput(RestInput):
    """Rasa's REST channel whose answer also carries the summary of the turn."""

    @classmethod
    def name(cls) -> Text:
        return "pomocnik"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        # noinspection PyUnusedLocal
        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            sender_id = await self._extract_sender(request)
            text = self._extract_message(request)
            metadata = self.get_metadata(request)
            collector = CollectingOutputChannel()
            capture = TurnCapture(sender_id, marked_message(metadata))
            token = _capture.set(capture)
            # noinspection PyBroadException
            try:
                await on_new_message(
                    UserMessage(
                        text,
                        collector,
                        sender_id,
                        input_channel=self._extract_input_channel(request),
                        metadata=metadata,
                    )
                )
            except CancelledError:
                # as the REST channel: answer what was said so far (the text is never logged)
                logger.error("pomocnik channel: the message's turn was cancelled (timeout)")
            except Exception:
                logger.exception("pomocnik channel: the message's turn failed")
            finally:
                _capture.reset(token)
            return response.json({"messages": collector.messages, "turn": capture.summary})

        return webhook


__all__: List[Text] = ["PomocnikInput", "TurnCapture", "summarise", "tracker_saved"]
