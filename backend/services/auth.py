"""Password reset and login: the operations own their transactions and raise domain errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from backend import metrics
from backend.deps import Deps
from backend.errors import InvalidCredentials, PasswordPolicyViolation, RateLimited
from backend.mail import builders
from backend.mail.registration_emails import ActivationVariant
from backend.models import Account, AccountState, TokenPurpose
from backend.repositories import accounts
from backend.repositories import login_sessions as session_queries
from backend.security.password_policy import check_password
from backend.services import audit, login_sessions, outbox, tokens
from backend.services.activation_links import may_send_activation, queue_activation_email
from backend.services.rate_limit import LimitReached, RateLimit

# Reset e-mails per account per hour; past it the request is answered the same and nothing is sent.
RESET_EMAILS = RateLimit("password_reset_email", limit=5, window=timedelta(hours=1))
# Login attempts per address in 15 minutes, counted before the password is checked; a successful
# login clears them, so the limit only ever stops failures.
LOGIN_FAILURES = RateLimit("login_failure", limit=5, window=timedelta(minutes=15))
LOGIN_LOCKED_TEMPLATE = (
    "Zbyt wiele nieudanych prób logowania. Spróbuj ponownie za {minutes} min "
    "albo ustaw nowe hasło przez „Nie pamiętam hasła”."
)


@dataclass(frozen=True)
class ResetLinkTarget:
    """Who the reset form is for, shown on the page (no secrets)."""

    email: str


@dataclass(frozen=True)
class LoggedIn:
    """A successful website login: the account and its new session (raw token shown once)."""

    account: Account
    session_token: str
    session_expires_at: datetime


class AuthService:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._sessions = deps.sessions
        self._hasher = deps.hasher
        self._clock = deps.clock
        self._reset_ttl = timedelta(minutes=deps.settings.reset_token_ttl_minutes)

    async def request_password_reset(self, email: str, *, actor: str) -> None:
        """Send a reset link if the account exists; the caller learns nothing either way.

        An account not activated yet has no password to reset: it gets its activation link
        instead, because activating is what sets the first password - and asks an invited
        person for the name the account lacks, which a reset would skip."""
        async with self._sessions.begin() as session:
            account = await accounts.get_by_email(session, email)
            if account is None:
                return
            try:
                await RESET_EMAILS.acquire(session, account.email, self._clock)
            except LimitReached:
                return  # the same answer; nothing is sent
            if account.state == AccountState.PENDING_ACTIVATION:
                if not await may_send_activation(session, self._deps, account):
                    return
                await queue_activation_email(
                    session, self._deps, account, ActivationVariant.PASSWORD_NOT_SET,
                    actor=actor,
                )
            else:
                raw = await tokens.issue(
                    session, account, TokenPurpose.PASSWORD_RESET, self._reset_ttl, self._clock
                )
                outbox.queue(
                    session,
                    builders.password_reset(
                        to_address=account.email,
                        name=account.name,
                        link=self._deps.link("/reset-password", raw),
                        ttl_minutes=int(self._reset_ttl.total_seconds() // 60),
                    ),
                    self._clock,
                )
                audit.record(
                    session, self._clock, actor=actor, action="password_reset_requested",
                    account_id=account.id,
                )
        self._deps.mail_queued()

    async def reset_target(self, raw_token: str) -> ResetLinkTarget:
        """Check a link without using it up (mail scanners open links too)."""
        async with self._sessions() as session:
            token = await tokens.peek(session, raw_token, TokenPurpose.PASSWORD_RESET, self._clock)
            account = await accounts.get(session, token.account_id)
            return ResetLinkTarget(email=account.email)

    async def reset_password(self, raw_token: str, password: str, confirmation: str) -> None:
        async with self._sessions() as session:
            token = await tokens.peek(session, raw_token, TokenPurpose.PASSWORD_RESET, self._clock)
            account = await accounts.get(session, token.account_id)
            email = account.email
        verdict = check_password(password, email, confirmation)
        if not verdict.ok:
            raise PasswordPolicyViolation(
                details=[{"rule": rule.value, "message": msg}
                         for rule, msg in zip(verdict.failed, verdict.messages)]
            )
        # Hash before the write transaction so the database lock is not held during argon2.
        password_hash = await self._hasher.hash(password)
        async with self._sessions.begin() as session:
            account_id = await tokens.consume(
                session, raw_token, TokenPurpose.PASSWORD_RESET, self._clock
            )
            account = await accounts.get(session, account_id)
            account.password_hash = password_hash
            account.password_changed_at = self._clock()
            if account.state == AccountState.PENDING_ACTIVATION:
                account.state = AccountState.ACTIVE
            await LOGIN_FAILURES.clear(session, account.email)
            # Whoever knew the old password may hold a website session: it ends here.
            await session_queries.revoke_all(session, account.id, self._clock())
            outbox.queue(
                session,
                builders.password_changed(to_address=account.email, name=account.name),
                self._clock,
            )
            audit.record(
                session, self._clock, actor=f"account:{account.id}", action="password_reset",
                account_id=account.id,
            )
        self._deps.mail_queued()

    async def login(self, email: str, password: str) -> Account:
        # The attempt is counted (committed) before argon2 runs, so parallel guesses cannot slip
        # past the limit while the hashes are checked; a success forgets the address's failures.
        async with self._sessions.begin() as session:
            try:
                attempt = await LOGIN_FAILURES.acquire(session, email, self._clock)
            except LimitReached as refused:
                raise RateLimited(refused.retry_after, LOGIN_LOCKED_TEMPLATE) from None
            account = await accounts.get_by_email(session, email)
        # Unknown accounts are verified against a dummy hash so both answers take as long.
        valid = await self._hasher.verify(account.password_hash if account else None, password)
        if not valid or account is None or account.state != AccountState.ACTIVE:
            if attempt.hits[0] >= LOGIN_FAILURES.limit:  # the last try failed: locked from now
                metrics.LOCKOUTS.labels("login").inc()
            raise InvalidCredentials()  # the attempt stays counted as a failure
        # Hash before the write transaction so the database lock is not held during argon2.
        rehashed = (
            await self._hasher.hash(password)
            if self._hasher.needs_rehash(account.password_hash) else None
        )
        async with self._sessions.begin() as session:
            await LOGIN_FAILURES.clear(session, email)
            if rehashed is not None:
                stored = await accounts.get(session, account.id)
                stored.password_hash = rehashed
        return account

    async def login_with_session(self, email: str, password: str) -> LoggedIn:
        """The website login: check the credentials like ``login``, then start a login session."""
        account = await self.login(email, password)
        async with self._sessions.begin() as session:
            raw, login_session = await login_sessions.issue(session, account, self._clock)
        return LoggedIn(
            account=account, session_token=raw, session_expires_at=login_session.expires_at
        )
