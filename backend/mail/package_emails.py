"""E-mails confirming a package change to the organisation's owner (templates/email/package_*)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from backend.mail.builders import EmailContent, render

if TYPE_CHECKING:
    from backend.services.packages import Notice, PackageView, ProRata

_SUBJECTS = {
    "order": "Zamówienie pakietu {new} – iKsięgowość24",
    "upgrade": "Zmiana pakietu na {new} – iKsięgowość24",
    "downgrade_scheduled": "Zaplanowana zmiana pakietu na {new} – iKsięgowość24",
    "downgrade_cancelled": "Anulowana zmiana pakietu – iKsięgowość24",
}


def package_change(
    change: str,
    *,
    to_address: str,
    name: str,
    organisation: str,
    current: PackageView,
    new: PackageView,
    cancelled: PackageView | None,
    in_trial: bool,
    trial_until: date,
    valid_until: date,
    effective_from: date,
    payment: ProRata | None,
    warnings: list[Notice],
) -> EmailContent:
    """``change`` is the ChangeResult.change value; each has its own template pair."""
    from backend.services.packages import days  # the service imports this module

    return render(
        f"package_{change}",
        to_address=to_address,
        subject=_SUBJECTS[change].format(new=new.name),
        name=name,
        organisation=organisation,
        current=current,
        new=new,
        cancelled=cancelled,
        in_trial=in_trial,
        trial_until=trial_until.strftime("%d.%m.%Y"),
        paid_from=(trial_until + timedelta(days=1)).strftime("%d.%m.%Y"),
        valid_until=valid_until.strftime("%d.%m.%Y"),
        effective_from=effective_from.strftime("%d.%m.%Y"),
        payment=payment,
        days_remaining=None if payment is None else days(payment.days_remaining),
        warnings=warnings,
    )
