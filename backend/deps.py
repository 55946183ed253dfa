"""What every service needs, built once per process and kept on ``app.ctx.deps``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.security.hashing import SecretHasher
from backend.services.clock import Clock
from backend.settings import Settings


@dataclass(frozen=True)
class Deps:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    hasher: SecretHasher
    clock: Clock
    # Call after committing a transaction that queued e-mail, so it goes out at once.
    mail_queued: Callable[[], None]

    def link(self, path: str, token: str) -> str:
        """An absolute link for an e-mail, with the one-time token in the query string."""
        return f"{self.settings.public_url}{path}?{urlencode({'token': token})}"
