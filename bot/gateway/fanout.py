"""Live fan-out of conversation events to every gateway process.

A visitor's tabs may be connected to different gateway processes (and, later, an adviser's
console to yet another). Whatever is stored in a conversation is announced through a
``FanOut``; every process hands each announcement to its own connected sockets.

- ``InProcessFanOut``: the embedded default, for a single gateway process.
- ``RedisFanOut``: Redis pub/sub (``REDIS_URL``), for several processes.

Fan-out is best effort: the database is the record. A client that missed an event (Redis
down, connection dropped) catches up from the transcript (``history_after``) on reconnect.
Events carry a room key derived from the conversation id, masked texts only, never secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

logger = logging.getLogger("pomocnik.gateway")

Event = dict[str, Any]
Deliver = Callable[[Event], Awaitable[None]]

CHANNEL = "pomocnik:gateway:events"
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0)


class FanOut(Protocol):
    async def start(self, deliver: Deliver) -> None:
        """Begin handing every published event (from any process) to ``deliver``."""

    async def publish(self, event: Event) -> None:
        """Announce an event to every process, this one included. Never raises."""

    async def close(self) -> None:
        """Stop listening and release connections."""


class InProcessFanOut:
    """Delivers straight to this process's sockets."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def publish(self, event: Event) -> None:
        if self._deliver is None:
            return
        try:
            await self._deliver(event)
        except Exception:
            logger.exception("fan-out delivery failed type=%s", event.get("type"))

    async def close(self) -> None:
        self._deliver = None


class RedisFanOut:
    """Redis pub/sub on one channel; each process subscribes and delivers to its sockets.

    A process receives its own publications through Redis too, so delivery has one path.
    The listener reconnects with a short back-off when Redis goes away.
    """

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        from redis import asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=3)
        self._channel = channel
        self._task: asyncio.Task | None = None
        self._subscribed = asyncio.Event()

    async def start(self, deliver: Deliver) -> None:
        self._task = asyncio.create_task(self._listen(deliver), name="pomocnik-redis-fanout")
        # Wait (briefly) for the subscription, so nothing published right after start is missed.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=3)
        if not self._subscribed.is_set():
            logger.warning("redis fan-out: not subscribed yet; retrying in the background")

    async def publish(self, event: Event) -> None:
        try:
            await self._redis.publish(self._channel, json.dumps(event, ensure_ascii=False))
        except Exception as exc:  # redis errors, timeouts
            logger.warning("redis fan-out: publish failed (%s)", type(exc).__name__)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._redis.aclose()

    async def _listen(self, deliver: Deliver) -> None:
        failures = 0
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self._subscribed.set()
                if failures:
                    logger.info("redis fan-out: subscribed again")
                failures = 0
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self._deliver_raw(deliver, message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                logger.warning(
                    "redis fan-out: connection lost (%s); retrying in %.1fs",
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
            finally:
                self._subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    @staticmethod
    async def _deliver_raw(deliver: Deliver, raw: bytes | str) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            logger.warning("redis fan-out: ignored a malformed event")
            return
        try:
            await deliver(event)
        except Exception:
            logger.exception("fan-out delivery failed type=%s", event.get("type"))


def create_fanout(redis_url: str | None) -> FanOut:
    return RedisFanOut(redis_url) if redis_url else InProcessFanOut()
