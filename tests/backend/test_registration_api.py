"""Registration with a Comarch licence (guide steps 4–7) through real HTTP, database and SMTP."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from backend.demo_data import ANNA_NOWAK, JAN_KOWALSKI, LICENCE_WITH_ACCOUNT, LICENCE_WITHOUT_ACCOUNT
from backend.models import (
    Account,
    AccountState,
    AuditEvent,
    ComarchLicence,
    Membership,
    Organisation,
    OrganisationKind,
    OutboxMessage,
    Role,
    Subscription,
    Token,
    TokenPurpose,
)
from tests.support.smtp import body_text, html_text

REGISTER = "/api/v1/registrations"
SUBJECT = "Aktywacja konta Comarch Cloud"
NEW_EMAIL = "jan.nowicki@biuro-nowicki.pl"
GUIDE_MESSAGE = (
    "Podane ID Comarch posiada już konto iKsięgowość24. Na podany adres e-mail został wysłany "
    "link aktywacyjny, przejdź do poczty i aktywuj usługę iKsięgowość24."
)


def new_licence_form(**changes) -> dict:
    form = {
        "email": NEW_EMAIL,
        "comarch_id": LICENCE_WITHOUT_ACCOUNT.comarch_id,
        "pin": LICENCE_WITHOUT_ACCOUNT.pin,
        "nip": "526-025-02-74",
        "full_name": "Jan Nowicki",
        "package": "green",
        "terms_accepted": True,
    }
    return {**form, **changes}


def anna_licence_form(**changes) -> dict:
    anna = {
        "email": ANNA_NOWAK.email,
        "comarch_id": LICENCE_WITH_ACCOUNT.comarch_id,
        "pin": LICENCE_WITH_ACCOUNT.pin,
        "nip": LICENCE_WITH_ACCOUNT.nip,
        "full_name": "Anna Nowak",
    }
    return new_licence_form(**{**anna, **changes})


async def register(http, backend, form, headers=None):
    return await http.post(REGISTER, json=form, headers={**backend.service_headers(), **(headers or {})})


async def rows(backend, model, *where):
    async with backend.app.ctx.sessions() as session:
        return (await session.scalars(select(model).where(*where))).all()


async def count(backend, model, *where) -> int:
    async with backend.app.ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


def activation_link(message) -> str:
    return re.search(r"http://\S+/activate\?token=\S+", body_text(message)).group(0)


# --- happy paths ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("package", "name", "valid_until", "trial_until", "after_trial"),
    [
        ("green", "zielony", "2027-11-23", "2027-02-21", None),
        ("silver", "srebrny", "2027-02-21", "2027-02-21", "green"),
        ("gold", "złoty", "2027-02-21", "2027-02-21", "green"),
    ],
)
async def test_new_licence_creates_office_account_and_subscription(
    http, backend, smtp, package, name, valid_until, trial_until, after_trial
):
    response = await register(http, backend, new_licence_form(package=package, email="Jan.Nowicki@Biuro-Nowicki.pl"))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "account_created"
    assert body["package"] == {"code": package, "name": name}
    assert (body["valid_until"], body["trial_until"]) == (valid_until, trial_until)
    assert body["after_trial_package"] == after_trial
    assert body["activation_email"] == {"queued": True, "to": NEW_EMAIL, "to_given_address": True}
    assert NEW_EMAIL in body["message"] and "Aktywacja konta Comarch Cloud" in body["message"]
    assert "48 godzin" in body["message"]

    [account] = await rows(backend, Account, Account.email == NEW_EMAIL)
    assert account.name == "Jan Nowicki" and account.state == AccountState.PENDING_ACTIVATION
    assert account.password_hash is None and not account.cloud_login_activated
    [membership] = await rows(backend, Membership, Membership.account_id == account.id)
    assert membership.role == Role.OWNER
    [organisation] = await rows(backend, Organisation, Organisation.id == membership.organisation_id)
    assert organisation.kind == OrganisationKind.ACCOUNTING_OFFICE
    assert (organisation.nip, organisation.name) == ("5260250274", "Jan Nowicki")
    [subscription] = await rows(backend, Subscription, Subscription.organisation_id == organisation.id)
    assert subscription.package_code.value == package
    assert subscription.valid_until == date.fromisoformat(valid_until)
    assert subscription.trial_until == date.fromisoformat(trial_until)
    assert (subscription.pending_package_code.value if subscription.pending_package_code else None) == after_trial
    [licence] = await rows(backend, ComarchLicence, ComarchLicence.comarch_id == "68577")
    assert licence.organisation_id == organisation.id

    [message] = await smtp.wait_for(1)
    assert message["Subject"] == SUBJECT and message["To"] == NEW_EMAIL
    link = activation_link(message)
    assert link.startswith(f"{backend.url}/activate?token=") and link in html_text(message)
    assert "48 godzin" in body_text(message) and f"pakiet {name}" in body_text(message)
    [token] = await rows(backend, Token, Token.account_id == account.id)
    assert token.purpose == TokenPurpose.ACTIVATION
    assert token.expires_at - token.created_at == timedelta(hours=48)


async def test_existing_account_keeps_its_package_and_gets_the_link_at_its_own_address(http, backend, smtp):
    response = await register(http, backend, anna_licence_form(email="ktos@inny-adres.pl", package="gold"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "existing_account"
    assert body["package"] == {"code": "silver", "name": "srebrny"}
    assert body["valid_until"] == "2027-06-30"
    assert body["activation_email"] == {"queued": True, "to": "a***@biuro-nowak.pl", "to_given_address": False}
    message = body["message"]
    assert message.startswith("Podane ID Comarch posiada już konto iKsięgowość24.")
    assert "a***@biuro-nowak.pl" in message and "ktos@inny-adres.pl" not in message
    assert "pakiet srebrny, ważny do 30.06.2027" in message

    [mail] = await smtp.wait_for(1)
    assert mail["To"] == ANNA_NOWAK.email and mail["Subject"] == SUBJECT
    assert "nie zmieniają się" in body_text(mail)
    [subscription] = await rows(backend, Subscription, Subscription.valid_until == date(2027, 6, 30))
    assert subscription.package_code.value == "silver" and subscription.trial_until is None
    assert await count(backend, Account) == 2  # nothing created
    assert await count(backend, Organisation) == 2


async def test_existing_account_with_its_own_address_gets_the_guides_message(http, backend, smtp):
    response = await register(http, backend, anna_licence_form(package="green"))
    body = response.json()
    assert response.status_code == 200 and body["status"] == "existing_account"
    assert body["message"].startswith(GUIDE_MESSAGE)
    assert body["activation_email"] == {"queued": True, "to": ANNA_NOWAK.email, "to_given_address": True}
    assert body["package"]["code"] == "silver" and body["valid_until"] == "2027-06-30"
    assert [m["To"] for m in await smtp.wait_for(1)] == [ANNA_NOWAK.email]


async def test_registering_a_new_licence_twice_reaches_the_existing_account(http, backend, smtp):
    assert (await register(http, backend, new_licence_form(package="silver"))).status_code == 201
    again = await register(http, backend, new_licence_form(package="gold"))
    assert again.status_code == 200
    body = again.json()
    assert body["status"] == "existing_account" and body["message"].startswith(GUIDE_MESSAGE)
    assert body["package"]["code"] == "silver" and body["valid_until"] == "2027-02-21"
    messages = await smtp.wait_for(2)
    first, second = (activation_link(m) for m in messages)
    assert (await http.get(first)).status_code == 400  # the new link replaced it
    assert (await http.get(second)).status_code == 200
    assert await count(backend, Account, Account.email == NEW_EMAIL) == 1


async def test_activated_account_is_told_to_log_in_and_no_link_is_sent(http, backend, smtp):
    async with backend.app.ctx.sessions.begin() as session:
        anna = (await session.scalars(select(Account).where(Account.email == ANNA_NOWAK.email))).one()
        anna.cloud_login_activated = True
    response = await register(http, backend, anna_licence_form(email="ktos@inny-adres.pl"))
    body = response.json()
    assert response.status_code == 200 and body["status"] == "already_active"
    assert body["activation_email"]["queued"] is False
    assert "Nie pamiętam hasła" in body["message"] and "a***@biuro-nowak.pl" in body["message"]
    assert await count(backend, Token) == 0 and await count(backend, OutboxMessage) == 0


async def test_a_locked_account_is_sent_to_support(http, backend, smtp):
    async with backend.app.ctx.sessions.begin() as session:
        anna = (await session.scalars(select(Account).where(Account.email == ANNA_NOWAK.email))).one()
        anna.state = AccountState.LOCKED
    response = await register(http, backend, anna_licence_form())
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "licence_account_unavailable" and "kontakt@iksiegowosc24.pl" in error["message"]
    assert await count(backend, Token) == 0 and await count(backend, OutboxMessage) == 0


async def test_an_address_of_another_account_is_not_revealed(http, backend, smtp):
    taken = await register(http, backend, new_licence_form(email=JAN_KOWALSKI.email))
    assert taken.status_code == 201
    # Nothing was created and the licence stays free...
    assert await count(backend, Account) == 2
    [licence] = await rows(backend, ComarchLicence, ComarchLicence.comarch_id == "68577")
    assert licence.organisation_id is None
    # ...the address's owner is told (no link: that account is active)...
    [notice] = await smtp.wait_for(1)
    assert notice["To"] == JAN_KOWALSKI.email and notice["Subject"] == SUBJECT
    assert "nowe konto nie zostało" in body_text(notice) and "/activate" not in body_text(notice)
    # ...and the answer looks exactly like a created account's.
    created = await register(http, backend, new_licence_form())
    assert created.status_code == 201
    assert taken.json() == {
        **created.json(),
        "message": created.json()["message"].replace(NEW_EMAIL, JAN_KOWALSKI.email),
        "activation_email": {**created.json()["activation_email"], "to": JAN_KOWALSKI.email},
    }


async def test_audit_has_no_secrets_and_the_pin_is_never_echoed(http, backend, smtp):
    response = await register(http, backend, new_licence_form())
    wrong = await register(http, backend, anna_licence_form(pin="9876"))
    assert "4821" not in response.text and "9876" not in wrong.text
    events = await rows(backend, AuditEvent)
    assert {e.action for e in events} >= {"registration_account_created", "activation_link_sent", "licence_verification_failed"}
    for event in events:
        assert "4821" not in repr(event.details) and "9876" not in repr(event.details)
        assert "pin" not in repr(event.details).lower()


async def test_requires_service_token(http, backend):
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = await http.post(REGISTER, json=new_licence_form(), headers=headers)
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert await count(backend, Account) == 2
