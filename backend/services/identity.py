"""Chat identity verification: a 6-digit code e-mailed to the account, exchanged for a grant.

The `identity` area (``actions/identity.py`` on the Rasa side); the public URL paths say
``verification`` (``/api/v1/verification/codes``), and so do the grant (table
``verification_grants``, header ``X-Verification-Grant``) and the error codes.

- One live code per account (a new one cancels the old), valid 10 minutes, at most 5 wrong tries.
- A code is stored only as ``digest(salt + code)`` with a per-code random salt in
  ``Token.payload``: six digits are few, so equal codes of different accounts must not hash alike
  (``token_hash`` is unique). The code is never logged or audited.
- Wrong tries are counted by a conditional ``UPDATE … WHERE attempts < 5``, so concurrent guesses
  cannot exceed the limit; the 5th wrong try consumes the code ("exhausted").
- Code requests are limited per requester (the conversation and client network the calling service
  reports, ``rate_limit.Requester``): 5 per hour for one address from one network, 5 per hour per
  conversation, 20 per hour per network, and at most 20 per hour to one address whoever asks (the
  mailbox cap). One stranger (one network, one conversation) can therefore use up only their own
  buckets, never the owner's. Every request is counted before the account is looked up, for
  unknown addresses too, so a refusal (429 ``verification_codes_limited``) tells nothing about the
  account. Remaining risk: someone asking from 4+ networks and conversations can fill the mailbox
  cap for an hour (docs/backend.md).
- Nothing tells whether an address has an account: an accepted request is always answered the
  same, and checking a code for an address without an (active) account behaves like a real code the
  caller cannot guess — "wrong, N tries left" while a code could be live, then "expired".
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend import metrics
from backend.deps import Deps
from backend.errors import DomainError, RateLimited, ValidationFailed
from backend.mail import identity_emails
from backend.models import Account, AccountState, RateLimitHit, Token, TokenPurpose
from backend.repositories import accounts
from backend.security.tokens import digest, same_secret
from backend.services import audit, grants, outbox
from backend.services.rate_limit import (
    LimitReached,
    RateLimit,
    Requester,
    acquire,
    key_hash,
    serialise,
)

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
PURPOSE = TokenPurpose.CHAT_VERIFICATION
HOUR = timedelta(hours=1)
# Code requests: one address from one network, one conversation, one network, one mailbox.
CODES_PER_ADDRESS_AND_NETWORK = RateLimit("chat_code_pair", limit=5, window=HOUR)
CODES_PER_CONVERSATION = RateLimit("chat_code_conversation", limit=5, window=HOUR)
CODES_PER_NETWORK = RateLimit("chat_code_network", limit=20, window=HOUR)
CODES_PER_MAILBOX = RateLimit("chat_code_mailbox", limit=20, window=HOUR)
# Wrong tries against an address without an account (the stand-in for Token.attempts).
DECOY_MISSES = RateLimit("chat_code_decoy_miss", limit=MAX_ATTEMPTS, window=CODE_TTL)

_SEPARATORS = re.compile(r"[\s-]")


class InvalidCode(DomainError):
    status = 400
    code = "invalid_code"

    def __init__(self, attempts_left: int) -> None:
        super().__init__(
            f"Kod jest nieprawidłowy. Sprawdź go w wiadomości e-mail i wpisz ponownie. "
            f"Pozostało prób: {attempts_left}.",
            details={"attempts_left": attempts_left},
        )


class CodeExpired(DomainError):
    status = 400
    code = "code_expired"
    message = (
        "Ten kod jest już nieważny: wygasł, został użyty albo wpisano go błędnie zbyt wiele razy. "
        "Poproś o nowy kod."
    )


class CodesLimited(RateLimited):
    code = "verification_codes_limited"
    template = (
        "Zamówiono już zbyt wiele kodów weryfikacyjnych w krótkim czasie. Nowy kod możesz "
        "zamówić za {minutes} min. Jeśli kod już dotarł, wpisz kod z najnowszej wiadomości."
    )


class CodeFormat(ValidationFailed):
    code = "invalid_code_format"
    message = "Kod weryfikacyjny składa się z 6 cyfr."


@dataclass(frozen=True)
class Verified:
    grant: str
    expires_at: datetime
    name: str | None  # None: the account has no name (invited without one)
    email: str


def _check_outcome(outcome: Verified | DomainError) -> str:
    if isinstance(outcome, Verified):
        return "accepted"
    return "wrong" if isinstance(outcome, InvalidCode) else "expired"


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _code_hash(salt: str, code: str) -> str:
    return digest(salt + code)


def normalise_code(code: str) -> str:
    """Accept what people paste ("123 456", "123-456"); anything but 6 digits is refused."""
    cleaned = _SEPARATORS.sub("", code)
    if not (cleaned.isascii() and cleaned.isdigit() and len(cleaned) == CODE_DIGITS):
        raise CodeFormat()
    return cleaned


class IdentityService:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._sessions = deps.sessions
        self._clock = deps.clock

    async def request_code(self, email: str, requester: Requester) -> None:
        """E-mail a fresh code if an active account has this address; the caller learns nothing.

        Raises ``CodesLimited`` when one of the limits is reached (for any address alike).
        """
        try:
            sent = await self._issue_code(accounts.normalise_email(email), requester)
        except CodesLimited:
            metrics.VERIFICATION_CODES.labels("refused").inc()
            raise
        metrics.VERIFICATION_CODES.labels("sent" if sent else "no_account").inc()
        if sent:
            self._deps.mail_queued()

    async def _issue_code(self, email: str, requester: Requester) -> bool:
        async with self._sessions.begin() as session:
            try:
                await acquire(
                    session, self._clock,
                    (CODES_PER_ADDRESS_AND_NETWORK, f"{email}\n{requester.network}"),
                    (CODES_PER_CONVERSATION, requester.conversation),
                    (CODES_PER_NETWORK, requester.network),
                    (CODES_PER_MAILBOX, email),
                )
            except LimitReached as refused:
                raise CodesLimited(refused.retry_after) from None
            # The row lock queues concurrent requests for one account, so each cancels the code
            # of the one before it instead of colliding on the one-live-code index.
            account = await session.scalar(
                select(Account)
                .where(Account.email == accounts.normalise_email(email))
                .with_for_update()
            )
            if account is None or account.state != AccountState.ACTIVE:
                return False
            now = self._clock()
            await session.execute(
                update(Token)
                .where(
                    Token.account_id == account.id,
                    Token.purpose == PURPOSE,
                    Token.consumed_at.is_(None),
                )
                .values(consumed_at=now, consumed_reason="replaced")
            )
            code, salt = _new_code(), secrets.token_hex(16)
            session.add(
                Token(
                    account_id=account.id,
                    purpose=PURPOSE,
                    token_hash=_code_hash(salt, code),
                    created_at=now,
                    expires_at=now + CODE_TTL,
                    attempts=0,
                    payload={"salt": salt},
                )
            )
            await session.flush()
            outbox.queue(
                session,
                identity_emails.verification_code(
                    to_address=account.email,
                    name=account.name,
                    code=code,
                    ttl_minutes=int(CODE_TTL.total_seconds() // 60),
                ),
                self._clock,
            )
            audit.record(
                session, self._clock, actor="assistant", action="chat_verification_code_sent",
                account_id=account.id,
            )
            return True

    async def check_code(self, email: str, code: str) -> Verified:
        try:
            code = normalise_code(code)
        except CodeFormat:
            metrics.VERIFICATION_CHECKS.labels("malformed").inc()
            raise
        # Decide inside the transaction, raise after it: a wrong try must be committed.
        async with self._sessions.begin() as session:
            outcome = await self._check(session, email, code)
        metrics.VERIFICATION_CHECKS.labels(_check_outcome(outcome)).inc()
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    async def _check(self, session: AsyncSession, email: str, code: str) -> Verified | DomainError:
        now = self._clock()
        account = await accounts.get_by_email(session, email)
        if account is None or account.state != AccountState.ACTIVE:
            return await self._decoy_miss(session, email, now)
        token = await session.scalar(
            select(Token).where(
                Token.account_id == account.id,
                Token.purpose == PURPOSE,
                Token.consumed_at.is_(None),
                Token.expires_at > now,
                Token.attempts < MAX_ATTEMPTS,
            )
        )
        if token is None:
            return CodeExpired()
        live = (
            Token.id == token.id,
            Token.consumed_at.is_(None),
            Token.expires_at > now,
            Token.attempts < MAX_ATTEMPTS,
        )
        if same_secret(_code_hash(token.payload.get("salt", ""), code), token.token_hash):
            used = await session.execute(
                update(Token).where(*live)
                .values(consumed_at=now, consumed_reason="used")
                .returning(Token.id)
            )
            if used.scalar_one_or_none() is None:  # a concurrent try used or exhausted it
                return CodeExpired()
            raw, grant = await grants.issue(session, account, self._clock)
            audit.record(
                session, self._clock, actor="assistant", action="chat_verification_succeeded",
                account_id=account.id,
            )
            return Verified(grant=raw, expires_at=grant.expires_at, name=account.name,
                            email=account.email)
        counted = await session.execute(
            update(Token).where(*live)
            .values(attempts=Token.attempts + 1)
            .returning(Token.attempts)
        )
        attempts = counted.scalar_one_or_none()
        if attempts is None:
            return CodeExpired()
        attempts_left = MAX_ATTEMPTS - attempts
        if attempts_left == 0:
            await session.execute(
                update(Token).where(Token.id == token.id)
                .values(consumed_at=now, consumed_reason="exhausted")
            )
        action = "chat_verification_exhausted" if attempts_left == 0 else "chat_verification_failed"
        audit.record(
            session, self._clock, actor="assistant", action=action, account_id=account.id,
            attempts_left=attempts_left,
        )
        return InvalidCode(attempts_left) if attempts_left else CodeExpired()

    async def _decoy_miss(self, session: AsyncSession, email: str, now: datetime) -> DomainError:
        """Answer for an address without an account as if a code had been sent to it."""
        hashed = key_hash(email)
        # Serialised like a limit, so concurrent wrong tries cannot exceed MAX_ATTEMPTS.
        await serialise(session, [(DECOY_MISSES, email)])
        last_request = await session.scalar(
            select(func.max(RateLimitHit.created_at)).where(
                RateLimitHit.scope == CODES_PER_MAILBOX.scope, RateLimitHit.key_hash == hashed
            )
        )
        if last_request is None or last_request <= now - CODE_TTL:
            return CodeExpired()
        misses = await session.scalar(
            select(func.count(RateLimitHit.id)).where(
                RateLimitHit.scope == DECOY_MISSES.scope,
                RateLimitHit.key_hash == hashed,
                RateLimitHit.created_at >= last_request,
            )
        ) or 0
        if misses >= MAX_ATTEMPTS:
            return CodeExpired()
        session.add(RateLimitHit(scope=DECOY_MISSES.scope, key_hash=hashed, created_at=now))
        attempts_left = MAX_ATTEMPTS - misses - 1
        return InvalidCode(attempts_left) if attempts_left else CodeExpired()
