"""Company users through real HTTP, a real database and a real SMTP server."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.api.service_auth import GRANT_HEADER
from backend.demo_data import ANNA_NOWAK
from backend.models import (
    Account,
    AccountState,
    AuditEvent,
    Membership,
    Organisation,
    OutboxMessage,
    Role,
    Token,
    TokenPurpose,
)
from backend.repositories import accounts
from backend.security.tokens import digest
from tests.support.smtp import body_text, html_text

MEMBERS = "/api/v1/organisation/members"
LOGIN = "/api/v1/auth/login"
CONFIRM_API = "/api/v1/auth/email-change/confirm"
OLA = {"email": "ola.wisniewska@majafirma.pl", "name": "Ola Wiśniewska"}
PIOTR_PASSWORD = "Magazyn#2026x"


# --- helpers --------------------------------------------------------------------------------------


async def add(http, headers, role="employee", **person):
    body = {**OLA, "role": role, **person}
    return await http.post(MEMBERS, json=body, headers=headers)


async def count(backend, model, *where) -> int:
    async with backend.app.ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def rows(backend, model, *where, order=None):
    async with backend.app.ctx.sessions() as session:
        statement = select(model).where(*where).order_by(order if order is not None else model.id)
        return list(await session.scalars(statement))


async def account(backend, email) -> Account | None:
    async with backend.app.ctx.sessions() as session:
        return await accounts.get_by_email(session, email)


async def membership_id(backend, email, organisation_name="Majama Michał Zając") -> int:
    async with backend.app.ctx.sessions() as session:
        return await session.scalar(
            select(Membership.id)
            .join(Account, Account.id == Membership.account_id)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .where(Account.email == email, Organisation.name == organisation_name)
        )


async def organisation_id(backend, name) -> int:
    async with backend.app.ctx.sessions() as session:
        return await session.scalar(select(Organisation.id).where(Organisation.name == name))


async def activate(backend, email, password=PIOTR_PASSWORD) -> None:
    """Stand-in for the invitee accepting the invitation (/activate belongs to registration)."""
    password_hash = await backend.app.ctx.deps.hasher.hash(password)
    async with backend.app.ctx.sessions.begin() as session:
        stored = await accounts.get_by_email(session, email)
        stored.password_hash = password_hash
        stored.state = AccountState.ACTIVE


async def active_member(http, backend, grant_for, jan, role, email="piotr.zajac@majafirma.pl"):
    """A second, active member of Jan's company; returns (membership id, their grant headers)."""
    owner = await grant_for(jan.email)
    response = await add(http, owner, role=role, email=email, name="Piotr Zając")
    assert response.status_code == 201, response.text
    await activate(backend, email)
    return response.json()["member"]["id"], await grant_for(email)


async def assert_subject(backend, message, expected: str) -> None:
    """The subject we queued is exact; the delivered one is compared without whitespace.

    CPython's header folding (used by aiosmtplib at 78 columns) can drop the space next to an
    RFC 2047 encoded word in long Polish subjects; that belongs to the shared sender, not here.
    """
    queued = await rows(backend, OutboxMessage, OutboxMessage.to_address == message["To"],
                        OutboxMessage.subject == expected)
    assert queued, f"no e-mail to {message['To']} with subject {expected!r}"
    assert "".join(message["Subject"].split()) == "".join(expected.split())


async def login(http, email, password):
    return await http.post(LOGIN, json={"email": email, "password": password})


def mail_to(smtp, address):
    return [m for m in smtp.messages if m["To"] == address]


def link_in(message, path) -> str:
    return re.search(rf"http://\S+{path}\?token=[\w-]+", body_text(message)).group(0)


def token_of(link: str) -> str:
    return link.split("token=", 1)[1]


def error_code(response) -> str:
    return response.json()["error"]["code"]


# --- list -----------------------------------------------------------------------------------------


async def test_owner_lists_members_like_the_guide(http, backend, jan, grant_for):
    response = await http.get(MEMBERS, headers=await grant_for(jan.email))
    assert response.status_code == 200
    body = response.json()
    assert body["organisation"]["name"] == "Majama Michał Zając"
    [member] = body["members"]
    assert member["name"] == "Jan Kowalski" and member["email"] == jan.email
    assert member["role"] == {"code": "owner", "label": "właściciel / prezes"}
    assert member["state"] == "active" and member["is_you"] is True


