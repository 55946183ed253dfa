"""Queries about Comarch licences and what a licence is linked to on the platform."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import (
    Account,
    ComarchLicence,
    Membership,
    Organisation,
    Package,
    PackageCode,
    Role,
    Subscription,
)


async def get_by_comarch_id(session: AsyncSession, comarch_id: str) -> ComarchLicence | None:
    return await session.scalar(select(ComarchLicence).where(ComarchLicence.comarch_id == comarch_id))


async def link_to_organisation(session: AsyncSession, licence_id: int, organisation_id: int) -> bool:
    """Link a licence that has no organisation yet; False when another request linked it first."""
    result = await session.execute(
        update(ComarchLicence)
        .where(ComarchLicence.id == licence_id, ComarchLicence.organisation_id.is_(None))
        .values(organisation_id=organisation_id)
    )
    return result.rowcount == 1


async def owner_of(session: AsyncSession, organisation_id: int) -> Account | None:
    """The organisation's owner account (the oldest owner membership if there are several)."""
    return await session.scalar(
        select(Account)
        .join(Membership, Membership.account_id == Account.id)
        .where(Membership.organisation_id == organisation_id, Membership.role == Role.OWNER)
        .order_by(Membership.id)
        .limit(1)
    )


async def organisation(session: AsyncSession, organisation_id: int) -> Organisation | None:
    return await session.get(Organisation, organisation_id)


async def subscription_of(session: AsyncSession, organisation_id: int) -> Subscription | None:
    return await session.scalar(
        select(Subscription).where(Subscription.organisation_id == organisation_id)
    )


async def package(session: AsyncSession, code: PackageCode) -> Package:
    return await session.get_one(Package, code)
