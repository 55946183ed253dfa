"""HAProxy's health checks in the scaled topology tell a dead replica from a busy one.

The real HAProxy with the harness's configuration (``harness.scaled.haproxy_config``) in front
of stub replicas (``harness.http_stub``): no Rasa, no databases, a few seconds per test.

A Rasa replica runs NLU and the policies on its event loop, so under load its ``GET /`` waits
behind the turns in flight: at 50 concurrent visitors it answered after more than a second.
With the check's whole budget at ``inter`` (1 s, no ``timeout check``) HAProxy marked both Rasa
replicas down although both were working, and answered every turn with 503 until they came
back (124 of 500 turns "gateway failed" in docs/benchmarks/scaled.md).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import urllib.error

import httpx
import pytest

from harness import scaled
from harness.http_stub import HttpStub, StubRequest
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

# A busy replica's health answer: over the former 1 s check budget, within the new one.
BUSY_SECONDS = 2.5
CHECKS_SEEN = 3  # checks each replica received: with fall 2, enough to have been marked down


class Replica:
    """A stub replica: its health path answers after ``health_delay`` seconds (a busy event
    loop), every other path at once."""

    def __init__(self, health_delay: float) -> None:
        self.health_delay = health_delay
        self.checks = 0
        self.http = HttpStub(self.respond)

    async def respond(self, request: StubRequest):
        if request.method == "GET" and request.path in ("/", "/health"):
            self.checks += 1
            await asyncio.sleep(self.health_delay)
            return 200, {"status": "ok"}
        return 200, [{"recipient_id": "x", "text": "odpowiedź"}]


@pytest.fixture
async def balanced(tmp_path):
    """HAProxy, configured as the scaled topology, in front of busy stub replicas."""
    try:
        haproxy = scaled.ensure_haproxy()
    except scaled.ScaledUnavailable as error:
        pytest.skip(str(error))
    ports = scaled.allocate_ports(fixed=False)
    stack = scaled.ScaledStack(tmp_path, "checks", ports, "", "", "", "")
    replicas: dict[str, Replica] = {}
    for service in scaled.BALANCED:
        for name in stack.replicas(service):
            replica = Replica(BUSY_SECONDS)
            await replica.http.start()
            ports[name] = replica.http.port
            replicas[name] = replica
    (tmp_path / "haproxy.cfg").write_text(scaled.haproxy_config(stack), encoding="utf-8")
    log = open(tmp_path / "haproxy.log", "wb")
    process = subprocess.Popen([haproxy, "-db", "-f", str(tmp_path / "haproxy.cfg")],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        await eventually(lambda: _stats_up(stack), timeout=10)
        yield stack, replicas
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        for replica in replicas.values():
            await replica.http.stop()


async def _stats_up(stack) -> bool:
    try:
        await asyncio.to_thread(stack.haproxy_servers)
        return True
    except (urllib.error.URLError, OSError):
        return False


async def statuses(stack) -> dict[str, dict[str, str]]:
    return await asyncio.to_thread(stack.haproxy_servers)


async def test_busy_replicas_that_answer_their_checks_late_stay_in_rotation(balanced):
    stack, replicas = balanced

    async def enough_checks():
        return all(replica.checks >= CHECKS_SEEN for replica in replicas.values())

    await eventually(enough_checks, timeout=30, every=0.2)
    await asyncio.sleep(BUSY_SECONDS)  # the last check's answer arrives
    servers = await statuses(stack)
    assert {name: row["status"] for name, row in servers.items()} == dict.fromkeys(servers, "UP"), (
        {name: (row["status"], row.get("check_status"), row.get("check_duration"))
         for name, row in servers.items()})
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{stack.url('rasa')}/webhooks/rest/webhook",
                                     json={"sender": "s", "message": "dzień dobry"})
    assert response.status_code == 200, response.text


async def test_a_dead_replica_is_still_taken_out_within_seconds(balanced):
    stack, replicas = balanced

    async def rasa_checked_up():
        servers = await statuses(stack)
        return all(servers[f"rasa/{name}"]["status"] == "UP"
                   and servers[f"rasa/{name}"]["check_status"] == "L7OK"
                   for name in stack.replicas("rasa"))

    await eventually(rasa_checked_up, timeout=15, every=0.2)
    await replicas["rasa1"].http.stop()  # connections to it are refused from now on
    stopped = time.monotonic()

    async def rasa1_down():
        status = (await statuses(stack))["rasa/rasa1"]["status"]
        return status if status.startswith("DOWN") else None

    # fall 2 x inter 1 s, plus slack for a loaded machine: the longer check timeout only
    # applies to a check whose connection was accepted.
    await eventually(rasa1_down, timeout=8, every=0.2)
    assert time.monotonic() - stopped < 8
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(4):  # round robin would pick rasa1 for half of them
            response = await client.post(f"{stack.url('rasa')}/webhooks/rest/webhook",
                                         json={"sender": "s", "message": "dzień dobry"})
            assert response.status_code == 200, response.text
    assert (await statuses(stack))["rasa/rasa2"]["status"] == "UP"
