"""Demo data for `make run` and the tests. Idempotent: existing rows are left as they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db import create_engine, create_sessionmaker
from backend.models import (
    Account,
    AccountState,
    ComarchLicence,
    Membership,
    Organisation,
    OrganisationKind,
    PackageCode,
    Role,
    Subscription,
)
from backend.security.hashing import SecretHasher
from backend.settings import Settings


@dataclass(frozen=True)
class DemoAccount:
    name: str
    email: str
    password: str | None
    organisation: str
    kind: OrganisationKind
    package: PackageCode
    valid_until: date
    cloud_login_activated: bool
    nip: str | None = None


@dataclass(frozen=True)
class DemoLicence:
    comarch_id: str
    pin: str
    nip: str
    holder_name: str
    # The e-mail of the platform account the licence already has, if any.
    account_email: str | None = None


JAN_KOWALSKI = DemoAccount(
    name="Jan Kowalski",
    email="jan.kowalski@majafirma.pl",
    password="Faktura#2026",
    organisation="Majama Michał Zając",
    kind=OrganisationKind.COMPANY,
    package=PackageCode.GREEN,
    valid_until=date(2027, 8, 31),
    cloud_login_activated=True,
)
ANNA_NOWAK = DemoAccount(
    name="Anna Nowak",
    email="anna.nowak@biuro-nowak.pl",
    password=None,  # has used the platform, but never activated the Comarch Cloud login
    organisation="Biuro Rachunkowe Anna Nowak",
    kind=OrganisationKind.ACCOUNTING_OFFICE,
    package=PackageCode.SILVER,
    valid_until=date(2027, 6, 30),
    cloud_login_activated=False,
    nip="9541238769",
)
LICENCE_WITHOUT_ACCOUNT = DemoLicence(
    comarch_id="68577", pin="4821", nip="5260250274", holder_name="Jan Nowicki"
)
LICENCE_WITH_ACCOUNT = DemoLicence(
    comarch_id="70012",
    pin="1234",
    nip="9541238769",
    holder_name="Anna Nowak",
    account_email=ANNA_NOWAK.email,
)


async def load_demo_data(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    hasher = SecretHasher(settings.argon2_memory_kib, settings.argon2_time_cost)
    try:
        async with create_sessionmaker(engine).begin() as session:
            for demo in (JAN_KOWALSKI, ANNA_NOWAK):
                await _ensure_owner(session, hasher, demo)
            for licence in (LICENCE_WITHOUT_ACCOUNT, LICENCE_WITH_ACCOUNT):
                await _ensure_licence(session, hasher, licence)
    finally:
        await engine.dispose()


async def _ensure_owner(session: AsyncSession, hasher: SecretHasher, demo: DemoAccount) -> None:
    if await session.scalar(select(Account).where(Account.email == demo.email)):
        return
    account = Account(
        email=demo.email,
        name=demo.name,
        password_hash=await hasher.hash(demo.password) if demo.password else None,
        state=AccountState.ACTIVE,
        cloud_login_activated=demo.cloud_login_activated,
    )
    organisation = Organisation(name=demo.organisation, kind=demo.kind, nip=demo.nip)
    session.add_all(
        [
            account,
            organisation,
            Membership(account=account, organisation=organisation, role=Role.OWNER),
            Subscription(
                organisation=organisation, package_code=demo.package, valid_until=demo.valid_until
            ),
        ]
    )
    await session.flush()


async def _ensure_licence(session: AsyncSession, hasher: SecretHasher, demo: DemoLicence) -> None:
    if await session.scalar(select(ComarchLicence).where(ComarchLicence.comarch_id == demo.comarch_id)):
        return
    organisation_id = None
    if demo.account_email:
        organisation_id = await session.scalar(
            select(Membership.organisation_id)
            .join(Account, Account.id == Membership.account_id)
            .where(Account.email == demo.account_email, Membership.role == Role.OWNER)
        )
    session.add(
        ComarchLicence(
            comarch_id=demo.comarch_id,
            pin_hash=await hasher.hash(demo.pin),
            nip=demo.nip,
            holder_name=demo.holder_name,
            organisation_id=organisation_id,
        )
    )
