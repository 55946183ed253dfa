"""Website login sessions: ``POST /auth/login`` starts one; the assistant may exchange it for a
verification grant, so a logged-in user of the website need not prove the mailbox with a code.

- The token is 256 bits of randomness; only its SHA-256 is stored (``login_sessions.token_hash``).
- A session lives ``LOGIN_SESSION_TTL`` (8 hours) unless it is revoked by logout or a password reset.
- Verifying never says why a token is refused (unknown, expired, revoked, locked account): one
  ``session_invalid`` for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from backend.deps import Deps
from backend.errors import SessionInvalid
from backend.models import Account, AccountState, LoginSession
from backend.repositories import accounts
from backend.repositories import login_sessions as session_queries
from backend.repositories import company as company_queries
from backend.security.tokens import digest, new_token
from backend.services import audit, grants
from backend.services.clock import Clock

LOGIN_SESSION_TTL = timedelta(hours=8)


async def issue(session: AsyncSession, account: Account, clock: Clock) -> tuple[str, LoginSession]:
    """Start a login session in the caller's transaction; the raw token is returned once."""
    raw = new_token()
    now = clock()
    login_session = LoginSession(
        account_id=account.id,
        token_hash=digest(raw),
        created_at=now,
        expires_at=now + LOGIN_SESSION_TTL,
    )
    session.add(login_session)
    await session.flush()
    return raw, login_session


@dataclass(frozen=True)
class SessionAccount:
    id: int
    email: str
    name: str | None  # None: the account has no name (invited without one)
    # The account's first company (oldest membership) and its role there; None without one.
    organisation: str | None
    role: str | None


@dataclass(frozen=True)
class SessionVerified:
    account: SessionAccount
    grant: str
    grant_expires_at: datetime


class LoginSessionService:
    def __init__(self, deps: Deps) -> None:
        self._sessions = deps.sessions
        self._clock = deps.clock

    async def verify(self, raw_token: str) -> SessionVerified:
        """The account behind a live session, with a fresh verification grant for it."""
        async with self._sessions.begin() as session:
            login = await session_queries.get_live(session, digest(raw_token), self._clock())
            account = await accounts.get(session, login.account_id) if login else None
            if account is None or account.state != AccountState.ACTIVE:
                raise SessionInvalid()
            memberships = await company_queries.memberships_of(session, account.id)
            first = memberships[0] if memberships else None
            raw_grant, grant = await grants.issue(session, account, self._clock)
            audit.record(
                session, self._clock, actor="assistant", action="login_session_verified",
                account_id=account.id, login_session_id=login.id,
            )
            return SessionVerified(
                account=SessionAccount(
                    id=account.id,
                    email=account.email,
                    name=account.name,
                    organisation=first.organisation.name if first else None,
                    role=first.role.value if first else None,
                ),
                grant=raw_grant,
                grant_expires_at=grant.expires_at,
            )

    async def logout(self, raw_token: str) -> None:
        """Revoke the session if it is live; the caller learns nothing either way."""
        async with self._sessions.begin() as session:
            account_id = await session_queries.revoke(session, digest(raw_token), self._clock())
            if account_id is not None:
                audit.record(
                    session, self._clock, actor=f"account:{account_id}", action="logout",
                    account_id=account_id,
                )