async def test_list_shows_owner_first_then_added_users_with_their_state(
    http, backend, smtp, jan, grant_for
):
    headers = await grant_for(jan.email)
    await add(http, headers, role="warehouse")
    await add(http, headers, role="management", email=ANNA_NOWAK.email, name="x")
    members = (await http.get(MEMBERS, headers=headers)).json()["members"]
    assert [(m["email"], m["role"]["code"], m["state"]) for m in members] == [
        (jan.email, "owner", "active"),
        (OLA["email"], "warehouse", "invited"),
        (ANNA_NOWAK.email, "management", "active"),
    ]
    assert members[1]["role"]["label"] == "magazynier"
    assert members[2]["role"]["label"] == "zarząd / pełnomocnik / księgowy"


# --- add ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "label"),
    [
        ("employee", "pracownik"),
        ("management", "zarząd / pełnomocnik / księgowy"),
        ("warehouse", "magazynier"),
    ],
)
async def test_add_new_person_creates_pending_account_and_sends_invitation(
    http, backend, smtp, jan, grant_for, role, label
):
    response = await add(http, await grant_for(jan.email), role=role)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["invitation_sent"] is True
    assert body["member"]["role"] == {"code": role, "label": label}
    assert body["member"]["state"] == "invited"
    assert "7 dni" in body["message"]

    created = await account(backend, OLA["email"])
    assert created.state == AccountState.PENDING_ACTIVATION and created.password_hash is None
    assert created.name == OLA["name"]

    [message] = await smtp.wait_for(1)
    assert message["To"] == OLA["email"]
    await assert_subject(
        backend, message, "Zaproszenie do firmy Majama Michał Zając – iKsięgowość24"
    )
    text = body_text(message)
    for expected in ("Jan Kowalski", "„Majama Michał Zając”", f"Twoja rola: {label}.",
                     "ważny przez 7 dni", "Dzień dobry, Ola Wiśniewska!"):
        assert expected in text
    link = link_in(message, "/activate")
    assert link.startswith(f"{backend.url}/activate?token=")
    assert link in html_text(message)

    [token] = await rows(backend, Token)
    assert token.purpose == TokenPurpose.INVITATION and token.account_id == created.id
    assert token.token_hash == digest(token_of(link))
    assert token.expires_at - token.created_at == timedelta(days=7)
    assert token.payload["role"] == role
    assert token.payload["organisation_id"] == await organisation_id(backend, "Majama Michał Zając")

    [event] = await rows(backend, AuditEvent)
    jan_id = (await account(backend, jan.email)).id
    assert event.action == "member_added" and event.actor == f"assistant:account:{jan_id}"
    assert event.details["role"] == role and event.details["invited"] is True
    assert token_of(link) not in repr(event.details)


async def test_invitee_accepts_on_the_activation_page_and_becomes_active(
    http, backend, smtp, jan, grant_for
):
    """The invitation link works on /activate (registration's page): password set, member active."""
    headers = await grant_for(jan.email)
    assert (await add(http, headers, role="warehouse")).status_code == 201
    [message] = await smtp.wait_for(1)
    link = link_in(message, "/activate")
    assert (await http.get(link)).status_code == 200
    done = await http.post("/activate", data={
        "token": token_of(link), "password": PIOTR_PASSWORD, "password_confirm": PIOTR_PASSWORD,
    })
    assert done.status_code == 200, done.text
    assert (await login(http, OLA["email"], PIOTR_PASSWORD)).status_code == 200
    members = (await http.get(MEMBERS, headers=headers)).json()["members"]
    assert [(m["email"], m["role"]["code"], m["state"]) for m in members][1] == (
        OLA["email"], "warehouse", "active"
    )


async def test_role_may_be_given_by_its_polish_label(http, backend, jan, grant_for):
    response = await add(http, await grant_for(jan.email), role="Magazynier")
    assert response.status_code == 201
    assert response.json()["member"]["role"]["code"] == "warehouse"


