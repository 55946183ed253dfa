"""Expired rate-limit hits are deleted by the running backend on a schedule
(BACKEND_RATE_LIMIT_PURGE_SECONDS), so the table holds only what some window can still count;
hits inside the longest window stay and still count."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.models import RateLimitHit
from backend.services import rate_limit
from backend.services.auth import RESET_EMAILS
from backend.settings import Settings, SettingsError
from tests.support.waiting import eventually


@pytest.fixture
def settings(settings):
    return replace(settings, rate_limit_purge_seconds=0.2)


async def test_the_backend_purges_expired_hits_and_keeps_countable_ones(backend, clock):
    longest = rate_limit.longest_window()
    assert longest >= RESET_EMAILS.window
    now = clock()
    rows = {
        "expired": now - longest - timedelta(minutes=1),
        "long_ago": now - timedelta(days=30),
        "inside": now - longest + timedelta(minutes=1),
        "fresh": now,
    }
    async with backend.app.ctx.sessions() as session, session.begin():
        session.add_all(
            RateLimitHit(scope="password_reset_email", key_hash=name, created_at=created)
            for name, created in rows.items()
        )

    async def kept() -> set[str] | None:
        async with backend.app.ctx.sessions() as session:
            names = set(await session.scalars(select(RateLimitHit.key_hash)))
        return names if names <= {"inside", "fresh"} else None

    assert await eventually(kept, timeout=30) == {"inside", "fresh"}

    # once the clock moves past the window, the next rounds take the rest
    clock.advance(seconds=longest.total_seconds() + 60)

    async def empty() -> bool:
        async with backend.app.ctx.sessions() as session:
            return not list(await session.scalars(select(RateLimitHit.id)))

    assert await eventually(empty, timeout=30)


def test_the_purge_interval_is_configurable_and_checked(monkeypatch):
    monkeypatch.setenv("BACKEND_RATE_LIMIT_PURGE_SECONDS", "30")
    assert Settings.from_env().rate_limit_purge_seconds == 30.0
    for bad in ("0", "-5", "often"):
        monkeypatch.setenv("BACKEND_RATE_LIMIT_PURGE_SECONDS", bad)
        with pytest.raises(SettingsError, match="BACKEND_RATE_LIMIT_PURGE_SECONDS"):
            Settings.from_env()
