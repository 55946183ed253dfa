"""Advisers' sign-in and sessions.

- Passwords: argon2id (19 MiB, t=2, p=1, like the backend), hashed and verified in a worker
  thread. An unknown or disabled address is verified against a dummy hash, so every answer
  takes as long and says the same ("Nieprawidłowy e-mail lub hasło.").
- Lockout: 5 failures lock the address for 15 minutes (``lockout``), counted for unknown
  addresses too; each client address may try 20 times a minute (the gateway's limiter). Both
  are counted before argon2 runs, each in one atomic step (the attempt is recorded as a
  failure with its count, a success clears it), so 50 simultaneous sign-ins get at most five
  password checks per adviser address, and a right password arriving once the address is
  locked is refused.
- Sessions: a 256-bit random token in the ``pomocnik_agent`` cookie (HttpOnly,
  SameSite=Strict, Path=/agent, Secure outside development); the database keeps only its
  SHA-256, so any gateway process can check it. Each sign-in starts a new session (and ends
  the one the browser brought), sign-out revokes it.
- CSRF: a synchroniser token per session, sent back in ``X-CSRF-Token`` by the console's
  JavaScript and in a hidden ``csrf_token`` field by its forms.

Passwords are never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sanic.response import BaseHTTPResponse
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway import metrics
from bot.gateway.console import lockout
from bot.gateway.console.texts import text_of
from bot.gateway.desk import AgentRef
from bot.gateway.errors import seconds_pl
from bot.gateway.limits import Limit, RateLimiter
from bot.gateway.models import Agent, AgentSession

logger = logging.getLogger("pomocnik.gateway")

COOKIE = "pomocnik_agent"
COOKIE_PATH = "/agent"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
MIN_PASSWORD_LENGTH = 12
# Longer inputs are refused before argon2 sees them (hashing megabytes would be a DoS).
MAX_PASSWORD_LENGTH = 1024
MAX_EMAIL_LENGTH = 320
MAX_TOKEN_LENGTH = 128
LOGINS_PER_ADDRESS = Limit("agent_login_address", 20)
# Sign-ins refused because the address is locked, as counted in the metrics.
LOCKED_SCOPE = metrics.refusal_scope("agent_login_locked")
# A new session is not "at the desk" until its desk page sends the first heartbeat.
NEVER_SEEN = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Passwords:
    """argon2id with OWASP's minimum cost; the work runs in a worker thread."""

    def __init__(self, memory_kib: int = 19456, time_cost: int = 2) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID
        )
        self._dummy_hash = self._hasher.hash("timing-equaliser")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """``stored_hash=None`` (no such adviser) verifies a dummy hash: same cost, False."""
        valid = await asyncio.to_thread(self._verify, stored_hash or self._dummy_hash, password)
        return valid and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False


