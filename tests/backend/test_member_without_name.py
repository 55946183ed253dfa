"""A company user added the way ING Księgowość's form does it - e-mail and role, no name - through
real HTTP, a real database and a real SMTP server: the members list says name null, every text
names the person by e-mail, every e-mail greets neutrally, and the activation page asks the
invited person for "Imię i nazwisko" (required there, checked, stored)."""

from __future__ import annotations

import pytest

from backend.models import Account, AccountState, AuditEvent, Token, TokenPurpose
from backend.people import NAME_RULES, check_person_name, member_label
from tests.backend.test_company_api import (
    MEMBERS,
    PIOTR_PASSWORD,
    account,
    activate,
    count,
    link_in,
    login,
    mail_to,
    rows,
    token_of,
)
from tests.support.smtp import body_text as _body_text
from tests.support.smtp import html_text

pytestmark = pytest.mark.usefixtures("mail_settled")

EWA = "ewa.lis@majafirma.pl"
CONFIRM = "/api/v1/auth/activation/confirm"


async def add_without_name(http, headers, email=EWA, role="employee", **extra):
    return await http.post(MEMBERS, json={"email": email, "role": role, **extra}, headers=headers)


async def invited(http, smtp, grant_for, jan, email=EWA):
    """Ewa added by e-mail and role only; returns the owner's headers and her invitation link."""
    headers = await grant_for(jan.email)
    response = await add_without_name(http, headers, email=email)
    assert response.status_code == 201, response.text
    [message] = mail_to(smtp, email) or await smtp.wait_for(1)
    return headers, link_in(message, "/activate")


def body_text(message) -> str:
    """The text part with plain line ends (SMTP carries CRLF)."""
    return _body_text(message).replace("\r\n", "\n")


def form(link: str, name: str | None = None, password: str = PIOTR_PASSWORD) -> dict[str, str]:
    data = {"token": token_of(link), "password": password, "password_confirm": password}
    if name is not None:
        data["name"] = name
    return data


# --- the rules, as pure functions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Ewa Lis", "Ewa Lis"),
        ("  Łukasz   Żółć ", "Łukasz Żółć"),
        ("Anna Kowalczyk-Nowak", "Anna Kowalczyk-Nowak"),
        ("Seán O'Connor", "Seán O'Connor"),
        ("Jan D’Arc", "Jan D’Arc"),
        ("Zo\u0065\u0308 Lis", "Zoë Lis"),  # a combining diaeresis becomes one letter
        ("Ew", "Ew"),
    ],
)
def test_plausible_names_are_accepted_and_tidied(typed, stored):
    assert check_person_name(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["", "   ", None, "E", "Ewa Lis 2", "ewa@lis.pl", "Ewa_Lis", "Ewa -Lis", "-Ewa", "Ewa;",
     "<b>Ewa</b>", "A" * 101],
)
def test_anything_else_is_refused_with_a_polish_explanation(typed):
    with pytest.raises(ValueError) as refused:
        check_person_name(typed)
    assert str(refused.value) in (NAME_RULES, "Podaj imię i nazwisko.")


def test_a_member_is_named_by_the_email_when_there_is_no_name():
    assert member_label("Ewa Lis", EWA) == f"Ewa Lis ({EWA})"
    assert member_label("Ewa Lis", EWA, with_email=False) == "Ewa Lis"
    assert member_label(None, EWA) == EWA
    assert member_label(None, EWA, with_email=False) == EWA


# --- add, list, change, remove --------------------------------------------------------------------


async def test_a_user_is_added_with_email_and_role_only(http, backend, smtp, jan, grant_for):
    headers = await grant_for(jan.email)
    response = await add_without_name(http, headers, role="management")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["member"]["name"] is None and body["member"]["email"] == EWA
    assert body["member"]["state"] == "invited"
    assert body["message"].startswith(
        f"Dodano użytkownika {EWA} do firmy Majama Michał Zając z rolą "
        "„zarząd / pełnomocnik / księgowy”."
    )
    assert "None" not in body["message"]
    created = await account(backend, EWA)
    assert created.name is None and created.state == AccountState.PENDING_ACTIVATION

    [invitation] = await smtp.wait_for(1)
    text = body_text(invitation)
    assert text.startswith("Dzień dobry,\n\nJan Kowalski zaprasza Cię do firmy")
    assert "<p>Dzień dobry,</p>" in html_text(invitation)
    assert "None" not in text and "None" not in html_text(invitation)

    # an explicit null is the same as no name
    other = await add_without_name(http, headers, email="biuro@majafirma.pl", name=None)
    assert other.status_code == 201 and other.json()["member"]["name"] is None


async def test_the_members_list_says_null_for_no_name(http, backend, smtp, jan, grant_for):
    headers, _ = await invited(http, smtp, grant_for, jan)
    members = (await http.get(MEMBERS, headers=headers)).json()["members"]
    assert [(m["name"], m["email"], m["state"]) for m in members] == [
        ("Jan Kowalski", jan.email, "active"),
        (None, EWA, "invited"),
    ]


