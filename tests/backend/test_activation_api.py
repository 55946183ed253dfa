"""Activation links: resending, the /activate page, the JSON confirmation, and logging in after."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.demo_data import ANNA_NOWAK, JAN_KOWALSKI
from backend.models import Account, AccountState, AuditEvent, Subscription, Token, TokenPurpose
from backend.repositories import accounts
from backend.services import tokens
from backend.services.activation_links import ACTIVATION_EMAILS
from tests.backend.test_registration_api import (
    NEW_EMAIL,
    SUBJECT,
    activation_link,
    anna_licence_form,
    count,
    new_licence_form,
    register,
    rows,
)

RESEND = "/api/v1/auth/activation/resend"
CONFIRM = "/api/v1/auth/activation/confirm"
LOGIN = "/api/v1/auth/login"
PASSWORD = "Zielony!Las7"


def token_of(link: str) -> str:
    return link.split("token=", 1)[1]


async def resend(http, backend, email, requester=None):
    body = {"email": email} if requester is None else {"email": email, "requester": requester}
    return await http.post(RESEND, json=body, headers=backend.service_headers())


async def login(http, email, password=PASSWORD):
    return await http.post(LOGIN, json={"email": email, "password": password})


async def account(backend, email) -> Account:
    [found] = await rows(backend, Account, Account.email == email)
    return found


# --- resend ---------------------------------------------------------------------------------------

async def test_resend_sends_a_new_link_to_an_account_that_has_not_activated(http, backend, smtp):
    response = await resend(http, backend, ANNA_NOWAK.email.upper())
    assert response.status_code == 202
    [message] = await smtp.wait_for(1)
    assert message["To"] == ANNA_NOWAK.email and message["Subject"] == SUBJECT
    assert (await http.get(activation_link(message))).status_code == 200


async def test_resend_answers_the_same_for_unknown_and_activated_addresses(http, backend, smtp):
    answers = [await resend(http, backend, email)
               for email in (ANNA_NOWAK.email, "nikt@nieistnieje.pl", JAN_KOWALSKI.email)]
    assert {a.status_code for a in answers} == {202}
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert "Aktywacja konta Comarch Cloud" in answers[0].json()["message"]
    assert "48 godzin" in answers[0].json()["message"]
    await smtp.wait_for(1)
    assert [m["To"] for m in smtp.messages] == [ANNA_NOWAK.email]
    assert await count(backend, Token) == 1


async def test_resends_are_limited_per_requester_and_a_refusal_says_so(http, backend, smtp):
    assert (await register(http, backend, new_licence_form())).status_code == 201
    answers = [await resend(http, backend, NEW_EMAIL) for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert len({a.text for a in answers[:3]}) == 1
    refused = answers[3].json()["error"]
    assert refused["code"] == "activation_resend_limited"
    assert refused["details"] == {"retry_after_seconds": 3600}
    assert answers[3].headers["retry-after"] == "3600"
    await smtp.wait_for(4)
    assert await count(backend, Token, Token.purpose == TokenPurpose.ACTIVATION) == 4
    # An unknown address is refused alike (nothing to learn), but from its own buckets.
    other = {"conversation": "rozmowa-2", "network": "198.51.100.0/24"}
    unknown = [await resend(http, backend, "nikt@nieistnieje.pl", other) for _ in range(4)]
    assert [a.status_code for a in unknown] == [202, 202, 202, 429]
    backend.clock.advance(minutes=61)
    assert (await resend(http, backend, NEW_EMAIL)).status_code == 202
    messages = await smtp.wait_for(5)
    # Only the newest link works.
    links = [activation_link(m) for m in messages]
    assert [(await http.get(link)).status_code for link in links] == [400, 400, 400, 400, 200]


async def test_registration_of_an_existing_account_respects_the_mailbox_cap(http, backend, smtp):
    for n in range(ACTIVATION_EMAILS.limit):
        requester = {"network": f"10.0.{n}.0/24", "conversation": f"rozmowa-{n}"}
        assert (await resend(http, backend, ANNA_NOWAK.email, requester)).status_code == 202
    response = await register(http, backend, anna_licence_form())
    body = response.json()
    assert response.status_code == 200 and body["status"] == "existing_account"
    assert body["activation_email"]["queued"] is False
    assert "kilka linków aktywacyjnych" in body["message"]
    await smtp.wait_for(ACTIVATION_EMAILS.limit)
    assert await count(backend, Token) == ACTIVATION_EMAILS.limit
    # The mailbox cap holds whoever asks next.
    late = await resend(http, backend, ANNA_NOWAK.email, {"network": "192.0.2.0/24"})
    assert late.status_code == 429


@pytest.mark.parametrize("body", [{}, {"email": "nie-mail"}, {"email": 5}, {"email": "a@b.pl", "x": 1}])
async def test_resend_bad_input(http, backend, body):
    response = await http.post(RESEND, json=body, headers=backend.service_headers())
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["details"][0]["message"]


async def test_resend_requires_service_token(http, backend):
    response = await http.post(RESEND, json={"email": ANNA_NOWAK.email})
    assert response.status_code == 401
    assert await count(backend, Token) == 0


# --- the page ---------------------------------------------------------------------------------------

async def registered_link(http, backend, smtp, form=None) -> str:
    response = await register(http, backend, form or new_licence_form())
    assert response.status_code in (200, 201)
    return activation_link((await smtp.wait_for(1))[-1])


async def test_get_shows_the_form_with_the_email_and_does_not_consume(http, backend, smtp):
    link = await registered_link(http, backend, smtp)
    for _ in range(2):
        page = await http.get(link)
        assert page.status_code == 200
        assert "Aktywacja konta Comarch Cloud" in page.text and NEW_EMAIL in page.text
        assert 'name="password_confirm"' in page.text and "co najmniej 8 znaków" in page.text
        assert page.headers["cache-control"] == "no-store"
    [token] = await rows(backend, Token)
    assert token.consumed_at is None


async def test_weak_password_lists_every_failed_rule_and_keeps_the_link(http, backend, smtp):
    link = await registered_link(http, backend, smtp)
    page = await http.post(
        "/activate", data={"token": token_of(link), "password": "nowicki", "password_confirm": "nowickiX"}
    )
    assert page.status_code == 422
    for text in ("co najmniej 8 znaków", "nazwy użytkownika", "trzech grup", "takie same"):
        assert text in page.text
    assert NEW_EMAIL in page.text
    api = await http.post(CONFIRM, json={"token": token_of(link), "password": "abc", "password_confirm": "abc"})
    assert api.status_code == 422
    assert [d["rule"] for d in api.json()["error"]["details"]] == ["min_length", "character_groups"]
    assert (await account(backend, NEW_EMAIL)).state == AccountState.PENDING_ACTIVATION
    assert (await http.get(link)).status_code == 200


async def test_new_account_activates_on_the_page_then_logs_in(http, backend, smtp):
    link = await registered_link(http, backend, smtp)
    assert (await login(http, NEW_EMAIL)).status_code == 401  # not before
    done = await http.post(
        "/activate", data={"token": token_of(link), "password": PASSWORD, "password_confirm": PASSWORD}
    )
    assert done.status_code == 200 and "Konto zostało aktywowane" in done.text
    activated = await account(backend, NEW_EMAIL)
    assert activated.state == AccountState.ACTIVE and activated.cloud_login_activated
    assert activated.password_hash.startswith("$argon2id$")
    ok = await login(http, NEW_EMAIL.upper())
    assert ok.status_code == 200 and ok.json()["account"]["name"] == "Jan Nowicki"
    again = await http.get(link)
    assert again.status_code == 400 and "Link aktywacyjny jest nieprawidłowy" in again.text
    [event] = await rows(backend, AuditEvent, AuditEvent.action == "account_activated")
    assert event.details == {"via": "activation"}


async def test_anna_activates_through_the_json_api_and_keeps_her_package(http, backend, smtp):
    link = await registered_link(http, backend, smtp, anna_licence_form(package="gold"))
    response = await http.post(
        CONFIRM, json={"token": token_of(link), "password": PASSWORD, "password_confirm": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "activated" and "zalogować" in response.json()["message"]
    assert (await login(http, ANNA_NOWAK.email)).status_code == 200
    anna = await account(backend, ANNA_NOWAK.email)
    assert anna.cloud_login_activated and anna.state == AccountState.ACTIVE
    [subscription] = await rows(backend, Subscription, Subscription.package_code == "silver")
    assert str(subscription.valid_until) == "2027-06-30"
    # Once activated, neither resend nor registration sends another link.
    await resend(http, backend, ANNA_NOWAK.email)
    again = await register(http, backend, anna_licence_form())
    assert again.json()["status"] == "already_active"
    assert len(smtp.messages) == 1


async def test_link_expires_after_48_hours(http, backend, smtp):
    link = await registered_link(http, backend, smtp)
    backend.clock.advance(hours=47, minutes=59)
    assert (await http.get(link)).status_code == 200
    backend.clock.advance(minutes=2)
    response = await http.post(CONFIRM, json={"token": token_of(link), "password": PASSWORD, "password_confirm": PASSWORD})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_token"
    assert "Link aktywacyjny" in response.json()["error"]["message"]
    assert (await http.get(link)).status_code == 400


async def issue(backend, email, purpose, payload=None) -> str:
    async with backend.app.ctx.sessions.begin() as session:
        target = await accounts.get_by_email(session, email)
        raw = await tokens.issue(session, target, purpose, timedelta(days=7), backend.clock)
        if payload:
            (await session.scalars(select(Token).where(Token.account_id == target.id, Token.consumed_at.is_(None)))).one().payload = payload
    return raw


async def test_invitation_links_land_on_the_same_page(http, backend):
    async with backend.app.ctx.sessions.begin() as session:
        session.add(Account(email="ewa.kowal@majafirma.pl", name="Ewa Kowal", state=AccountState.PENDING_ACTIVATION))
    raw = await issue(backend, "ewa.kowal@majafirma.pl", TokenPurpose.INVITATION, {"role": "employee"})
    page = await http.get("/activate", params={"token": raw})
    assert page.status_code == 200
    assert "Przyjmij zaproszenie" in page.text and "ewa.kowal@majafirma.pl" in page.text
    done = await http.post("/activate", data={"token": raw, "password": PASSWORD, "password_confirm": PASSWORD})
    assert done.status_code == 200
    assert (await login(http, "ewa.kowal@majafirma.pl")).status_code == 200
    [token] = await rows(backend, Token)
    assert token.consumed_reason == "used" and token.payload == {"role": "employee"}
    [event] = await rows(backend, AuditEvent, AuditEvent.action == "account_activated")
    assert event.details == {"via": "invitation"}


async def test_other_purposes_do_not_open_the_activation_page(http, backend):
    raw = await issue(backend, ANNA_NOWAK.email, TokenPurpose.PASSWORD_RESET)
    assert (await http.get("/activate", params={"token": raw})).status_code == 400
    response = await http.post(CONFIRM, json={"token": raw, "password": PASSWORD, "password_confirm": PASSWORD})
    assert response.status_code == 400
    assert (await http.get("/reset-password", params={"token": raw})).status_code == 200  # still usable there


@pytest.mark.parametrize(
    "query", ["", "?token=", "?token=nope", "?token=" + "x" * 500], ids=["none", "empty", "unknown", "long"]
)
async def test_bad_links_show_a_polish_page(http, backend, query):
    page = await http.get("/activate" + query)
    assert page.status_code == 400 and "Ten link nie działa" in page.text
    assert "Nowy link aktywacyjny" in page.text


@pytest.mark.parametrize(
    "body",
    [
        {"token": "nope", "password": PASSWORD, "password_confirm": PASSWORD},
        {"token": "", "password": PASSWORD, "password_confirm": PASSWORD},
        {"password": PASSWORD},
        {"token": 5, "password": PASSWORD, "password_confirm": PASSWORD},
    ],
)
async def test_confirm_with_bad_token_or_fields(http, backend, body):
    response = await http.post(CONFIRM, json=body)
    assert response.status_code in (400, 422)
    error = response.json()["error"]
    assert error["code"] in ("invalid_token", "validation_error") and error["message"]


async def test_post_page_with_a_bad_token(http, backend):
    page = await http.post("/activate", data={"token": "nope", "password": PASSWORD, "password_confirm": PASSWORD})
    assert page.status_code == 400 and "Ten link nie działa" in page.text


async def test_the_link_works_once_even_for_two_submissions(http, backend, smtp):
    link = await registered_link(http, backend, smtp)
    body = {"token": token_of(link), "password": PASSWORD, "password_confirm": PASSWORD}
    first = await http.post(CONFIRM, json=body)
    second = await http.post(CONFIRM, json={**body, "password": "Inne!Haslo9", "password_confirm": "Inne!Haslo9"})
    assert (first.status_code, second.status_code) == (200, 400)
    assert (await login(http, NEW_EMAIL)).status_code == 200
    assert (await login(http, NEW_EMAIL, "Inne!Haslo9")).status_code == 401
