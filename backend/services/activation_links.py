"""Activation links: issuing one to an account's own mailbox, within the mailbox's hourly cap.

Shared by the activation service (resend), the registration (a new or existing account) and the
password reset (an account not activated yet has no password to reset: it gets its activation
link). Builds on no other service, so each of them can use it without an import cycle; the rules
of the links themselves are in ``services/activation.py``'s docstring.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from backend.deps import Deps
from backend.mail import registration_emails
from backend.mail.registration_emails import ActivationVariant
from backend.models import Account, AccountState, TokenPurpose
from backend.services import audit, outbox, tokens
from backend.services.rate_limit import LimitReached, RateLimit

ACTIVATION_TTL = timedelta(hours=48)
# Links to one mailbox per hour, whoever asked (resend, registration or reset).
ACTIVATION_EMAILS = RateLimit("activation_email", limit=10, window=timedelta(hours=1))


def needs_activation(account: Account) -> bool:
    """Whether the account still has to set its Comarch Cloud password (locked ones never)."""
    if account.state == AccountState.LOCKED:
        return False
    return account.state == AccountState.PENDING_ACTIVATION or not account.cloud_login_activated


async def may_send_activation(session: AsyncSession, deps: Deps, account: Account) -> bool:
    """Count one link to the account's mailbox, unless the hour's cap is used up (atomic)."""
    try:
        await ACTIVATION_EMAILS.acquire(session, account.email, deps.clock)
    except LimitReached:
        return False
    return True


async def queue_activation_email(
    session: AsyncSession,
    deps: Deps,
    account: Account,
    variant: ActivationVariant,
    *,
    actor: str,
    comarch_id: str | None = None,
    package_name: str | None = None,
) -> None:
    """Issue a new activation link (a `Token` row; the previous one is cancelled) and queue its
    e-mail.

    Runs in the caller's transaction; the caller calls ``deps.mail_queued()`` after commit.
    """
    raw = await tokens.issue(session, account, TokenPurpose.ACTIVATION, ACTIVATION_TTL, deps.clock)
    outbox.queue(
        session,
        registration_emails.activation(
            to_address=account.email,
            name=account.name,
            variant=variant,
            link=deps.link("/activate", raw),
            ttl_hours=int(ACTIVATION_TTL.total_seconds() // 3600),
            comarch_id=comarch_id,
            package_name=package_name,
        ),
        deps.clock,
    )
    audit.record(
        session, deps.clock, actor=actor, action="activation_link_sent", account_id=account.id,
        variant=variant.value,
    )
