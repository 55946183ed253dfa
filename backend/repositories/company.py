"""Queries about organisation memberships (company users, the `company` area; table `memberships`)
and the tokens they touch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from backend.models import Membership, Role, Token, TokenPurpose, VerificationGrant
from backend.security.tokens import digest


async def memberships_of(session: AsyncSession, account_id: int) -> list[Membership]:
    """The caller's memberships with their organisations, oldest first."""
    result = await session.scalars(
        select(Membership)
        .options(joinedload(Membership.organisation))
        .where(Membership.account_id == account_id)
        .order_by(Membership.created_at, Membership.id)
    )
    return list(result)


async def members_of(session: AsyncSession, organisation_id: int) -> list[Membership]:
    """Everyone in an organisation: the owner first, then in the order they were added."""
    result = await session.scalars(
        select(Membership)
        .options(joinedload(Membership.account))
        .where(Membership.organisation_id == organisation_id)
        .order_by(
            case((Membership.role == Role.OWNER, 0), else_=1), Membership.created_at, Membership.id
        )
    )
    return list(result)


async def get_member(
    session: AsyncSession, organisation_id: int, membership_id: int
) -> Membership | None:
    """A membership of this organisation only: another organisation's id finds nothing."""
    return await session.scalar(
        select(Membership)
        .options(joinedload(Membership.account))
        .where(Membership.id == membership_id, Membership.organisation_id == organisation_id)
    )


async def find_membership(
    session: AsyncSession, organisation_id: int, account_id: int
) -> Membership | None:
    return await session.scalar(
        select(Membership).where(
            Membership.organisation_id == organisation_id, Membership.account_id == account_id
        )
    )


async def count_memberships(session: AsyncSession, account_id: int) -> int:
    return await session.scalar(
        select(func.count(Membership.id)).where(Membership.account_id == account_id)
    ) or 0


async def set_token_payload(session: AsyncSession, raw_token: str, payload: dict) -> None:
    await session.execute(
        update(Token).where(Token.token_hash == digest(raw_token)).values(payload=payload)
    )


async def live_tokens(
    session: AsyncSession, account_id: int, purpose: TokenPurpose
) -> list[Token]:
    result = await session.scalars(
        select(Token).where(
            Token.account_id == account_id,
            Token.purpose == purpose,
            Token.consumed_at.is_(None),
        )
    )
    return list(result)


async def cancel_live_tokens(session: AsyncSession, account_id: int, now: datetime) -> None:
    """Cancel every unused link or code of the account (sent to an address it no longer has)."""
    await session.execute(
        update(Token)
        .where(Token.account_id == account_id, Token.consumed_at.is_(None))
        .values(consumed_at=now, consumed_reason="replaced")
    )


async def delete_grants(session: AsyncSession, account_id: int) -> None:
    await session.execute(
        delete(VerificationGrant).where(VerificationGrant.account_id == account_id)
    )
