"""/api/v1/packages (the public price list) and /api/v1/account/subscription (one account's)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sanic import Blueprint, Request

from backend.api.context import services
from backend.api.idempotency import idempotent
from backend.api.openapi import answer, json_body, raises, responds
from backend.api.service_auth import require_grant
from backend.models import PackageCode, Role
from backend.services import packages as service
from backend.services.packages import PackageView, SubscriptionStatus

bp = Blueprint("packages_v1", url_prefix="/api/v1")


# --- request and response models (also the OpenAPI schemas) -------------------------------------


class SubscriptionChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    package: PackageCode = Field(description="The chosen package's code, as in the price list.")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PriceOut(_Out):
    net_grosze: int = Field(ge=0)
    gross_grosze: int = Field(ge=0)
    vat_grosze: int = Field(ge=0)
    vat_percent: int
    net: str = Field(examples=["299,00 zł"])
    gross: str = Field(examples=["367,77 zł"])
    vat: str


class InvoicingOut(_Out):
    days: int | None = Field(
        description="For how many days the invoicing program is available; null = unlimited."
    )
    label: str


class DocumentExchangeOut(_Out):
    yearly_limit: int | None = Field(description="Documents per calendar year; null = unlimited.")
    trial_days: int | None = Field(description="Length of the free trial in days, if there is one.")
    label: str


class BackupOut(_Out):
    gb: int = Field(ge=0, description="0 = no backup.")
    label: str


class FeaturesOut(_Out):
    offer_database: bool
    business_card: bool
    portal_promotion: bool
    invoicing: InvoicingOut
    document_exchange: DocumentExchangeOut
    backup: BackupOut


class PackageOut(_Out):
    code: PackageCode
    name: str = Field(examples=["srebrny"])
    display_name: str = Field(examples=["Pakiet srebrny"])
    position: int
    features: FeaturesOut
    yearly_price: PriceOut
    monthly_price: PriceOut = Field(
        description="The yearly price per month (it is paid yearly): net and gross each divided "
        "by 12, rounded to the grosz."
    )
    price_label: str

    @classmethod
    def of(cls, view: PackageView) -> PackageOut:
        price = view.yearly_price
        return cls(
            code=PackageCode(view.code),
            name=view.name,
            display_name=view.display_name,
            position=view.position,
            features=FeaturesOut(
                offer_database=view.offer_database,
                business_card=view.business_card,
                portal_promotion=view.portal_promotion,
                invoicing=InvoicingOut(days=view.invoicing_days, label=view.invoicing_label),
                document_exchange=DocumentExchangeOut(
                    yearly_limit=view.document_exchange_limit,
                    trial_days=view.document_exchange_trial_days,
                    label=view.document_exchange_label,
                ),
                backup=BackupOut(gb=view.backup_gb, label=view.backup_label),
            ),
            yearly_price=_price(price),
            monthly_price=_price(view.monthly_price),
            price_label=view.price_label,
        )


class CatalogueOut(_Out):
    packages: list[PackageOut]
    currency: Literal["PLN"] = "PLN"
    note: str


class OrganisationOut(_Out):
    id: int
    name: str


class PendingDowngradeOut(_Out):
    package: PackageOut
    effective_from: date = Field(description="The first day of the lower package.")


class UsageOut(_Out):
    year: int
    used: int = Field(
        ge=0, description="Documents exchanged (IWD) this calendar year, Polish time."
    )
    limit: int | None = Field(description="null = unlimited.")
    remaining: int | None = Field(description="null = unlimited.")
    over_limit: bool


class SubscriptionOut(_Out):
    organisation: OrganisationOut
    role: Role
    can_change: bool = Field(description="Only an owner may change the package.")
    package: PackageOut
    valid_until: date = Field(description="The last day of the paid period.")
    trial_until: date | None
    trial_active: bool | None
    in_trial: bool = Field(description="The whole current period is a free trial (nothing paid).")
    pending_downgrade: PendingDowngradeOut | None
    document_exchange: UsageOut

    @classmethod
    def of(cls, status: SubscriptionStatus) -> SubscriptionOut:
        usage = status.usage
        return cls(
            organisation=OrganisationOut(id=status.organisation_id, name=status.organisation_name),
            role=Role(status.role),
            can_change=status.can_change,
            package=PackageOut.of(status.package),
            valid_until=status.valid_until,
            trial_until=status.trial_until,
            trial_active=status.trial_active,
            in_trial=status.in_trial,
            pending_downgrade=None
            if status.pending_package is None
            else PendingDowngradeOut(
                package=PackageOut.of(status.pending_package), effective_from=status.pending_from
            ),
            document_exchange=UsageOut(
                year=usage.year,
                used=usage.used,
                limit=usage.limit,
                remaining=usage.remaining,
                over_limit=usage.over_limit,
            ),
        )


class PaymentOut(PriceOut):
    days_remaining: int = Field(ge=0, description="The days the amount pays for.")
    period_days: int = Field(ge=365, le=366)
    period_start: date = Field(description="The first day the amount pays for.")
    period_end: date = Field(description="The last day the amount pays for.")

    @classmethod
    def of(cls, payment: service.ProRata) -> PaymentOut:
        return cls(
            **_price(payment.price).model_dump(),
            days_remaining=payment.days_remaining,
            period_days=payment.period_days,
            period_start=payment.period_start,
            period_end=payment.period_end,
        )


class NoticeOut(_Out):
    code: str
    message: str


ChangeKind = Literal["order", "upgrade", "downgrade_scheduled", "downgrade_cancelled"]


class SubscriptionChangeQuoteOut(_Out):
    change: ChangeKind
    current_package: PackageOut
    new_package: PackageOut
    cancelled_package: PackageOut | None = Field(
        description="The scheduled downgrade the change would drop or replace."
    )
    in_trial: bool = Field(description="The whole current period is a free trial (nothing paid).")
    valid_until: date = Field(description="The last day of the current paid (or trial) period.")
    effective_from: date
    payment: PaymentOut | None = Field(
        description="What the change would charge: exactly the change's `payment` if it is made "
        "today with the subscription as it is now."
    )
    warnings: list[NoticeOut]

    @classmethod
    def of(cls, plan: service.ChangePlan) -> SubscriptionChangeQuoteOut:
        return cls(
            change=plan.change,
            current_package=PackageOut.of(plan.current),
            new_package=PackageOut.of(plan.new),
            cancelled_package=None if plan.cancelled is None else PackageOut.of(plan.cancelled),
            in_trial=plan.before.in_trial,
            valid_until=plan.before.valid_until,
            effective_from=plan.effective_from,
            payment=None if plan.payment is None else PaymentOut.of(plan.payment),
            warnings=[NoticeOut(code=n.code, message=n.message) for n in plan.warnings],
        )


class SubscriptionChangeOut(_Out):
    change: ChangeKind
    message: str
    from_package: PackageCode
    to_package: PackageCode
    effective_from: date
    payment: PaymentOut | None = Field(
        description="Amount due now: pro rata for an upgrade, a full year for an order."
    )
    warnings: list[NoticeOut]
    subscription: SubscriptionOut

    @classmethod
    def of(cls, result: service.ChangeResult) -> SubscriptionChangeOut:
        return cls(
            change=result.change,
            message=result.message,
            from_package=PackageCode(result.from_package.code),
            to_package=PackageCode(result.to_package.code),
            effective_from=result.effective_from,
            payment=None if result.payment is None else PaymentOut.of(result.payment),
            warnings=[NoticeOut(code=n.code, message=n.message) for n in result.warnings],
            subscription=SubscriptionOut.of(result.status),
        )


def _price(price: service.Price) -> PriceOut:
    return PriceOut(
        net_grosze=price.net_grosze,
        gross_grosze=price.gross_grosze,
        vat_grosze=price.vat_grosze,
        vat_percent=price.vat_percent,
        net=price.net,
        gross=price.gross,
        vat=price.vat,
    )



# --- handlers -----------------------------------------------------------------------------------


def _price_note(views: list[PackageView]) -> str:
    rates = " / ".join(f"{rate}%" for rate in sorted({v.yearly_price.vat_percent for v in views}))
    return f"Ceny roczne netto; do cen należy doliczyć {rates} VAT."


@bp.get("/packages")
@responds(200, CatalogueOut, description="Every package, in the price list's order.")
async def list_packages(request: Request):
    """The public price list: every package with features, limits and yearly prices."""
    views = await services(request).packages.catalogue()
    catalogue = CatalogueOut(
        packages=[PackageOut.of(view) for view in views], note=_price_note(views)
    )
    return answer(catalogue, headers={"Cache-Control": "public, max-age=300"})


@bp.get("/account/subscription")
@require_grant
@responds(200, SubscriptionOut)
@raises(service.NoSubscription)
async def subscription(request: Request):
    """The verified account's organisation package, paid period, pending downgrade and usage."""
    status = await services(request).packages.status(request.ctx.account_id)
    return answer(SubscriptionOut.of(status), headers={"Cache-Control": "no-store"})