class LoginRefused(Exception):
    """Sign-in refused; ``code`` is in ``texts.TEXTS``, ``wait`` fills in its ``{wait}``."""

    def __init__(self, status: int, code: str, retry_after: int | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.retry_after = retry_after

    def message(self) -> str:
        text = text_of(self.code)
        return text.format(wait=seconds_pl(self.retry_after)) if self.retry_after else text


@dataclass(frozen=True)
class SignedIn:
    """The adviser behind a valid session cookie."""

    session_id: int
    agent: AgentRef
    email: str
    csrf_token: str
    expires_at: datetime
    editor: bool  # may label the NLU inbox

    def csrf_ok(self, supplied: object) -> bool:
        return isinstance(supplied, str) and hmac.compare_digest(
            supplied.encode("utf-8"), self.csrf_token.encode("utf-8")
        )


@dataclass(frozen=True)
class Issued:
    token: str  # the raw cookie value; never stored
    signed_in: SignedIn


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def normalise_email(raw: str) -> str:
    return raw.strip().lower()


@dataclass
class ConsoleAuth:
    sessions: async_sessionmaker[AsyncSession]
    limiter: RateLimiter
    clock: Callable[[], datetime]
    session_hours: int
    passwords: Passwords

    async def login(
        self, email: object, password: object, address: str, previous_token: str | None = None
    ) -> Issued:
        """Check the credentials and start a new session; raises ``LoginRefused``."""
        if not (_plausible(email, MAX_EMAIL_LENGTH) and _plausible(password, MAX_PASSWORD_LENGTH)):
            raise LoginRefused(401, "agent_login_failed")
        exceeded = await self.limiter.hit([(LOGINS_PER_ADDRESS, address)])
        if exceeded is not None:
            raise LoginRefused(429, "agent_login_throttled", exceeded.retry_after_seconds)
        email = normalise_email(email)
        now = self.clock()
        async with self.sessions.begin() as session:
            # Counted (as a failure until it succeeds) in the same transaction as the check.
            if await self._agent_locked(session, email, now) or (
                await lockout.begin_attempt(session, email, now) is not None
            ):
                metrics.refused(LOCKED_SCOPE)
                raise LoginRefused(429, "agent_locked")
            agent = await session.scalar(select(Agent).where(Agent.email == email))
        usable = agent is not None and agent.disabled_at is None
        # Outside any transaction: no database lock is held while argon2 runs.
        valid = await self.passwords.verify(agent.password_hash if usable else None, password)
        if not valid:
            raise await self._failed(email)
        issued = await self._start_session(agent, password, previous_token)
        logger.info("agent signed in agent=%s", agent.id)
        return issued

    async def authenticate(self, raw_token: str | None) -> SignedIn | None:
        """The adviser of a session cookie, if the session is live and the adviser active."""
        if not raw_token or len(raw_token) > MAX_TOKEN_LENGTH:
            return None
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(AgentSession, Agent)
                    .join(Agent, Agent.id == AgentSession.agent_id)
                    .where(
                        AgentSession.token_hash == token_hash(raw_token),
                        AgentSession.revoked_at.is_(None),
                        AgentSession.expires_at > self.clock(),
                        Agent.disabled_at.is_(None),
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        agent_session, agent = row
        return SignedIn(
            session_id=agent_session.id,
            agent=AgentRef(agent.id, agent.display_name),
            email=agent.email,
            csrf_token=agent_session.csrf_token,
            expires_at=agent_session.expires_at,
            editor=agent.editor,
        )

    async def logout(self, raw_token: str | None) -> None:
        if not raw_token or len(raw_token) > MAX_TOKEN_LENGTH:
            return
        async with self.sessions.begin() as session:
            await session.execute(
                update(AgentSession)
                .where(AgentSession.token_hash == token_hash(raw_token),
                       AgentSession.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )

    async def heartbeat(self, signed_in: SignedIn) -> None:
        """The desk page is open: the adviser counts as available (``Desk.agents_available``)."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(AgentSession)
                .where(AgentSession.id == signed_in.session_id)
                .values(last_seen_at=self.clock())
            )

    @staticmethod
    async def _agent_locked(session: AsyncSession, email: str, now: datetime) -> bool:
        agent_lock = await session.scalar(select(Agent.locked_until).where(Agent.email == email))
        return agent_lock is not None and agent_lock > now

    async def _failed(self, email: str) -> LoginRefused:
        """The failure is already counted (``lockout.begin_attempt``): mirror it on the
        adviser's row and say what to answer — the lock message once the address is locked."""
        now = self.clock()
        async with self.sessions.begin() as session:
            failures = await lockout.failures(session, email, now)
            locked = failures >= lockout.MAX_FAILURES
            await session.execute(
                update(Agent)
                .where(Agent.email == email)
                .values(failed_logins=failures, locked_until=now + lockout.LOCK if locked else None)
            )
        if locked:
            metrics.AGENT_LOCKOUTS.inc()
            return LoginRefused(429, "agent_locked")
        return LoginRefused(401, "agent_login_failed")

    async def _start_session(
        self, agent: Agent, password: str, previous_token: str | None
    ) -> Issued:
        rehash = self.passwords.needs_rehash(agent.password_hash)
        new_hash = await self.passwords.hash(password) if rehash else None
        raw = secrets.token_urlsafe(32)  # 256 bits
        now = self.clock()
        async with self.sessions.begin() as session:
            await lockout.clear(session, agent.email)
            values = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
            if new_hash is not None:
                values["password_hash"] = new_hash
            await session.execute(update(Agent).where(Agent.id == agent.id).values(**values))
            if previous_token and len(previous_token) <= MAX_TOKEN_LENGTH:
                # No fixation: whatever session the browser brought ends here.
                await session.execute(
                    update(AgentSession)
                    .where(AgentSession.token_hash == token_hash(previous_token),
                           AgentSession.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
            row = AgentSession(
                agent_id=agent.id,
                token_hash=token_hash(raw),
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                expires_at=now + timedelta(hours=self.session_hours),
                last_seen_at=NEVER_SEEN,
            )
            session.add(row)
            await session.flush()
        signed_in = SignedIn(row.id, AgentRef(agent.id, agent.display_name), agent.email,
                             row.csrf_token, row.expires_at, agent.editor)
        return Issued(raw, signed_in)


def _plausible(value: object, max_length: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= max_length and bool(value.strip())


def set_session_cookie(response: BaseHTTPResponse, token: str, *, secure: bool, hours: int) -> None:
    response.add_cookie(
        COOKIE,
        token,
        path=COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="Strict",
        max_age=hours * 3600,
    )


def clear_session_cookie(response: BaseHTTPResponse, *, secure: bool) -> None:
    response.add_cookie(
        COOKIE, "", path=COOKIE_PATH, secure=secure, httponly=True, samesite="Strict", max_age=0
    )
