"""E-mails about company users and login e-mail changes (pure builders, like mail/builders.py)."""

from __future__ import annotations

from backend import polish
from backend.mail.builders import EmailContent, render
from backend.roles import RoleInfo

_SUFFIX = " – iKsięgowość24"


def invitation(
    *,
    to_address: str,
    name: str | None,
    inviter_name: str,
    organisation_name: str,
    role: RoleInfo,
    link: str,
    ttl_days: int,
) -> EmailContent:
    return render(
        "member_invitation",
        to_address=to_address,
        subject=f"Zaproszenie do firmy {organisation_name}{_SUFFIX}",
        name=name,
        email=to_address,
        inviter_name=inviter_name,
        organisation_name=organisation_name,
        role_label=role.label,
        role_description=role.description,
        link=link,
        ttl_text=polish.days(ttl_days),
    )


def member_added(
    *, to_address: str, name: str | None, inviter_name: str, organisation_name: str, role: RoleInfo
) -> EmailContent:
    return render(
        "member_added",
        to_address=to_address,
        subject=f"Masz dostęp do firmy {organisation_name}{_SUFFIX}",
        name=name,
        email=to_address,
        inviter_name=inviter_name,
        organisation_name=organisation_name,
        role_label=role.label,
        role_description=role.description,
    )


def role_changed(
    *,
    to_address: str,
    name: str | None,
    organisation_name: str,
    old_role: RoleInfo,
    new_role: RoleInfo,
) -> EmailContent:
    return render(
        "member_role_changed",
        to_address=to_address,
        subject=f"Zmiana Twojej roli w firmie {organisation_name}{_SUFFIX}",
        name=name,
        organisation_name=organisation_name,
        old_role_label=old_role.label,
        new_role_label=new_role.label,
        new_role_description=new_role.description,
    )


def member_removed(*, to_address: str, name: str | None, organisation_name: str) -> EmailContent:
    return render(
        "member_removed",
        to_address=to_address,
        subject=f"Koniec dostępu do firmy {organisation_name}{_SUFFIX}",
        name=name,
        organisation_name=organisation_name,
    )


def email_change_confirm(
    *, to_address: str, name: str | None, old_email: str, link: str, ttl_hours: int
) -> EmailContent:
    """To the NEW address: the only way the change can happen."""
    return render(
        "email_change_confirm",
        to_address=to_address,
        subject=f"Potwierdź nowy adres e-mail{_SUFFIX}",
        name=name,
        old_email=old_email,
        new_email=to_address,
        link=link,
        ttl_text=polish.hours(ttl_hours, accusative=True),
    )


def email_change_requested(
    *, to_address: str, name: str | None, new_email: str, requested_by_self: bool, ttl_hours: int
) -> EmailContent:
    """To the OLD address: a heads-up; nothing changes unless the new address confirms."""
    return render(
        "email_change_requested",
        to_address=to_address,
        subject=f"Prośba o zmianę adresu e-mail do logowania{_SUFFIX}",
        name=name,
        old_email=to_address,
        new_email=new_email,
        requested_by_self=requested_by_self,
        ttl_text=polish.hours(ttl_hours, accusative=True),
    )


def email_changed(*, to_address: str, name: str | None, new_email: str) -> EmailContent:
    """To the OLD address once the change is done."""
    return render(
        "email_changed",
        to_address=to_address,
        subject=f"Adres e-mail do logowania został zmieniony{_SUFFIX}",
        name=name,
        old_email=to_address,
        new_email=new_email,
    )