async def test_role_change_and_removal_name_the_member_by_email(
    http, backend, smtp, jan, grant_for
):
    headers, _ = await invited(http, smtp, grant_for, jan)
    member_id = (await http.get(MEMBERS, headers=headers)).json()["members"][1]["id"]
    changed = await http.patch(f"{MEMBERS}/{member_id}", json={"role": "warehouse"},
                               headers=headers)
    assert changed.json()["message"] == f"Zmieniono rolę użytkownika {EWA} na „magazynier”."
    same = await http.patch(f"{MEMBERS}/{member_id}", json={"role": "warehouse"}, headers=headers)
    assert same.json()["message"].startswith(f"Użytkownik {EWA} ma już rolę „magazynier”.")
    removed = await http.delete(f"{MEMBERS}/{member_id}", headers=headers)
    assert removed.json()["message"] == (
        f"Użytkownik {EWA} nie ma już dostępu do firmy Majama Michał Zając."
    )


async def test_emails_to_an_active_account_without_a_name_greet_neutrally(
    http, backend, smtp, jan, grant_for
):
    """Role changed and removed: an account without a name (activated some other way, e.g. by a
    password reset of the invitation's address) is greeted with "Dzień dobry,"."""
    headers, _ = await invited(http, smtp, grant_for, jan)
    await activate(backend, EWA)
    member_id = (await http.get(MEMBERS, headers=headers)).json()["members"][1]["id"]
    await http.patch(f"{MEMBERS}/{member_id}", json={"role": "warehouse"}, headers=headers)
    await http.delete(f"{MEMBERS}/{member_id}", headers=headers)
    messages = await smtp.wait_for(3)
    subjects = [m["Subject"] for m in messages if m["To"] == EWA]
    assert len(subjects) == 3  # invitation, role changed, removed
    for message in mail_to(smtp, EWA):
        assert body_text(message).startswith("Dzień dobry,\n\n"), message["Subject"]
        assert "None" not in body_text(message) + html_text(message)


async def test_a_name_given_later_fills_a_nameless_invitation_but_never_replaces_one(
    http, backend, smtp, jan, grant_for
):
    headers, _ = await invited(http, smtp, grant_for, jan)
    member_id = (await http.get(MEMBERS, headers=headers)).json()["members"][1]["id"]
    await http.delete(f"{MEMBERS}/{member_id}", headers=headers)
    again = await add_without_name(http, headers, name="Ewa Lis")
    assert again.status_code == 201 and again.json()["member"]["name"] == "Ewa Lis"
    assert again.json()["message"].startswith(f"Dodano użytkownika Ewa Lis ({EWA})")
    [*_, second] = await smtp.wait_for(2)
    assert body_text(second).startswith("Dzień dobry, Ewa Lis!")

    # an account that has a name keeps it, whatever name the owner types
    await http.delete(f"{MEMBERS}/{again.json()['member']['id']}", headers=headers)
    third = await add_without_name(http, headers, name="Ewelina Lis")
    assert third.json()["member"]["name"] == "Ewa Lis"


# --- the activation page asks for the name --------------------------------------------------------


async def test_the_activation_page_asks_for_the_name_when_there_is_none(
    http, backend, smtp, jan, grant_for
):
    _, link = await invited(http, smtp, grant_for, jan)
    page = await http.get(link)
    assert page.status_code == 200
    assert '<label for="name">Imię i nazwisko</label>' in page.text
    assert 'name="name"' in page.text and EWA in page.text

    done = await http.post("/activate", data=form(link, name="  Ewa   Lis "))
    assert done.status_code == 200, done.text
    assert "Konto zostało aktywowane" in done.text
    stored = await account(backend, EWA)
    assert stored.name == "Ewa Lis" and stored.state == AccountState.ACTIVE
    assert (await login(http, EWA, PIOTR_PASSWORD)).json()["account"]["name"] == "Ewa Lis"
    headers = await grant_for(jan.email)
    members = (await http.get(MEMBERS, headers=headers)).json()["members"]
    assert members[1]["name"] == "Ewa Lis" and members[1]["state"] == "active"


@pytest.mark.parametrize("bad", ["", "   ", "E", "Ewa 2", "ewa@lis.pl", "Ewa; DROP", "Ł" * 101])
async def test_a_bad_name_gets_a_polish_error_and_nothing_is_lost(
    http, backend, smtp, jan, grant_for, bad
):
    _, link = await invited(http, smtp, grant_for, jan)
    page = await http.post("/activate", data=form(link, name=bad))
    assert page.status_code == 422
    expected = "Podaj imię i nazwisko." if not bad.strip() else NAME_RULES
    assert expected in page.text
    # the form comes back with what was typed and the same link
    assert f'value="{bad}"' in page.text
    assert f'value="{token_of(link)}"' in page.text
    stored = await account(backend, EWA)
    assert stored.name is None and stored.password_hash is None
    assert stored.state == AccountState.PENDING_ACTIVATION
    [token] = await rows(backend, Token)
    assert token.consumed_at is None
    assert await count(backend, AuditEvent, AuditEvent.action == "account_activated") == 0
    # and the next try, with a name, works
    done = await http.post("/activate", data=form(link, name="Ewa Lis"))
    assert done.status_code == 200
    assert (await account(backend, EWA)).name == "Ewa Lis"


