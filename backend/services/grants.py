"""Verification grants: short-lived proof that the chat user controls an account's mailbox.

The action server passes a grant with every sensitive call; the backend authorises the call from
the grant's account and its organisation membership, never from anything the chat client says.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.errors import VerificationRequired
from backend.models import Account, AccountState, VerificationGrant
from backend.security.tokens import digest, new_token
from backend.services.clock import Clock

GRANT_TTL = timedelta(minutes=15)


async def issue(session: AsyncSession, account: Account, clock: Clock) -> tuple[str, VerificationGrant]:
    raw = new_token()
    now = clock()
    grant = VerificationGrant(
        account_id=account.id, grant_hash=digest(raw), created_at=now, expires_at=now + GRANT_TTL
    )
    session.add(grant)
    await session.flush()
    return raw, grant


async def account_for(session: AsyncSession, raw: str, clock: Clock) -> Account:
    """The active account behind a live grant, or VerificationRequired."""
    if not raw:
        raise VerificationRequired()
    account = await session.scalar(
        select(Account)
        .join(VerificationGrant, VerificationGrant.account_id == Account.id)
        .where(VerificationGrant.grant_hash == digest(raw), VerificationGrant.expires_at > clock())
    )
    if account is None or account.state == AccountState.LOCKED:
        raise VerificationRequired()
    return account
