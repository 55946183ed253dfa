"""Queries about the trusted mobile device (at most one per account, see MobileDevice)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import Account, AccountState, MobileDevice


async def for_account(session: AsyncSession, account_id: int) -> MobileDevice | None:
    return await session.scalar(select(MobileDevice).where(MobileDevice.account_id == account_id))


async def by_token_hash(session: AsyncSession, token_hash: str) -> MobileDevice | None:
    """The device holding this token, if its account may still sign in."""
    return await session.scalar(
        select(MobileDevice)
        .join(Account, Account.id == MobileDevice.account_id)
        .where(MobileDevice.device_token_hash == token_hash, Account.state == AccountState.ACTIVE)
    )


async def touch(session: AsyncSession, device_id: int, now: datetime) -> None:
    await session.execute(
        update(MobileDevice).where(MobileDevice.id == device_id).values(last_used_at=now)
    )


async def set_token_hash(
    session: AsyncSession, device_id: int, account_id: int, token_hash: str
) -> bool:
    """Give the device a new token; False when it has been removed meanwhile."""
    result = await session.execute(
        update(MobileDevice)
        .where(MobileDevice.id == device_id, MobileDevice.account_id == account_id)
        .values(device_token_hash=token_hash)
        .returning(MobileDevice.id)
    )
    return result.scalar_one_or_none() is not None


async def remove_for_account(session: AsyncSession, account_id: int) -> MobileDevice | None:
    """Delete the account's device and return what it was; exactly one concurrent caller wins."""
    device = await for_account(session, account_id)
    if device is None:
        return None
    result = await session.execute(
        delete(MobileDevice)
        .where(MobileDevice.id == device.id)
        .returning(MobileDevice.id)
        .execution_options(synchronize_session=False)
    )
    if result.scalar_one_or_none() is None:
        return None
    session.expunge(device)
    return device