async def test_a_missing_name_field_is_refused_too(http, backend, smtp, jan, grant_for):
    _, link = await invited(http, smtp, grant_for, jan)
    page = await http.post("/activate", data=form(link))
    assert page.status_code == 422 and "Podaj imię i nazwisko." in page.text
    assert (await account(backend, EWA)).state == AccountState.PENDING_ACTIVATION


async def test_a_weak_password_keeps_the_typed_name(http, backend, smtp, jan, grant_for):
    _, link = await invited(http, smtp, grant_for, jan)
    page = await http.post("/activate", data=form(link, name="Ewa Lis", password="abc"))
    assert page.status_code == 422
    assert "co najmniej 8 znaków" in page.text and 'value="Ewa Lis"' in page.text
    assert (await account(backend, EWA)).name is None


async def test_an_account_that_has_a_name_is_not_asked(http, backend, smtp, jan, grant_for):
    headers = await grant_for(jan.email)
    await add_without_name(http, headers, name="Ewa Lis")
    [message] = await smtp.wait_for(1)
    link = link_in(message, "/activate")
    page = await http.get(link)
    assert page.status_code == 200 and 'name="name"' not in page.text
    assert "Imię i nazwisko" not in page.text
    # a name posted anyway changes nothing
    done = await http.post("/activate", data=form(link, name="Ktoś Inny"))
    assert done.status_code == 200
    assert (await account(backend, EWA)).name == "Ewa Lis"


async def test_the_json_confirmation_needs_the_name_too(http, backend, smtp, jan, grant_for):
    _, link = await invited(http, smtp, grant_for, jan)
    body = {"token": token_of(link), "password": PIOTR_PASSWORD,
            "password_confirm": PIOTR_PASSWORD}
    refused = await http.post(CONFIRM, json=body)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "invalid_name" and error["message"] == "Podaj imię i nazwisko."
    assert error["details"] == [
        {"field": "name", "code": "invalid_name", "message": "Podaj imię i nazwisko."}
    ]
    assert (await account(backend, EWA)).state == AccountState.PENDING_ACTIVATION

    done = await http.post(CONFIRM, json={**body, "name": "Ewa Lis"})
    assert done.status_code == 200, done.text
    stored = await account(backend, EWA)
    assert stored.name == "Ewa Lis" and stored.state == AccountState.ACTIVE


async def test_the_openapi_document_describes_the_optional_name(http, backend):
    document = (await http.get("/api/v1/openapi.json")).json()
    schemas = document["components"]["schemas"]
    add_member = schemas["AddMemberRequest"]
    assert "name" not in add_member.get("required", [])
    assert {"type": "null"} in add_member["properties"]["name"]["anyOf"]
    assert set(add_member["required"]) == {"email", "role"}
    member = schemas["MemberOut"]
    assert {"type": "null"} in member["properties"]["name"]["anyOf"]
    confirm = schemas["ActivationConfirmRequest"]
    assert "name" in confirm["properties"] and "name" not in confirm.get("required", [])
    operation = document["paths"]["/api/v1/auth/activation/confirm"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ActivationConfirmRequest"
    )
    assert Account.__table__.c.name.nullable is True


# --- "forgot password" before the invitation was accepted ----------------------------------------


async def test_forgot_password_before_activation_sends_the_activation_link_that_asks_the_name(
    http, backend, smtp, jan, grant_for
):
    """A reset would set a password and skip the name the account lacks: the invited person gets
    the activation link instead, whose page asks for the name; either link then does nothing."""
    _, invitation = await invited(http, smtp, grant_for, jan)

    asked = await http.post(
        "/api/v1/auth/password-reset", json={"email": EWA}, headers=backend.service_headers()
    )

    assert asked.status_code == 202
    messages = await smtp.wait_for(2)
    message = messages[-1]
    assert message["To"] == EWA and message["Subject"] == "Aktywacja konta Comarch Cloud"
    text = body_text(message)
    assert "to konto nie zostało jeszcze" in text and "prosiłeś(-aś) o reset hasła" in text
    assert "/reset-password" not in text
    assert await count(backend, Token, Token.purpose == TokenPurpose.PASSWORD_RESET) == 0
    link = link_in(message, "/activate")
    page = await http.get(link)
    assert page.status_code == 200 and '<label for="name">Imię i nazwisko</label>' in page.text

    refused = await http.post("/activate", data=form(link))
    assert refused.status_code == 422 and "Podaj imię i nazwisko." in refused.text
    assert (await account(backend, EWA)).state == AccountState.PENDING_ACTIVATION

    done = await http.post("/activate", data=form(link, name="Ewa Lis"))
    assert done.status_code == 200, done.text
    stored = await account(backend, EWA)
    assert stored.name == "Ewa Lis" and stored.state == AccountState.ACTIVE
    # the invitation's own link no longer sets a password
    reused = await http.post("/activate", data=form(invitation, name="Ktoś Inny"))
    assert reused.status_code == 400
    assert (await account(backend, EWA)).name == "Ewa Lis"
