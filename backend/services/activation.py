"""Activation of the Comarch Cloud login: resending the link e-mail (issued by
``services/activation_links.py``) and the first password.

- An activation link (TokenPurpose.ACTIVATION) is valid for 48 hours: the guide sends people from
  the registration form to their mailbox, often the next day; the link only ever goes to the
  account's own address and is single-use, so a longer life costs little.
- Each new link cancels the previous one. Resend requests are limited per requester (see
  ``services/rate_limit.py``): 3 per hour for one address from one client network, 5 per hour per
  conversation, 20 per hour per network; and any address's mailbox gets at most 10 links per hour,
  whoever asks (resends and registrations of an existing account together; a new account's first
  link is always sent, since it takes ID, PIN and NIP). The requester limits are counted before the
  account is looked up, for unknown addresses too, so a refusal (429) says nothing about the
  account; and one stranger (one network, one conversation) cannot use up the mailbox cap.
- The activation page also accepts invitation links (TokenPurpose.INVITATION, sent by "add user"):
  both end the same way, with a password set, the account active and the cloud login activated.
- An account invited without a name (the guide's "add user" form asks only for the e-mail and the
  role) gets it here: ``activate`` then requires the person's "Imię i nazwisko"
  (``backend/people.py``) and stores it with the password; an account with a name is not asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.deps import Deps
from backend.errors import DomainError, InvalidToken, PasswordPolicyViolation, RateLimited
from backend.mail.registration_emails import ActivationVariant
from backend.models import AccountState, Token, TokenPurpose
from backend.people import NAME_RULES, check_person_name
from backend.repositories import accounts
from backend.security.password_policy import check_password
from backend.services import audit, tokens
from backend.services.activation_links import (
    ACTIVATION_EMAILS,
    needs_activation,
    queue_activation_email,
)
from backend.services.auth import LOGIN_FAILURES
from backend.services.rate_limit import LimitReached, RateLimit, Requester, acquire

HOUR = timedelta(hours=1)
# Resend requests: one address from one network, one conversation, one network.
RESEND_PER_ADDRESS_AND_NETWORK = RateLimit("activation_resend_pair", limit=3, window=HOUR)
RESEND_PER_CONVERSATION = RateLimit("activation_resend_conversation", limit=5, window=HOUR)
RESEND_PER_NETWORK = RateLimit("activation_resend_network", limit=20, window=HOUR)
# Purposes the activation page accepts, in the order they are looked up.
PAGE_PURPOSES = (TokenPurpose.ACTIVATION, TokenPurpose.INVITATION)
# Longer strings cannot be our tokens; they are refused without a database query.
MAX_TOKEN_LENGTH = 200


class InvalidActivationLink(InvalidToken):
    message = (
        "Link aktywacyjny jest nieprawidłowy, wygasł albo został już użyty. "
        "Poproś o nowy link aktywacyjny."
    )


class InvalidPersonName(DomainError):
    """The name given when activating an account that has none is missing or not a name."""

    status = 422
    code = "invalid_name"
    message = NAME_RULES


@dataclass(frozen=True)
class ActivationTarget:
    """Whom an activation link is for, shown on the page (no secrets)."""

    email: str
    name: str | None
    purpose: TokenPurpose

    @property
    def needs_name(self) -> bool:
        """The account has no name yet: activating it asks for one."""
        return self.name is None


class ActivationResendLimited(RateLimited):
    code = "activation_resend_limited"
    template = (
        "Zamówiono już zbyt wiele linków aktywacyjnych w krótkim czasie. Spróbuj ponownie za "
        "{minutes} min i sprawdź najnowszą wiadomość „Aktywacja konta Comarch Cloud” (także w "
        "folderze ze spamem)."
    )


class ActivationService:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._sessions = deps.sessions
        self._clock = deps.clock

    async def resend(self, email: str, requester: Requester, *, actor: str) -> None:
        """Send a new link if the account waits for activation; the caller learns nothing.

        Raises ``ActivationResendLimited`` when a requester limit or the mailbox cap is reached,
        counted the same whether or not the account exists.
        """
        email = accounts.normalise_email(email)
        async with self._sessions.begin() as session:
            try:
                await acquire(
                    session, self._clock,
                    (RESEND_PER_ADDRESS_AND_NETWORK, f"{email}\n{requester.network}"),
                    (RESEND_PER_CONVERSATION, requester.conversation),
                    (RESEND_PER_NETWORK, requester.network),
                    (ACTIVATION_EMAILS, email),
                )
            except LimitReached as refused:
                raise ActivationResendLimited(refused.retry_after) from None
            account = await accounts.get_by_email(session, email)
            if account is None or not needs_activation(account):
                return
            await queue_activation_email(
                session, self._deps, account, ActivationVariant.RESEND, actor=actor
            )
        self._deps.mail_queued()

    async def target(self, raw_token: str) -> ActivationTarget:
        """Check a link without using it up (mail scanners open links too)."""
        async with self._sessions() as session:
            token = await self._peek(session, raw_token)
            account = await accounts.get(session, token.account_id)
            return ActivationTarget(email=account.email, name=account.name, purpose=token.purpose)

    async def activate(
        self, raw_token: str, password: str, confirmation: str, name: str | None = None
    ) -> ActivationTarget:
        """Set the first password. An account without a name needs ``name`` too (raises
        ``InvalidPersonName`` before anything is used up); for one with a name it is ignored."""
        async with self._sessions() as session:
            token = await self._peek(session, raw_token)
            purpose = token.purpose
            account = await accounts.get(session, token.account_id)
            email = account.email
            needs_name = account.name is None
        new_name = None
        if needs_name:
            try:
                new_name = check_person_name(name)
            except ValueError as problem:
                raise InvalidPersonName(
                    str(problem),
                    details=[{"field": "name", "code": "invalid_name", "message": str(problem)}],
                ) from None
        verdict = check_password(password, email, confirmation)
        if not verdict.ok:
            raise PasswordPolicyViolation(
                details=[{"rule": rule.value, "message": message}
                         for rule, message in zip(verdict.failed, verdict.messages)]
            )
        # Hash before the write transaction so the database lock is not held during argon2.
        password_hash = await self._deps.hasher.hash(password)
        async with self._sessions.begin() as session:
            try:
                account_id = await tokens.consume(session, raw_token, purpose, self._clock)
            except InvalidToken:
                raise InvalidActivationLink() from None
            account = await accounts.get(session, account_id)
            now = self._clock()
            if account.name is None:
                # The name checked above (an account that got a name meanwhile keeps that one).
                account.name = new_name
            account.password_hash = password_hash
            account.password_changed_at = now
            account.cloud_login_activated = True
            if account.state == AccountState.PENDING_ACTIVATION:
                account.state = AccountState.ACTIVE
            # Any other link of the account to this page (an activation link, or the invitation
            # when a link was asked for later) stops working with this one.
            await session.execute(
                update(Token)
                .where(
                    Token.account_id == account.id,
                    Token.purpose.in_(PAGE_PURPOSES),
                    Token.consumed_at.is_(None),
                )
                .values(consumed_at=now, consumed_reason="replaced")
            )
            await LOGIN_FAILURES.clear(session, account.email)
            audit.record(
                session, self._clock, actor=f"account:{account.id}", action="account_activated",
                account_id=account.id, via=purpose.value,
            )
            return ActivationTarget(email=account.email, name=account.name, purpose=purpose)

    async def _peek(self, session: AsyncSession, raw_token: str) -> Token:
        if not raw_token or len(raw_token) > MAX_TOKEN_LENGTH:
            raise InvalidActivationLink()
        for purpose in PAGE_PURPOSES:
            try:
                return await tokens.peek(session, raw_token, purpose, self._clock)
            except InvalidToken:
                continue
        raise InvalidActivationLink()