async def test_add_existing_account_adds_membership_and_sends_a_notice(
    http, backend, smtp, jan, grant_for
):
    response = await add(
        http, await grant_for(jan.email), role="management", email=ANNA_NOWAK.email.upper(),
        name="Inne Imię",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["invitation_sent"] is False
    assert body["member"]["state"] == "active"
    # The existing account keeps its own name; no new account, no invitation link.
    assert body["member"]["name"] == "Anna Nowak"
    assert await count(backend, Account) == 2
    assert await count(backend, Token) == 0
    anna_id = (await account(backend, ANNA_NOWAK.email)).id
    assert await count(backend, Membership, Membership.account_id == anna_id) == 2

    [message] = await smtp.wait_for(1)
    assert message["To"] == ANNA_NOWAK.email
    await assert_subject(
        backend, message, "Masz dostęp do firmy Majama Michał Zając – iKsięgowość24"
    )
    assert "zarząd / pełnomocnik / księgowy" in body_text(message)
    assert "token=" not in body_text(message)


async def test_adding_someone_already_in_the_company_is_refused(
    http, backend, smtp, jan, grant_for
):
    headers = await grant_for(jan.email)
    assert (await add(http, headers)).status_code == 201
    again = await add(http, headers, role="warehouse", email=OLA["email"].upper())
    assert again.status_code == 409 and error_code(again) == "already_member"
    assert "ma już dostęp" in again.json()["error"]["message"]
    owner_again = await add(http, headers, email=jan.email)
    assert owner_again.status_code == 409 and error_code(owner_again) == "already_member"
    assert await count(backend, Membership) == 3  # Jan, Anna (her own company), Ola
    assert await count(backend, OutboxMessage) == 1


async def test_owner_role_cannot_be_granted(http, backend, jan, grant_for):
    for role in ("owner", "właściciel / prezes"):
        response = await add(http, await grant_for(jan.email), role=role)
        assert response.status_code == 422
        assert error_code(response) == "owner_role_not_assignable"
        assert "przekazanie firmy" in response.json()["error"]["message"]
    assert await account(backend, OLA["email"]) is None
    assert await count(backend, OutboxMessage) == 0
    assert await count(backend, AuditEvent) == 0


async def test_removed_invitee_can_be_invited_again(http, backend, smtp, jan, grant_for):
    headers = await grant_for(jan.email)
    first = (await add(http, headers)).json()["member"]["id"]
    assert (await http.delete(f"{MEMBERS}/{first}", headers=headers)).status_code == 200
    [first_token] = await rows(backend, Token)
    assert first_token.consumed_at is not None  # the withdrawn invitation no longer works

    again = await add(http, headers, role="warehouse")
    assert again.status_code == 201 and again.json()["invitation_sent"] is True
    messages = await smtp.wait_for(2)
    assert [m["To"] for m in messages] == [OLA["email"], OLA["email"]]
    assert await count(backend, Token, Token.consumed_at.is_(None)) == 1


# --- change role ----------------------------------------------------------------------------------


async def test_owner_changes_a_role(http, backend, smtp, jan, grant_for):
    member_id, _ = await active_member(http, backend, grant_for, jan, "employee")
    headers = await grant_for(jan.email)
    response = await http.patch(
        f"{MEMBERS}/{member_id}", json={"role": "management"}, headers=headers
    )
    assert response.status_code == 200
    body = response.json()
    assert body["changed"] is True
    assert body["member"]["role"] == {
        "code": "management", "label": "zarząd / pełnomocnik / księgowy"
    }
    [stored] = await rows(backend, Membership, Membership.id == member_id)
    assert stored.role == Role.MANAGEMENT

    [event] = await rows(backend, AuditEvent, AuditEvent.action == "member_role_changed")
    assert event.details["old_role"] == "employee" and event.details["new_role"] == "management"
    await smtp.wait_for(2)
    [notice] = mail_to(smtp, "piotr.zajac@majafirma.pl")[1:]
    await assert_subject(
        backend, notice, "Zmiana Twojej roli w firmie Majama Michał Zając – iKsięgowość24"
    )
    assert "z „pracownik” na „zarząd / pełnomocnik / księgowy”" in body_text(notice)

    same = await http.patch(f"{MEMBERS}/{member_id}", json={"role": "management"}, headers=headers)
    assert same.status_code == 200 and same.json()["changed"] is False
    assert await count(backend, AuditEvent, AuditEvent.action == "member_role_changed") == 1


async def test_nobody_can_be_promoted_to_owner(http, backend, jan, grant_for):
    member_id, _ = await active_member(http, backend, grant_for, jan, "management")
    response = await http.patch(
        f"{MEMBERS}/{member_id}", json={"role": "owner"}, headers=await grant_for(jan.email)
    )
    assert response.status_code == 422 and error_code(response) == "owner_role_not_assignable"
    [stored] = await rows(backend, Membership, Membership.id == member_id)
    assert stored.role == Role.MANAGEMENT


async def test_the_owner_cannot_be_demoted_or_removed(http, backend, jan, grant_for):
    headers = await grant_for(jan.email)
    owner_id = await membership_id(backend, jan.email)
    for role in ("employee", "management", "warehouse"):
        demote = await http.patch(f"{MEMBERS}/{owner_id}", json={"role": role}, headers=headers)
        assert demote.status_code == 409 and error_code(demote) == "last_owner"
    remove = await http.delete(f"{MEMBERS}/{owner_id}", headers=headers)
    assert remove.status_code == 409 and error_code(remove) == "last_owner"
    assert "firma musi mieć zawsze właściciela" in remove.json()["error"]["message"]
    [stored] = await rows(backend, Membership, Membership.id == owner_id)
    assert stored.role == Role.OWNER
    assert await count(backend, AuditEvent) == 0


# --- remove ---------------------------------------------------------------------------------------


async def test_owner_removes_a_member(http, backend, smtp, jan, grant_for):
    member_id, member_headers = await active_member(http, backend, grant_for, jan, "warehouse")
    headers = await grant_for(jan.email)
    response = await http.delete(f"{MEMBERS}/{member_id}", headers=headers)
    assert response.status_code == 200
    assert "nie ma już dostępu do firmy Majama Michał Zając" in response.json()["message"]
    members = (await http.get(MEMBERS, headers=headers)).json()["members"]
    assert [m["email"] for m in members] == [jan.email]
    # The account stays (it is the person's login); only the company access is gone.
    assert (await account(backend, "piotr.zajac@majafirma.pl")).state == AccountState.ACTIVE
    [event] = await rows(backend, AuditEvent, AuditEvent.action == "member_removed")
    assert event.details["membership_id"] == member_id

    await smtp.wait_for(2)
    [notice] = mail_to(smtp, "piotr.zajac@majafirma.pl")[1:]
    await assert_subject(
        backend, notice, "Koniec dostępu do firmy Majama Michał Zając – iKsięgowość24"
    )
    # The removed person's own grant no longer reaches the company.
    gone = await http.get(MEMBERS, headers=member_headers)
    assert gone.status_code == 404 and error_code(gone) == "organisation_not_found"
    again = await http.delete(f"{MEMBERS}/{member_id}", headers=headers)
    assert again.status_code == 404 and error_code(again) == "member_not_found"


# --- who may --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["employee", "management", "warehouse"])
async def test_non_owner_is_refused_every_operation(http, backend, smtp, jan, grant_for, role):
    member_id, headers = await active_member(http, backend, grant_for, jan, role)
    owner_id = await membership_id(backend, jan.email)
    outbox_before = await count(backend, OutboxMessage)
    audit_before = await count(backend, AuditEvent)
    attempts = [
        await http.get(MEMBERS, headers=headers),
        await add(http, headers, role="employee"),
        await http.patch(f"{MEMBERS}/{member_id}", json={"role": "management"}, headers=headers),
        await http.patch(f"{MEMBERS}/{owner_id}", json={"role": "employee"}, headers=headers),
        await http.delete(f"{MEMBERS}/{owner_id}", headers=headers),
        await http.delete(f"{MEMBERS}/{member_id}", headers=headers),
        await http.post(f"{MEMBERS}/{owner_id}/email-change", json={"new_email": "zly@x.pl"},
                        headers=headers),
    ]
    for response in attempts:
        assert response.status_code == 403, response.text
        assert error_code(response) == "not_owner"
        assert response.json()["error"]["message"].startswith(
            "Tę operację może wykonać tylko właściciel firmy"
        )
    assert await account(backend, OLA["email"]) is None
    assert await count(backend, Membership) == 3
    assert (await rows(backend, Membership, Membership.id == member_id))[0].role == Role(role)
    assert await count(backend, OutboxMessage) == outbox_before
    assert await count(backend, AuditEvent) == audit_before


async def test_member_of_another_company_cannot_be_touched(http, backend, jan, grant_for):
    anna_member = await membership_id(backend, ANNA_NOWAK.email, "Biuro Rachunkowe Anna Nowak")
    headers = await grant_for(jan.email)
    attempts = [
        await http.patch(f"{MEMBERS}/{anna_member}", json={"role": "employee"}, headers=headers),
        await http.delete(f"{MEMBERS}/{anna_member}", headers=headers),
        await http.post(f"{MEMBERS}/{anna_member}/email-change",
                        json={"new_email": "przejete@x.pl"}, headers=headers),
        await http.delete(f"{MEMBERS}/999999", headers=headers),
    ]
    for response in attempts:
        assert response.status_code == 404 and error_code(response) == "member_not_found"
        assert "Anna" not in response.text and "Biuro" not in response.text
    anna_org = await organisation_id(backend, "Biuro Rachunkowe Anna Nowak")
    foreign = await http.get(MEMBERS, params={"organisation_id": anna_org}, headers=headers)
    assert foreign.status_code == 404 and error_code(foreign) == "organisation_not_found"
    assert "Anna" not in foreign.text
    assert (await account(backend, ANNA_NOWAK.email)).email == ANNA_NOWAK.email
    assert await count(backend, Token) == 0


async def test_caller_in_several_companies_must_name_one(http, backend, jan, grant_for):
    anna_headers = await grant_for(ANNA_NOWAK.email)
    joined = await add(http, anna_headers, role="management", email=jan.email, name="x")
    assert joined.status_code == 201
    headers = await grant_for(jan.email)

    ambiguous = await http.get(MEMBERS, headers=headers)
    assert ambiguous.status_code == 422 and error_code(ambiguous) == "organisation_required"
    names = {o["name"] for o in ambiguous.json()["error"]["details"]["organisations"]}
    assert names == {"Majama Michał Zając", "Biuro Rachunkowe Anna Nowak"}

    own = await organisation_id(backend, "Majama Michał Zając")
    anna_org = await organisation_id(backend, "Biuro Rachunkowe Anna Nowak")
    listed = await http.get(MEMBERS, params={"organisation_id": own}, headers=headers)
    assert listed.status_code == 200 and listed.json()["organisation"]["id"] == own
    # In Anna's company Jan is management, so he may not manage users there.
    there = await http.get(MEMBERS, params={"organisation_id": anna_org}, headers=headers)
    assert there.status_code == 403 and error_code(there) == "not_owner"
    added = await add(http, headers, organisation_id=own)
    assert added.status_code == 201 and added.json()["organisation"]["id"] == own
    refused = await add(http, headers, email="inna@x.pl", organisation_id=anna_org)
    assert refused.status_code == 403


# --- verification grant ---------------------------------------------------------------------------


def _every_route(owner_id: int):
    return [
        ("GET", MEMBERS, None),
        ("POST", MEMBERS, {**OLA, "role": "employee"}),
        ("PATCH", f"{MEMBERS}/{owner_id}", {"role": "employee"}),
        ("DELETE", f"{MEMBERS}/{owner_id}", None),
        ("POST", f"{MEMBERS}/{owner_id}/email-change", {"new_email": "nowy@x.pl"}),
        ("POST", f"{MEMBERS}/me/email-change", {"new_email": "nowy@x.pl"}),
    ]


async def test_every_route_needs_a_verification_grant(http, backend, jan):
    owner_id = await membership_id(backend, jan.email)
    for method, url, body in _every_route(owner_id):
        for grant in (None, "", "nieprawidlowy-grant"):
            headers = backend.service_headers()
            if grant is not None:
                headers[GRANT_HEADER] = grant
            response = await http.request(method, url, json=body, headers=headers)
            assert response.status_code == 401, (method, url)
            assert error_code(response) == "verification_required"
        no_service = await http.request(method, url, json=body)
        assert no_service.status_code == 401 and error_code(no_service) == "unauthorized"
    assert await count(backend, Membership) == 2 and await count(backend, OutboxMessage) == 0


async def test_expired_grant_is_refused(http, backend, jan, grant_for):
    headers = await grant_for(jan.email)
    assert (await http.get(MEMBERS, headers=headers)).status_code == 200
    backend.clock.advance(minutes=16)
    owner_id = await membership_id(backend, jan.email)
    for method, url, body in _every_route(owner_id):
        response = await http.request(method, url, json=body, headers=headers)
        assert response.status_code == 401 and error_code(response) == "verification_required"
    assert await account(backend, OLA["email"]) is None


# --- e-mail (login) change ------------------------------------------------------------------------

NEW_JAN = "jan.kowalski@nowa-firma.pl"


async def own_change(http, headers, new_email=NEW_JAN):
    return await http.post(f"{MEMBERS}/me/email-change", json={"new_email": new_email},
                           headers=headers)


async def test_own_email_change_full_journey(http, backend, smtp, jan, grant_for):
    response = await own_change(http, await grant_for(jan.email), NEW_JAN.upper())
    assert response.status_code == 202
    assert response.json()["status"] == "confirmation_sent"
    assert "24 godziny" in response.json()["message"]

    await smtp.wait_for(2)
    [confirm] = mail_to(smtp, NEW_JAN)
    [notice] = mail_to(smtp, jan.email)
    await assert_subject(backend, confirm, "Potwierdź nowy adres e-mail – iKsięgowość24")
    await assert_subject(
        backend, notice, "Prośba o zmianę adresu e-mail do logowania – iKsięgowość24"
    )
    assert NEW_JAN in body_text(notice) and "token=" not in body_text(notice)
    assert "ważny przez 24 godziny" in body_text(confirm)
    link = link_in(confirm, "/confirm-email")
    assert link.startswith(f"{backend.url}/confirm-email?token=") and link in html_text(confirm)
    [token] = await rows(backend, Token)
    assert token.purpose == TokenPurpose.EMAIL_CHANGE and token.payload["new_email"] == NEW_JAN
    assert token.expires_at - token.created_at == timedelta(hours=24)

    # Nothing changes until the new address confirms; opening the link does not use it.
    for _ in range(2):
        page = await http.get(link)
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert jan.email in page.text and NEW_JAN in page.text and "Potwierdź zmianę" in page.text
    assert (await account(backend, jan.email)) is not None
    assert (await login(http, jan.email, jan.password)).status_code == 200
    assert (await login(http, NEW_JAN, jan.password)).status_code == 401

    done = await http.post("/confirm-email", data={"token": token_of(link)})
    assert done.status_code == 200 and "Adres e-mail został zmieniony" in done.text
    assert NEW_JAN in done.text

    ok = await http.post(LOGIN, json={"email": NEW_JAN, "password": jan.password})
    assert ok.status_code == 200 and ok.json()["account"]["email"] == NEW_JAN
    old = await http.post(LOGIN, json={"email": jan.email, "password": jan.password})
    assert old.status_code == 401

    await smtp.wait_for(3)
    [_, changed] = mail_to(smtp, jan.email)
    await assert_subject(
        backend, changed, "Adres e-mail do logowania został zmieniony – iKsięgowość24"
    )
    assert NEW_JAN in body_text(changed)

    reused = await http.post("/confirm-email", data={"token": token_of(link)})
    assert reused.status_code == 400 and "został już użyty" in reused.text
    assert (await http.get(link)).status_code == 400
    api_reuse = await http.post(CONFIRM_API, json={"token": token_of(link)})
    assert api_reuse.status_code == 400 and error_code(api_reuse) == "invalid_token"

    actions = [e.action for e in await rows(backend, AuditEvent)]
    assert actions == ["email_change_requested", "email_changed"]
    for event in await rows(backend, AuditEvent):
        assert token_of(link) not in repr(event.details)


async def test_owner_changes_a_members_email_confirmed_through_the_json_api(
    http, backend, smtp, jan, grant_for
):
    member_id, _ = await active_member(http, backend, grant_for, jan, "employee")
    response = await http.post(
        f"{MEMBERS}/{member_id}/email-change", json={"new_email": "piotr@nowy.pl"},
        headers=await grant_for(jan.email),
    )
    assert response.status_code == 202
    await smtp.wait_for(3)
    [confirm] = mail_to(smtp, "piotr@nowy.pl")
    [_, notice] = mail_to(smtp, "piotr.zajac@majafirma.pl")
    assert "Właściciel firmy poprosił" in body_text(notice)

    link = link_in(confirm, "/confirm-email")
    done = await http.post(CONFIRM_API, json={"token": token_of(link)})
    assert done.status_code == 200
    assert done.json() == {
        "status": "email_changed", "email": "piotr@nowy.pl",
        "message": "Adres e-mail do logowania został zmieniony na piotr@nowy.pl.",
    }
    assert (await login(http, "piotr@nowy.pl", PIOTR_PASSWORD)).status_code == 200
    members = (await http.get(MEMBERS, headers=await grant_for(jan.email))).json()["members"]
    assert [m["email"] for m in members] == [jan.email, "piotr@nowy.pl"]


async def test_non_owner_may_change_their_own_email(http, backend, smtp, jan, grant_for):
    member_id, headers = await active_member(http, backend, grant_for, jan, "warehouse")
    by_id = await http.post(f"{MEMBERS}/{member_id}/email-change",
                            json={"new_email": "piotr@nowy.pl"}, headers=headers)
    assert by_id.status_code == 202
    by_me = await own_change(http, headers, "piotr@inny.pl")
    assert by_me.status_code == 202
    # The second request replaced the first link.
    assert await count(backend, Token, Token.purpose == TokenPurpose.EMAIL_CHANGE,
                       Token.consumed_at.is_(None)) == 1
    await smtp.wait_for(5)
    first = link_in(mail_to(smtp, "piotr@nowy.pl")[0], "/confirm-email")
    assert (await http.get(first)).status_code == 400


async def test_taken_address_is_refused_at_request(http, backend, jan, grant_for):
    response = await own_change(http, await grant_for(jan.email), ANNA_NOWAK.email.upper())
    assert response.status_code == 409 and error_code(response) == "email_taken"
    assert "nic nie zostało zmienione" in response.json()["error"]["message"]
    assert await count(backend, Token) == 0 and await count(backend, OutboxMessage) == 0


async def test_address_taken_before_confirmation_changes_nothing(
    http, backend, smtp, jan, grant_for
):
    headers = await grant_for(jan.email)
    assert (await own_change(http, headers, OLA["email"])).status_code == 202
    await smtp.wait_for(2)
    link = link_in(mail_to(smtp, OLA["email"])[0], "/confirm-email")
    # Meanwhile the address becomes another account's login.
    assert (await add(http, headers)).status_code == 201

    api = await http.post(CONFIRM_API, json={"token": token_of(link)})
    assert api.status_code == 409 and error_code(api) == "email_taken"
    page = await http.post("/confirm-email", data={"token": token_of(link)})
    assert page.status_code == 409 and "jest już loginem innego konta" in page.text
    assert (await account(backend, jan.email)).name == "Jan Kowalski"
    assert (await login(http, jan.email, jan.password)).status_code == 200
    assert await count(backend, AuditEvent, AuditEvent.action == "email_changed") == 0


async def test_email_change_refusals(http, backend, jan, grant_for):
    headers = await grant_for(jan.email)
    same = await own_change(http, headers, jan.email.upper())
    assert same.status_code == 422 and error_code(same) == "email_unchanged"

    invited = (await add(http, headers)).json()["member"]["id"]
    pending = await http.post(f"{MEMBERS}/{invited}/email-change",
                              json={"new_email": "ola@poprawny.pl"}, headers=headers)
    assert pending.status_code == 409 and error_code(pending) == "member_not_active"

    # Anna also owns her own company: Jan must not be able to redirect her login.
    await add(http, headers, role="management", email=ANNA_NOWAK.email, name="x")
    anna = await membership_id(backend, ANNA_NOWAK.email)
    takeover = await http.post(f"{MEMBERS}/{anna}/email-change",
                               json={"new_email": "przejete@x.pl"}, headers=headers)
    assert takeover.status_code == 403 and error_code(takeover) == "email_change_self_only"
    assert await count(backend, Token, Token.purpose == TokenPurpose.EMAIL_CHANGE) == 0


async def test_expired_email_change_link(http, backend, smtp, jan, grant_for):
    await own_change(http, await grant_for(jan.email))
    await smtp.wait_for(2)
    link = link_in(mail_to(smtp, NEW_JAN)[0], "/confirm-email")
    backend.clock.advance(hours=24, minutes=1)
    page = await http.get(link)
    assert page.status_code == 400 and "wygasł" in page.text
    api = await http.post(CONFIRM_API, json={"token": token_of(link)})
    assert api.status_code == 400 and error_code(api) == "invalid_token"
    assert await account(backend, jan.email) is not None


async def test_confirmed_change_cancels_links_and_grants_of_the_old_address(
    http, backend, smtp, jan, grant_for
):
    headers = await grant_for(jan.email)
    await own_change(http, headers)
    reset = await http.post("/api/v1/auth/password-reset", json={"email": jan.email},
                            headers=backend.service_headers())
    assert reset.status_code == 202
    await smtp.wait_for(3)
    link = link_in(mail_to(smtp, NEW_JAN)[0], "/confirm-email")
    assert (await http.post(CONFIRM_API, json={"token": token_of(link)})).status_code == 200
    assert await count(backend, Token, Token.consumed_at.is_(None)) == 0
    stale = await http.get(MEMBERS, headers=headers)
    assert stale.status_code == 401 and error_code(stale) == "verification_required"


@pytest.mark.parametrize("token", ["", "nope", "x" * 300])
async def test_bad_confirmation_tokens(http, backend, token):
    page = await http.get("/confirm-email", params={"token": token})
    assert page.status_code == 400 and "Nie można zmienić adresu e-mail" in page.text
    posted = await http.post("/confirm-email", data={"token": token})
    assert posted.status_code == 400
    api = await http.post(CONFIRM_API, json={"token": token})
    assert api.status_code in (400, 422)
    assert error_code(api) in ("invalid_token", "validation_error")


# --- idempotency and input ------------------------------------------------------------------------


async def test_idempotency_key_replay_creates_one_member(http, backend, smtp, jan, grant_for):
    headers = {**await grant_for(jan.email), "Idempotency-Key": "dodaj-ole-1"}
    first = await add(http, headers)
    second = await add(http, headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert await count(backend, Membership) == 3
    assert await count(backend, OutboxMessage) == 1
    other_body = await add(http, headers, role="warehouse")
    assert other_body.status_code == 422 and error_code(other_body) == "idempotency_key_reused"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400,
         "malformed_json"),
        ({"content": b"email=x", "headers": {"content-type": "text/plain"}}, 415,
         "unsupported_media_type"),
        ({"json": []}, 422, "validation_error"),
        ({"json": {}}, 422, "validation_error"),
        ({"json": {"email": "nie-mail", "name": "Ola", "role": "employee"}}, 422,
         "validation_error"),
        ({"json": {"email": "ola@x.pl", "name": "   ", "role": "employee"}}, 422,
         "validation_error"),
        ({"json": {"email": "ola@x.pl", "name": "A" * 201, "role": "employee"}}, 422,
         "validation_error"),
        ({"json": {"email": "ola@x.pl", "name": "Ola", "role": "szef"}}, 422, "validation_error"),
        ({"json": {"email": "ola@x.pl", "name": "Ola", "role": 3}}, 422, "validation_error"),
        ({"json": {"email": "ola@x.pl", "name": "Ola", "role": "employee", "x": 1}}, 422,
         "validation_error"),
        ({"json": {"email": "ola@x.pl", "name": "Ola", "role": "employee",
                   "organisation_id": "abc"}}, 422, "validation_error"),
    ],
)
async def test_bad_add_input_gets_a_clear_4xx(http, backend, jan, grant_for, kwargs, status, code):
    kwargs.setdefault("headers", {})
    kwargs["headers"].update(await grant_for(jan.email))
    response = await http.post(MEMBERS, **kwargs)
    assert response.status_code == status
    assert error_code(response) == code
    assert response.json()["error"]["message"] and "Traceback" not in response.text
    assert await count(backend, Membership) == 2


