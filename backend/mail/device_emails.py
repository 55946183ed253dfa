"""E-mails of the trusted mobile device (the `devices` area; rendered by builders)."""

from __future__ import annotations

from backend.mail.builders import EmailContent, render

PLATFORM_LABELS = {"android": "Android", "ios": "iOS"}
# Why a device was removed, as the notice tells it.
REMOVAL_REASONS = {
    "lost": "zgubienie urządzenia",
    "stolen": "kradzież urządzenia",
    "replace": "wymiana na nowe urządzenie",
}


def device_paired(
    *, to_address: str, name: str | None, device_name: str, platform: str
) -> EmailContent:
    return render(
        "device_paired",
        to_address=to_address,
        subject="Nowe urządzenie mobilne połączone z kontem – iKsięgowość24",
        name=name,
        device_name=device_name,
        platform=PLATFORM_LABELS.get(platform, platform),
    )


def device_removed(
    *, to_address: str, name: str | None, device_name: str, platform: str, reason: str
) -> EmailContent:
    return render(
        "device_removed",
        to_address=to_address,
        subject="Urządzenie mobilne zostało odłączone od konta – iKsięgowość24",
        name=name,
        device_name=device_name,
        platform=PLATFORM_LABELS.get(platform, platform),
        reason=REMOVAL_REASONS[reason],
        compromised=reason in ("lost", "stolen"),
    )
