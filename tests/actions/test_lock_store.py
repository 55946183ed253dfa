"""The Redis lock store of the scaled topology (bot/rasa_ext/lock_store.py), on a real Redis.

Two store instances stand for two Rasa replicas. Needs Redis on 127.0.0.1:6379 (CI has it);
skipped, saying so, when there is none.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from rasa.core.lock_store import LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_ext.lock_store import AtomicRedisLockStore


ROOT = Path(__file__).resolve().parents[2]


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")


def replicas(prefix: str, **options) -> list[AtomicRedisLockStore]:
    config = EndpointConfig(url="127.0.0.1", type="bot.rasa_ext.lock_store.AtomicRedisLockStore",
                            port=6379, db=1, key_prefix=prefix, **options)
    return [LockStore.create(config) for _ in range(2)]


@pytest.fixture
def prefix():
    name = f"test{uuid.uuid4().hex[:12]}"
    yield name
    store = replicas(name)[0]
    keys = list(store.red.scan_iter(f"{name}:*"))
    if keys:
        store.red.delete(*keys)


async def test_endpoints_config_builds_it(prefix):
    store = replicas(prefix, ticket_seconds=7, poll_seconds=0.02)[0]
    assert isinstance(store, AtomicRedisLockStore)
    assert store.ticket_ms == 7000 and store.poll_seconds == 0.02


def run_two_replicas(store_type: str, prefix: str) -> tuple[list[int], list[int]]:
    """20 messages of one conversation, even ones on one replica process, odd on the other."""
    start = time.time() + 8  # both processes imported Rasa and are waiting by then
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.actions.lock_worker", store_type, prefix, str(start),
             ",".join(str(n) for n in range(first, 20, 2))],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for first in (0, 1)
    ]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    shared = redis.StrictRedis(host="127.0.0.1", port=6379, db=1)
    entered = [int(n) for n in shared.lrange(f"{prefix}:entered", 0, -1)]
    overlaps = [int(n) for n in shared.lrange(f"{prefix}:overlaps", 0, -1)]
    return entered, overlaps


def test_messages_on_two_replica_processes_run_one_at_a_time(prefix):
    entered, overlaps = run_two_replicas("bot.rasa_ext.lock_store.AtomicRedisLockStore", prefix)
    assert overlaps == []
    assert sorted(entered) == list(range(20))  # each message ran, once
    assert not replicas(prefix)[0].is_someone_waiting("conversation")  # all released


async def test_messages_issued_at_once_on_one_process_run_in_arrival_order(prefix):
    stores = replicas(prefix)
    entered = []

    async def message(number: int) -> None:
        await asyncio.sleep(0.005 * number)  # arrive one after another, then all wait together
        async with stores[number % 2].lock("conversation"):
            entered.append(number)
            await asyncio.sleep(0.01)

    await asyncio.wait_for(asyncio.gather(*(message(n) for n in range(20))), 60)
    assert entered == list(range(20))  # first come, first served


async def test_a_dead_replicas_ticket_blocks_the_conversation_only_briefly(prefix):
    dead, alive = replicas(prefix, ticket_seconds=1)
    dead.issue_ticket("conversation")  # its owner died before its turn ended: no heartbeats
    started = time.monotonic()
    async with alive.lock("conversation"):
        waited = time.monotonic() - started
    assert waited >= 0.5  # it did wait for the dead ticket (expiry is Redis's clock)


async def test_a_live_holder_keeps_its_turn_beyond_the_ticket_time(prefix):
    first, second = replicas(prefix, ticket_seconds=1)
    order = []

    async def slow() -> None:
        async with first.lock("conversation"):
            order.append("slow starts")
            await asyncio.sleep(2.5)  # longer than a ticket lives: the heartbeat keeps it
            order.append("slow ends")

    async def next_one() -> None:
        await asyncio.sleep(0.2)
        async with second.lock("conversation"):
            order.append("next")

    await asyncio.wait_for(asyncio.gather(slow(), next_one()), 30)
    assert order == ["slow starts", "slow ends", "next"]


async def test_conversations_do_not_wait_for_each_other(prefix):
    store = replicas(prefix)[0]
    async with store.lock("one"):
        async with store.lock("two"):  # would wait forever if it shared the lock
            pass


async def test_a_message_whose_ticket_vanished_while_waiting_fails(prefix):
    store = replicas(prefix, ticket_seconds=60)[0]
    holder = store.issue_ticket("conversation")  # holds the turn for the whole test
    waiting = asyncio.ensure_future(store.lock("conversation").__aenter__())
    _, queue, _ = store._keys("conversation")

    async def queued():
        while store.red.zcard(queue) < 2:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(queued(), 10)
    store.red.zrem(queue, holder + 1)  # the waiter's ticket is gone (expired, Redis flushed)
    with pytest.raises(LockError):
        await asyncio.wait_for(waiting, 10)
