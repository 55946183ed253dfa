"""Packages: the price list, an organisation's subscription, and changing the package.

The catalogue is data (the ``packages`` rows seeded by migration 0002); nothing here branches on a
package's code. Rules for a change (see docs/backend.md):

- **Upgrade** (a package with a higher ``position``): takes effect at once; the paid period's end
  (``valid_until``) stays; the difference of the yearly net prices is charged pro rata for the
  remaining days, today and ``valid_until`` included, out of the days of the yearly period ending on
  ``valid_until`` (365 or 366). A pending downgrade is dropped.
- **Downgrade**: scheduled in ``pending_package_code``; the current package stays through
  ``valid_until`` and the lower one applies from the next day. It is applied lazily, by the first
  read or change on or after that day; the lower package's yearly period then ends one year after
  the old ``valid_until`` (billing the renewal is not this service's job). Nothing is refunded.
- Choosing the **current package**: 409 ``same_package``, unless a downgrade is pending, in which
  case this cancels it ("I'm staying"). Choosing the **already scheduled** package: 409
  ``change_already_scheduled``. Choosing **another lower** package while one is pending replaces it.
- **Trial**: when the whole current period is a trial (``valid_until <= trial_until``: a paid
  package tried for free after registration, green waiting in ``pending_package_code``), choosing
  the tried package or a higher one **orders** it: it applies at once, a paid year follows the
  trial (``valid_until`` + 1 year), the full yearly price is due, the fallback is dropped. A lower
  choice is scheduled like any downgrade.
- Only an owner of the organisation may change it (403 ``not_owner``); every member may read it.

Money is in grosze (int) and computed with Decimal; gross is derived from net in ``gross_grosze``
only, rounded half-up to the grosz.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from backend import polish
from backend.deps import Deps
from backend.errors import Conflict, Forbidden, NotFound
from backend.mail import package_emails
from backend.mail.package_emails import PackageFacts
from backend.models import Membership, Package, PackageCode, Role, Subscription
from backend.polish import Case, add_years, days, documents, format_date, format_pln
from backend.repositories import accounts
from backend.repositories import packages as queries
from backend.services import audit, outbox

WARSAW = ZoneInfo("Europe/Warsaw")
_GROSZ = Decimal(1)


# --- errors -----------------------------------------------------------------------------------


class NotOwner(Forbidden):
    code = "not_owner"
    message = (
        "Pakiet może zmienić tylko właściciel firmy. Poproś właściciela konta o zmianę pakietu."
    )


class NoSubscription(NotFound):
    code = "subscription_not_found"
    message = "To konto nie jest przypisane do żadnej firmy z pakietem iKsięgowość24."


class SamePackage(Conflict):
    code = "same_package"
    message = "Ten pakiet jest już aktywny. Wybierz inny pakiet."


class ChangeAlreadyScheduled(Conflict):
    code = "change_already_scheduled"
    message = "Zmiana na ten pakiet jest już zaplanowana."


class ConcurrentChange(Conflict):
    code = "concurrent_change"
    message = "Pakiet został w międzyczasie zmieniony. Sprawdź aktualny stan i spróbuj ponownie."


# --- money (the Polish wording is backend/polish.py) ------------------------------------------


def gross_grosze(net_grosze: int | Decimal, vat_percent: int) -> int:
    """The one place gross is computed: net × (100 + VAT) / 100, rounded half-up to the grosz."""
    gross = Decimal(net_grosze) * (100 + vat_percent) / 100
    return int(gross.quantize(_GROSZ, rounding=ROUND_HALF_UP))


def _twelfth(grosze: int) -> int:
    return int((Decimal(grosze) / 12).quantize(_GROSZ, rounding=ROUND_HALF_UP))


def warsaw_today(now: datetime) -> date:
    return now.astimezone(WARSAW).date()


def warsaw_year_bounds(year: int) -> tuple[datetime, datetime]:
    """The calendar year in Poland as a half-open UTC interval."""
    start = datetime(year, 1, 1, tzinfo=WARSAW).astimezone(timezone.utc)
    end = datetime(year + 1, 1, 1, tzinfo=WARSAW).astimezone(timezone.utc)
    return start, end


# --- views ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    net_grosze: int
    vat_percent: int
    gross_grosze: int

    @classmethod
    def of_net(cls, net_grosze: int | Decimal, vat_percent: int) -> Price:
        net = int(Decimal(net_grosze).quantize(_GROSZ, rounding=ROUND_HALF_UP))
        return cls(net, vat_percent, gross_grosze(net, vat_percent))

    @property
    def vat_grosze(self) -> int:
        return self.gross_grosze - self.net_grosze

    @property
    def net(self) -> str:
        return format_pln(self.net_grosze)

    @property
    def gross(self) -> str:
        return format_pln(self.gross_grosze)

    @property
    def vat(self) -> str:
        return format_pln(self.vat_grosze)


@dataclass(frozen=True)
class PackageView:
    code: str
    name: str
    position: int
    offer_database: bool
    business_card: bool
    portal_promotion: bool
    invoicing_days: int | None
    document_exchange_limit: int | None
    document_exchange_trial_days: int | None
    backup_gb: int
    yearly_price: Price

    @classmethod
    def of(cls, row: Package) -> PackageView:
        return cls(
            code=PackageCode(row.code).value,
            name=row.name,
            position=row.position,
            offer_database=row.offer_database,
            business_card=row.business_card,
            portal_promotion=row.portal_promotion,
            invoicing_days=row.invoicing_days,
            document_exchange_limit=row.document_exchange_limit,
            document_exchange_trial_days=row.document_exchange_trial_days,
            backup_gb=row.backup_gb,
            yearly_price=Price.of_net(row.yearly_price_net_grosze, row.vat_percent),
        )

    @property
    def display_name(self) -> str:
        return f"Pakiet {self.name}"

    @property
    def invoicing_label(self) -> str:
        return "bez limitu" if self.invoicing_days is None else f"przez {days(self.invoicing_days)}"

    @property
    def document_exchange_label(self) -> str:
        if self.document_exchange_limit is None:
            label = "bez limitu"
        else:
            label = f"do {documents(self.document_exchange_limit)} rocznie"
        if self.document_exchange_trial_days is not None:
            label += f" (możliwość testowania przez {days(self.document_exchange_trial_days)})"
        return label

    @property
    def backup_label(self) -> str:
        return f"{self.backup_gb} GB" if self.backup_gb else "brak"

    @property
    def monthly_price(self) -> Price:
        """The yearly price per month (it is paid yearly): the net and the gross price each
        divided by 12, rounded half-up to the grosz."""
        yearly = self.yearly_price
        return Price(_twelfth(yearly.net_grosze), yearly.vat_percent, _twelfth(yearly.gross_grosze))

    @property
    def price_label(self) -> str:
        price = self.yearly_price
        return f"{price.net} netto rocznie ({price.gross} brutto, w tym {price.vat_percent}% VAT)"

    def facts(self) -> PackageFacts:
        """What the e-mails say about this package (plain values for backend/mail)."""
        return PackageFacts(
            name=self.name,
            yearly_net=self.yearly_price.net,
            yearly_gross=self.yearly_price.gross,
            vat_percent=self.yearly_price.vat_percent,
            invoicing=self.invoicing_label,
            document_exchange=self.document_exchange_label,
            backup=self.backup_label,
        )


@dataclass(frozen=True)
class Usage:
    year: int
    used: int
    limit: int | None

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    @property
    def over_limit(self) -> bool:
        return self.limit is not None and self.used > self.limit


@dataclass(frozen=True)
class SubscriptionStatus:
    organisation_id: int
    organisation_name: str
    role: str
    package: PackageView
    valid_until: date
    trial_until: date | None
    trial_active: bool | None
    pending_package: PackageView | None
    usage: Usage

    @property
    def can_change(self) -> bool:
        return self.role == Role.OWNER.value

    @property
    def in_trial(self) -> bool:
        """The whole current period is a trial (a paid package tried for free): nothing is paid."""
        return self.trial_until is not None and self.valid_until <= self.trial_until

    @property
    def pending_from(self) -> date | None:
        return None if self.pending_package is None else self.valid_until + timedelta(days=1)


@dataclass(frozen=True)
class ProRata:
    """What a change charges: the price for the days from ``period_start`` to ``period_end``
    (an upgrade: the rest of the paid period; an order: the paid year after the trial)."""

    price: Price
    days_remaining: int
    period_days: int
    period_start: date
    period_end: date


@dataclass(frozen=True)
class Notice:
    code: str
    message: str


@dataclass(frozen=True)
class ChangePlan:
    """What choosing a package would do now: decided once (``PackageService._plan``) for both
    the quote the user confirms and the change that is then made, so they cannot differ."""

    change: str  # "order" | "upgrade" | "downgrade_scheduled" | "downgrade_cancelled"
    current: PackageView
    new: PackageView
    cancelled: PackageView | None  # the scheduled downgrade the change drops or replaces
    effective_from: date
    valid_until: date  # the last day of the paid period after the change
    payment: ProRata | None
    warnings: list[Notice]
    before: SubscriptionStatus
    updates: dict[str, object]  # the subscription's columns the change writes


@dataclass(frozen=True)
class ChangeResult:
    change: str  # "order" | "upgrade" | "downgrade_scheduled" | "downgrade_cancelled"
    message: str
    from_package: PackageView
    to_package: PackageView
    effective_from: date
    payment: ProRata | None
    status: SubscriptionStatus
    warnings: list[Notice] = field(default_factory=list)


def pro_rata(current: PackageView, new: PackageView, today: date, valid_until: date) -> ProRata:
    """The yearly net difference for the days left (today..valid_until), rounded to the grosz."""
    period_days = (valid_until - add_years(valid_until, -1)).days
    days_remaining = max(0, (valid_until - today).days + 1)
    difference = new.yearly_price.net_grosze - current.yearly_price.net_grosze
    net = Decimal(difference) * days_remaining / period_days
    return ProRata(
        price=Price.of_net(net, new.yearly_price.vat_percent),
        days_remaining=days_remaining,
        period_days=period_days,
        period_start=today,
        period_end=valid_until,
    )


def downgrade_warnings(current: PackageView, new: PackageView, usage: Usage) -> list[Notice]:
    """What the lower package takes away, compared field by field (no per-package rules)."""
    notices: list[Notice] = []
    new_limit, old_limit = new.document_exchange_limit, current.document_exchange_limit
    if new_limit is not None and (old_limit is None or new_limit < old_limit):
        if usage.used > new_limit:
            notices.append(
                Notice(
                    "usage_above_new_limit",
                    f"W tym roku wymieniono już {documents(usage.used)} IWD – więcej, niż "
                    f"pozwala pakiet {new.name} (do {documents(new_limit)} w roku kalendarzowym). "
                    "Po zmianie pakietu wymiana dokumentów ponad limit nie będzie możliwa.",
                )
            )
        else:
            notices.append(
                Notice(
                    "document_limit_lower",
                    f"Pakiet {new.name} obejmuje wymianę do {documents(new_limit)} IWD w roku "
                    f"kalendarzowym (obecnie: {current.document_exchange_label}).",
                )
            )
    new_days, old_days = new.invoicing_days, current.invoicing_days
    if new_days is not None and (old_days is None or new_days < old_days):
        notices.append(
            Notice(
                "invoicing_limited",
                f"W {polish.package(new.name, Case.LOCATIVE)} program do fakturowania jest "
                f"dostępny tylko przez {days(new_days)}.",
            )
        )
    if new.backup_gb < current.backup_gb:
        offered = f"obejmuje {new.backup_gb} GB" if new.backup_gb else "nie obejmuje"
        notices.append(
            Notice(
                "backup_lower",
                f"Pakiet {new.name} {offered} kopii bezpieczeństwa "
                f"(obecnie {current.backup_label}).",
            )
        )
    return notices


# --- the service ------------------------------------------------------------------------------


@dataclass
class _Loaded:
    membership: Membership
    subscription: Subscription
    packages: dict[str, PackageView]
    today: date


class PackageService:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._sessions = deps.sessions
        self._clock = deps.clock

    async def catalogue(self) -> list[PackageView]:
        async with self._sessions() as session:
            return [PackageView.of(row) for row in await queries.catalogue(session)]

    async def status(self, account_id: int) -> SubscriptionStatus:
        async with self._sessions.begin() as session:
            loaded = await self._load(session, account_id)
            return await self._status(session, loaded)

    async def quote(self, account_id: int, target: PackageCode) -> ChangePlan:
        """What ``change`` would do and charge now, without changing anything."""
        async with self._sessions.begin() as session:
            loaded = await self._load(session, account_id)
            return await self._plan(session, loaded, target)

    async def change(self, account_id: int, target: PackageCode, *, actor: str) -> ChangeResult:
        async with self._sessions.begin() as session:
            loaded = await self._load(session, account_id)
            plan = await self._plan(session, loaded, target)
            subscription = loaded.subscription
            change, current, new = plan.change, plan.current, plan.new
            pending, before, payment = plan.cancelled, plan.before, plan.payment
            effective_from, warnings = plan.effective_from, plan.warnings
            if not await queries.update_if_unchanged(
                session, subscription, self._clock(), **plan.updates
            ):
                raise ConcurrentChange()
            await session.refresh(subscription)
            after = await self._status(session, loaded)
            message = _change_message(change, current, new, pending, before, after, payment)

            account = await accounts.get(session, account_id)
            outbox.queue(
                session,
                package_emails.package_change(
                    change,
                    to_address=account.email,
                    name=account.name,
                    organisation=after.organisation_name,
                    current=current.facts(),
                    new=new.facts(),
                    cancelled=None if pending is None else pending.facts(),
                    in_trial=before.in_trial,
                    trial_until=before.valid_until,
                    valid_until=after.valid_until,
                    effective_from=effective_from,
                    payment=None if payment is None else package_emails.Payment(
                        net=payment.price.net,
                        gross=payment.price.gross,
                        vat_percent=payment.price.vat_percent,
                        days=payment.days_remaining,
                    ),
                    warnings=[warning.message for warning in warnings],
                ),
                self._clock,
            )
            audit.record(
                session,
                self._clock,
                actor=actor,
                action=f"package_{change}",
                account_id=account_id,
                organisation_id=after.organisation_id,
                from_package=current.code,
                to_package=new.code,
                cancelled_package=None if pending is None else pending.code,
                effective_from=effective_from.isoformat(),
                valid_until=after.valid_until.isoformat(),
                amount_net_grosze=None if payment is None else payment.price.net_grosze,
                amount_gross_grosze=None if payment is None else payment.price.gross_grosze,
            )
        self._deps.mail_queued()
        return ChangeResult(
            change=change,
            message=message,
            from_package=current,
            to_package=new,
            effective_from=effective_from,
            payment=payment,
            status=after,
            warnings=warnings,
        )

    async def _plan(
        self, session: AsyncSession, loaded: _Loaded, target: PackageCode
    ) -> ChangePlan:
        """The rules of a change (module docstring), applied to the loaded subscription."""
        if loaded.membership.role != Role.OWNER:
            raise NotOwner()
        subscription = loaded.subscription
        current = loaded.packages[PackageCode(subscription.package_code).value]
        pending_code = subscription.pending_package_code
        pending = None if pending_code is None else loaded.packages[PackageCode(pending_code).value]
        new = loaded.packages[PackageCode(target).value]
        before = await self._status(session, loaded)

        payment = None
        warnings: list[Notice] = []
        valid_until = subscription.valid_until
        if before.in_trial and new.position >= current.position:
            # Nothing of a trial period is paid: choosing this package or a higher one orders it
            # now, for a paid year that follows the trial.
            change, effective_from = "order", loaded.today
            valid_until = add_years(subscription.valid_until, 1)
            period_days = (valid_until - subscription.valid_until).days
            payment = ProRata(
                price=new.yearly_price,
                days_remaining=period_days,
                period_days=period_days,
                period_start=subscription.valid_until + timedelta(days=1),
                period_end=valid_until,
            )
            updates: dict[str, object] = {
                "package_code": PackageCode(new.code),
                "pending_package_code": None,
                "valid_until": valid_until,
            }
        elif new.code == current.code:
            if pending is None:
                raise SamePackage(f"Pakiet {current.name} jest już aktywny. Wybierz inny pakiet.")
            change, effective_from = "downgrade_cancelled", loaded.today
            updates = {"pending_package_code": None}
        elif new.position > current.position:
            change, effective_from = "upgrade", loaded.today
            payment = pro_rata(current, new, loaded.today, subscription.valid_until)
            updates = {"package_code": PackageCode(new.code), "pending_package_code": None}
        else:
            if pending is not None and pending.code == new.code:
                raise ChangeAlreadyScheduled(
                    f"Zmiana na pakiet {new.name} jest już zaplanowana od "
                    f"{format_date(before.pending_from)}."
                )
            change, effective_from = "downgrade_scheduled", before.valid_until + timedelta(days=1)
            updates = {"pending_package_code": PackageCode(new.code)}
            warnings = downgrade_warnings(current, new, before.usage)
        return ChangePlan(
            change=change,
            current=current,
            new=new,
            cancelled=pending,
            effective_from=effective_from,
            valid_until=valid_until,
            payment=payment,
            warnings=warnings,
            before=before,
            updates=updates,
        )

    async def _load(self, session: AsyncSession, account_id: int) -> _Loaded:
        membership = await queries.membership_of(session, account_id)
        if membership is None:
            raise NoSubscription()
        subscription = await queries.subscription_of(session, membership.organisation_id)
        if subscription is None:
            raise NoSubscription()
        packages = {
            view.code: view for view in map(PackageView.of, await queries.catalogue(session))
        }
        today = warsaw_today(self._clock())
        await self._apply_due_downgrade(session, subscription, today)
        return _Loaded(membership, subscription, packages, today)

    async def _apply_due_downgrade(
        self, session: AsyncSession, subscription: Subscription, today: date
    ) -> None:
        """A scheduled downgrade whose day has come is applied by whoever reads the row first."""
        if subscription.pending_package_code is None or today <= subscription.valid_until:
            return
        from_code = PackageCode(subscription.package_code).value
        to_code = PackageCode(subscription.pending_package_code).value
        new_valid_until = add_years(subscription.valid_until, 1)
        applied = await queries.update_if_unchanged(
            session,
            subscription,
            self._clock(),
            package_code=PackageCode(to_code),
            pending_package_code=None,
            valid_until=new_valid_until,
        )
        if applied:
            audit.record(
                session,
                self._clock,
                actor="system",
                action="package_downgrade_applied",
                account_id=None,
                organisation_id=subscription.organisation_id,
                from_package=from_code,
                to_package=to_code,
                effective_from=(subscription.valid_until + timedelta(days=1)).isoformat(),
                valid_until=new_valid_until.isoformat(),
            )
        await session.refresh(subscription)  # also picks up a concurrent reader's application

    async def _status(self, session: AsyncSession, loaded: _Loaded) -> SubscriptionStatus:
        subscription = loaded.subscription
        package = loaded.packages[PackageCode(subscription.package_code).value]
        pending_code = subscription.pending_package_code
        start, end = warsaw_year_bounds(loaded.today.year)
        used = await queries.count_exchanges(session, subscription.organisation_id, start, end)
        trial_until = subscription.trial_until
        return SubscriptionStatus(
            organisation_id=loaded.membership.organisation_id,
            organisation_name=loaded.membership.organisation.name,
            role=Role(loaded.membership.role).value,
            package=package,
            valid_until=subscription.valid_until,
            trial_until=trial_until,
            trial_active=None if trial_until is None else loaded.today <= trial_until,
            pending_package=(
                None if pending_code is None else loaded.packages[PackageCode(pending_code).value]
            ),
            usage=Usage(year=loaded.today.year, used=used, limit=package.document_exchange_limit),
        )


def _change_message(
    change: str,
    current: PackageView,
    new: PackageView,
    cancelled: PackageView | None,
    before: SubscriptionStatus,
    after: SubscriptionStatus,
    payment: ProRata | None,
) -> str:
    if change == "order":
        return (
            f"Zamówiono pakiet {new.name}; działa od dziś. Okres próbny trwa do "
            f"{format_date(before.valid_until)}, a opłacony okres od "
            f"{format_date(before.valid_until + timedelta(days=1))} do "
            f"{format_date(after.valid_until)}. Do zapłaty: {payment.price.net} netto "
            f"({payment.price.gross} brutto, w tym {payment.price.vat_percent}% VAT)."
        )
    if change == "upgrade":
        return (
            f"Pakiet zmieniony z {polish.package_name(current.name, Case.GENITIVE)} na {new.name} "
            "od dziś. Okres rozliczeniowy trwa do "
            f"{format_date(after.valid_until)}. Do zapłaty za "
            f"{polish.remaining_days(payment.days_remaining)}: "
            f"{payment.price.net} netto ({payment.price.gross} brutto). "
            f"Cena {polish.package(new.name, Case.GENITIVE)}: {new.price_label}."
        )
    if change == "downgrade_scheduled":
        period = "okresu próbnego" if before.in_trial else "opłaconego okresu"
        return (
            f"Zmiana na pakiet {new.name} zaplanowana. Pakiet {current.name} działa do końca "
            f"{period} ({format_date(after.valid_until)}), a pakiet {new.name} od "
            f"{format_date(after.pending_from)}. Cena {polish.package(new.name, Case.GENITIVE)}: "
            f"{new.price_label}."
        )
    return (
        f"Zaplanowana zmiana na pakiet {cancelled.name} została anulowana. Zostajesz przy "
        f"{polish.package(current.name, Case.LOCATIVE)} ({current.price_label}), opłaconym do "
        f"{format_date(after.valid_until)}."
    )
