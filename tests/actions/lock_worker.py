"""One "replica" for test_lock_store: holds a conversation's lock for each of its messages.

    python -m tests.actions.lock_worker <store class path> <key prefix> <start at (epoch s)>
                                        <message numbers, comma-separated>

Message n arrives at start + n × 10 ms; inside its turn it records itself in Redis (shared
with the other replica): ``<prefix>:inside`` counts the turns running now, ``<prefix>:overlaps``
lists messages that found another turn running, ``<prefix>:entered`` the order of the turns.
"""

from __future__ import annotations

import asyncio
import sys
import time

import redis
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig


async def main(store_type: str, prefix: str, start: float, numbers: list[int]) -> None:
    if store_type == "redis":  # Rasa's own, for comparison
        config = EndpointConfig(url="127.0.0.1", type="redis", port=6379, db=1,
                                key_prefix=prefix)
    else:
        config = EndpointConfig(url="127.0.0.1", type=store_type, port=6379, db=1,
                                key_prefix=prefix, poll_seconds=0.02)
    store = LockStore.create(config)
    shared = redis.StrictRedis(host="127.0.0.1", port=6379, db=1)

    async def message(number: int) -> None:
        await asyncio.sleep(max(0.0, start + 0.01 * number - time.time()))
        async with store.lock("conversation", wait_time_in_seconds=0.02):
            if shared.incr(f"{prefix}:inside") > 1:
                shared.rpush(f"{prefix}:overlaps", number)
            shared.rpush(f"{prefix}:entered", number)
            await asyncio.sleep(0.02)
            shared.decr(f"{prefix}:inside")

    await asyncio.gather(*(message(number) for number in numbers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]),
                     [int(n) for n in sys.argv[4].split(",")]))