async def test_unknown_role_lists_the_choices(http, backend, jan, grant_for):
    response = await add(http, await grant_for(jan.email), role="szef")
    [detail] = response.json()["error"]["details"]
    assert detail["code"] == "invalid_role"
    assert "employee (pracownik)" in detail["message"] and "magazynier" in detail["message"]


async def test_bad_ids_and_query(http, backend, jan, grant_for):
    headers = await grant_for(jan.email)
    bad_query = await http.get(MEMBERS, params={"organisation_id": "x"}, headers=headers)
    assert bad_query.status_code == 422
    assert (await http.delete(f"{MEMBERS}/abc", headers=headers)).status_code == 404
    bad_role = await http.patch(f"{MEMBERS}/1", json={"role": ""}, headers=headers)
    assert bad_role.status_code == 422
    bad_mail = await own_change(http, headers, "nie-mail")
    assert bad_mail.status_code == 422 and error_code(bad_mail) == "validation_error"


async def test_ids_beyond_the_database_range_are_simply_not_found(http, backend, grant_for, jan):
    headers = await grant_for(jan.email)
    for method in ("PATCH", "DELETE"):
        response = await http.request(
            method, "/api/v1/organisation/members/615179462759", headers=headers,
            json={"role": "employee"} if method == "PATCH" else None,
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "member_not_found"
