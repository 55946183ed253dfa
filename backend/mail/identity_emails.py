"""E-mail of the chat identity check (the `identity` area): the 6-digit code (rendered by
builders)."""

from __future__ import annotations

from backend import polish
from backend.mail.builders import EmailContent, render


def verification_code(
    *, to_address: str, name: str | None, code: str, ttl_minutes: int
) -> EmailContent:
    return render(
        "verification_code",
        to_address=to_address,
        subject="Kod weryfikacyjny do czatu – iKsięgowość24",
        name=name,
        code=code,
        ttl_text=polish.minutes(ttl_minutes, accusative=True),
    )
