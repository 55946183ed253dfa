"""E-mails confirming a package change to the organisation's owner (templates/email/package_*).

Pure builders on plain values: the package service turns its views into ``PackageFacts`` and
``Payment`` and passes them here, so this module imports nothing from backend.services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from backend import polish
from backend.mail.builders import EmailContent, render
from backend.polish import Case

_SUBJECTS = {
    "order": "Zamówienie {new_genitive} – iKsięgowość24",
    "upgrade": "Zmiana pakietu na {new} – iKsięgowość24",
    "downgrade_scheduled": "Zaplanowana zmiana pakietu na {new} – iKsięgowość24",
    "downgrade_cancelled": "Anulowana zmiana pakietu – iKsięgowość24",
}
CHANGES = tuple(_SUBJECTS)


@dataclass(frozen=True)
class PackageFacts:
    """What an e-mail says about one package; ``name`` is the catalogue's (nominative) name and
    the amounts are already written out ("299,00 zł")."""

    name: str
    yearly_net: str
    yearly_gross: str
    vat_percent: int
    invoicing: str
    document_exchange: str
    backup: str

    @property
    def genitive(self) -> str:
        """z pakietu *srebrnego*, cena pakietu *srebrnego*."""
        return polish.package_name(self.name, Case.GENITIVE)

    @property
    def locative(self) -> str:
        """w pakiecie *srebrnym*, przy pakiecie *srebrnym*."""
        return polish.package_name(self.name, Case.LOCATIVE)


@dataclass(frozen=True)
class Payment:
    """What is due for the change, already written out."""

    net: str
    gross: str
    vat_percent: int
    days: int  # the days the amount pays for


def package_change(
    change: str,
    *,
    to_address: str,
    name: str | None,
    organisation: str,
    current: PackageFacts,
    new: PackageFacts,
    cancelled: PackageFacts | None,
    in_trial: bool,
    trial_until: date,
    valid_until: date,
    effective_from: date,
    payment: Payment | None,
    warnings: list[str],
) -> EmailContent:
    """``change`` is one of ``CHANGES`` (the ChangeResult.change value); each has its own
    template pair."""
    if change in ("order", "upgrade") and payment is None:
        raise ValueError(f"the {change} e-mail needs the payment")
    if change == "downgrade_cancelled" and cancelled is None:
        raise ValueError("the cancellation e-mail needs the cancelled package")
    return render(
        f"package_{change}",
        to_address=to_address,
        subject=_SUBJECTS[change].format(
            new=new.name, new_genitive=polish.package(new.name, Case.GENITIVE)
        ),
        name=name,
        organisation=organisation,
        current=current,
        new=new,
        cancelled=cancelled,
        in_trial=in_trial,
        trial_until=polish.format_date(trial_until),
        paid_from=polish.format_date(trial_until + timedelta(days=1)),
        valid_until=polish.format_date(valid_until),
        effective_from=polish.format_date(effective_from),
        payment=payment,
        days_remaining=None if payment is None else polish.remaining_days(payment.days),
        warnings=warnings,
    )