@bp.post("/account/subscription/change/quote")
@require_grant
@json_body(SubscriptionChangeRequest)
@responds(200, SubscriptionChangeQuoteOut)
@raises(
    service.NotOwner,
    service.NoSubscription,
    service.SamePackage,
    service.ChangeAlreadyScheduled,
)
async def quote_subscription_change(request: Request, body: SubscriptionChangeRequest):
    """What changing the package would do and charge now (owner only); nothing is changed.

    The same rules decide the quote and the change (an upgrade's pro-rata difference, an order's
    full year after a trial, a downgrade's start), so the amount the user confirms is the amount
    `POST /account/subscription/change` then charges, as long as nothing changes in between.
    """
    plan = await services(request).packages.quote(request.ctx.account_id, body.package)
    return answer(SubscriptionChangeQuoteOut.of(plan), headers={"Cache-Control": "no-store"})


@bp.post("/account/subscription/change")
@require_grant
@idempotent("subscription_change")
@json_body(SubscriptionChangeRequest)
@responds(200, SubscriptionChangeOut)
@raises(
    service.NotOwner,
    service.NoSubscription,
    service.SamePackage,
    service.ChangeAlreadyScheduled,
    service.ConcurrentChange,
)
async def change_subscription(request: Request, body: SubscriptionChangeRequest):
    """Change the package (owner only).

    A higher package applies at once and the rest of the paid period is charged pro rata; a lower
    one is scheduled for the day after the paid period ends; choosing the current package while a
    downgrade is pending cancels it. During a trial, choosing the tried package (or a higher one)
    orders it for a paid year that follows the trial.
    """
    account_id = request.ctx.account_id
    result = await services(request).packages.change(
        account_id, body.package, actor=f"assistant:account:{account_id}"
    )
    return answer(SubscriptionChangeOut.of(result))
