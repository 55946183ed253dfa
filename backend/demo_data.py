"""Demo data for `make run` and the tests. Idempotent: existing rows are left as they are."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db import create_engine, create_sessionmaker
from backend.models import Account, AccountState, Membership, Organisation, OrganisationKind, Role
from backend.security.hashing import SecretHasher
from backend.settings import Settings


@dataclass(frozen=True)
class DemoAccount:
    name: str
    email: str
    password: str
    organisation: str


JAN_KOWALSKI = DemoAccount(
    name="Jan Kowalski",
    email="jan.kowalski@majafirma.pl",
    password="Faktura#2026",
    organisation="Majama Michał Zając",
)


async def load_demo_data(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    hasher = SecretHasher(settings.argon2_memory_kib, settings.argon2_time_cost)
    try:
        async with create_sessionmaker(engine).begin() as session:
            await _ensure_owner(session, hasher, JAN_KOWALSKI)
    finally:
        await engine.dispose()


async def _ensure_owner(session: AsyncSession, hasher: SecretHasher, demo: DemoAccount) -> None:
    if await session.scalar(select(Account).where(Account.email == demo.email)):
        return
    account = Account(
        email=demo.email,
        name=demo.name,
        password_hash=await hasher.hash(demo.password),
        state=AccountState.ACTIVE,
        cloud_login_activated=True,
    )
    organisation = Organisation(name=demo.organisation, kind=OrganisationKind.COMPANY)
    session.add_all(
        [account, organisation, Membership(account=account, organisation=organisation, role=Role.OWNER)]
    )
