"""Queries about the package catalogue, subscriptions and document-exchange usage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from backend.models import (
    DocumentExchange,
    Membership,
    Package,
    PackageCode,
    Role,
    Subscription,
)


async def catalogue(session: AsyncSession) -> list[Package]:
    """Every package, in the price list's order."""
    return list((await session.scalars(select(Package).order_by(Package.position))).all())


async def membership_of(session: AsyncSession, account_id: int) -> Membership | None:
    """The membership whose subscription the account sees: an owned firm first, then the oldest."""
    return await session.scalar(
        select(Membership)
        .options(joinedload(Membership.organisation))
        .where(Membership.account_id == account_id)
        .order_by(case((Membership.role == Role.OWNER, 0), else_=1), Membership.id)
        .limit(1)
    )


async def subscription_of(session: AsyncSession, organisation_id: int) -> Subscription | None:
    return await session.scalar(
        select(Subscription).where(Subscription.organisation_id == organisation_id)
    )


async def count_exchanges(
    session: AsyncSession, organisation_id: int, since: datetime, before: datetime
) -> int:
    return (
        await session.scalar(
            select(func.count(DocumentExchange.id)).where(
                DocumentExchange.organisation_id == organisation_id,
                DocumentExchange.exchanged_at >= since,
                DocumentExchange.exchanged_at < before,
            )
        )
        or 0
    )


async def update_if_unchanged(
    session: AsyncSession,
    subscription: Subscription,
    now: datetime,
    **values: Any,
) -> bool:
    """Compare-and-set: write ``values`` only if the row still holds what it was read with.

    Two concurrent changes of one subscription cannot both win (no lost update), on SQLite and
    PostgreSQL alike, without holding row locks across the request.
    """
    pending = Subscription.pending_package_code
    result = await session.execute(
        update(Subscription)
        .where(
            Subscription.id == subscription.id,
            Subscription.package_code == PackageCode(subscription.package_code),
            Subscription.valid_until == subscription.valid_until,
            pending.is_(None)
            if subscription.pending_package_code is None
            else pending == PackageCode(subscription.pending_package_code),
        )
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
