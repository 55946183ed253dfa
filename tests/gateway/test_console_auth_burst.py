"""Advisers' sign-in under a burst: the lockout (5 failures in 15 minutes) and the per-address
limit (20 a minute) hold when 50 requests arrive at once, because every attempt is counted
before argon2 runs. The real argon2 hasher is wrapped only to count (and hold) its checks.
Runs on SQLite, and on PostgreSQL with TEST_DATABASE_URL."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.gateway.conftest import serving_gateway
from tests.support.clock import FakeClock
from tests.support.console import ANNA, LOCKED, PASSWORD, add_agent

BURST = 50


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def gateway(stub_rasa, make_settings, database_url, clock, monkeypatch):
    # Behind a trusted proxy: each request may come from its own client address, so the
    # per-address limit does not hide the lockout.
    monkeypatch.setenv("SANIC_PROXIES_COUNT", "1")
    async with serving_gateway(make_settings(stub_rasa.url), clock=clock) as (url, app):
        await add_agent(database_url, *ANNA)
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=60,
                                     limits=httpx.Limits(max_connections=BURST + 5)) as http:
            yield app, http


class CountingHasher:
    """Wraps the console's real argon2 ``verify``: counts the checks; wrong passwords wait
    for ``release`` (so the burst is still in flight when the right password comes)."""

    def __init__(self, passwords, hold_wrong: bool) -> None:
        self.real = passwords.verify
        self.checks: list[bool] = []
        self.started = asyncio.Condition()
        self.release = asyncio.Event()
        self.hold_wrong = hold_wrong
        passwords.verify = self.verify

    async def verify(self, stored_hash, password) -> bool:
        async with self.started:
            self.checks.append(password == PASSWORD)
            self.started.notify_all()
        if self.hold_wrong and password != PASSWORD:
            await self.release.wait()
        return await self.real(stored_hash, password)

    async def wait_for_checks(self, count: int) -> None:
        async with self.started:
            await asyncio.wait_for(self.started.wait_for(lambda: len(self.checks) >= count), 20)


def sign_in(http, password: str, address: str, email: str = ANNA[0]):
    return http.post("/agent/login", data={"email": email, "password": password},
                     headers={"X-Forwarded-For": address})


def alert(response: httpx.Response) -> str:
    return re.search(r'id="login-error">([^<]*)<', response.text).group(1)


async def test_a_burst_gets_five_password_checks_and_the_right_password_is_then_refused(
    gateway, clock
):
    app, http = gateway
    hasher = CountingHasher(app.ctx.console.auth.passwords, hold_wrong=True)
    wrong = [
        asyncio.create_task(sign_in(http, f"zgadywane-haslo-{n}", f"198.51.100.{n + 1}"))
        for n in range(BURST - 1)
    ]
    await hasher.wait_for_checks(5)

    right = await sign_in(http, PASSWORD, "203.0.113.9")  # while the burst is in flight

    hasher.release.set()
    answers = await asyncio.gather(*wrong)
    assert right.status_code == 429 and alert(right) == LOCKED
    assert "pomocnik_agent" not in right.headers.get("set-cookie", "")
    assert len(hasher.checks) <= 5, hasher.checks
    assert True not in hasher.checks  # the right password never reached argon2
    assert all(a.status_code in (401, 429) for a in answers)
    assert sum(a.status_code == 429 for a in answers) >= BURST - 1 - 5
    # The lock lasts 15 minutes; then the adviser signs in.
    clock.advance(minutes=15, seconds=1)
    assert (await sign_in(http, PASSWORD, "203.0.113.9")).status_code == 303


async def test_fifty_at_once_from_one_address_get_twenty_password_checks(gateway):
    app, http = gateway
    hasher = CountingHasher(app.ctx.console.auth.passwords, hold_wrong=False)

    answers = await asyncio.gather(*(
        sign_in(http, "zgadywane-haslo", "198.51.100.7", email=f"ktos{n}@ingksiegowosc.pl")
        for n in range(BURST)
    ))

    assert len(hasher.checks) == 20
    assert sorted(a.status_code for a in answers) == [401] * 20 + [429] * 30
