"""E-mails of registration and activation (pure builders, like mail/builders.py).

Every one of them has the subject the guide names (step 7): "Aktywacja konta Comarch Cloud",
so a person looking for it in the mailbox finds it whatever the case was.
"""

from __future__ import annotations

import enum

from backend import polish
from backend.mail.builders import EmailContent, render

ACTIVATION_SUBJECT = "Aktywacja konta Comarch Cloud"


class ActivationVariant(enum.StrEnum):
    # A new account was created for the licence.
    NEW_ACCOUNT = "new_account"
    # The licence already had an account; the link goes to that account's own address.
    EXISTING_ACCOUNT = "existing_account"
    # The person asked for a new link.
    RESEND = "resend"
    # The person asked to reset a password the account never had (not activated yet, e.g.
    # invited by a colleague): activating it sets the first one (and asks for a missing name).
    PASSWORD_NOT_SET = "password_not_set"
    # The form's address already belongs to another account: nothing was created (a notice, with
    # an activation link for that account only if it still needs one).
    EMAIL_TAKEN = "email_taken"


def hours_text(n: int) -> str:
    """How long a link is valid, after "przez": 1 godzinę, 2 godziny, 48 godzin (backend/api
    imports this name)."""
    return polish.hours(n, accusative=True)


def activation(
    *,
    to_address: str,
    name: str | None,
    variant: ActivationVariant,
    link: str | None = None,
    ttl_hours: int | None = None,
    comarch_id: str | None = None,
    package_name: str | None = None,
) -> EmailContent:
    if variant != ActivationVariant.EMAIL_TAKEN and link is None:
        raise ValueError(f"the {variant} e-mail needs an activation link")
    if link is not None and ttl_hours is None:
        raise ValueError("a link needs its validity")
    return render(
        "activation",
        to_address=to_address,
        subject=ACTIVATION_SUBJECT,
        variant=variant.value,
        name=name,
        email=to_address,
        link=link,
        ttl_text=hours_text(ttl_hours) if ttl_hours else None,
        comarch_id=comarch_id,
        package_name=package_name,
    )
