"""Website login sessions through real HTTP and a real database: login starts one, the assistant
exchanges it for a verification grant, logout and password resets end it."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from backend.api.service_auth import GRANT_HEADER
from backend.models import (
    Account,
    AccountState,
    AuditEvent,
    LoginSession,
    TokenPurpose,
    VerificationGrant,
)
from backend.repositories import accounts
from backend.security.tokens import digest
from backend.services import grants, tokens
from backend.services.login_sessions import LOGIN_SESSION_TTL

LOGIN = "/api/v1/auth/login"
VERIFY = "/api/v1/auth/sessions/verify"
LOGOUT = "/api/v1/auth/logout"
SUBSCRIPTION = "/api/v1/account/subscription"
SESSION_INVALID_MESSAGE = "Sesja logowania wygasła. Zaloguj się ponownie."


# Queued e-mail goes out before the backend stops (tests/backend/conftest.py).
pytestmark = pytest.mark.usefixtures("mail_settled")


async def login(http, jan):
    response = await http.post(LOGIN, json={"email": jan.email, "password": jan.password})
    assert response.status_code == 200, response.text
    return response


async def session_token(http, jan) -> str:
    return (await login(http, jan)).json()["session"]["token"]


async def verify(http, backend, token, *, headers=None):
    return await http.post(
        VERIFY,
        json={"session_token": token},
        headers=backend.service_headers() if headers is None else headers,
    )


def assert_session_invalid(response):
    assert response.status_code == 401, response.text
    assert response.json() == {
        "error": {"code": "session_invalid", "message": SESSION_INVALID_MESSAGE}
    }


async def login_sessions(backend) -> list[LoginSession]:
    async with backend.app.ctx.sessions() as session:
        return list((await session.scalars(select(LoginSession).order_by(LoginSession.id))).all())


async def test_login_returns_a_session_and_only_its_hash_is_stored(http, backend, jan):
    response = await login(http, jan)
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"account", "session"}
    assert body["account"]["email"] == jan.email and body["account"]["name"] == jan.name
    token = body["session"]["token"]
    assert len(token) >= 43  # 256 bits, URL-safe base64
    expires_at = backend.clock() + LOGIN_SESSION_TTL
    assert body["session"]["expires_at"] == expires_at.isoformat()
    assert LOGIN_SESSION_TTL == timedelta(hours=8)

    [row] = await login_sessions(backend)
    assert row.account_id == body["account"]["id"]
    assert row.token_hash == digest(token)
    assert token not in {str(value) for value in vars(row).values()}
    assert row.expires_at == expires_at and row.revoked_at is None

    # Every login is a session of its own.
    second = await session_token(http, jan)
    assert second != token and len(await login_sessions(backend)) == 2


async def test_a_session_verifies_and_its_grant_works_on_a_guarded_endpoint(http, backend, jan):
    token = await session_token(http, jan)

    response = await verify(http, backend, token)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["account"] == {
        "id": body["account"]["id"],
        "email": jan.email,
        "name": jan.name,
        "organisation": jan.organisation,
        "role": "owner",
    }
    assert body["grant_expires_at"] == (backend.clock() + grants.GRANT_TTL).isoformat()
    async with backend.app.ctx.sessions() as session:
        [grant] = (await session.scalars(select(VerificationGrant))).all()
        events = (await session.scalars(select(AuditEvent.action))).all()
    assert grant.grant_hash == digest(body["grant"]) and grant.account_id == body["account"]["id"]
    assert "login_session_verified" in events

    headers = {**backend.service_headers(), GRANT_HEADER: body["grant"]}
    subscription = await http.get(SUBSCRIPTION, headers=headers)
    assert subscription.status_code == 200, subscription.text

    # Each verification issues a fresh grant; the session itself stays usable.
    again = await verify(http, backend, token)
    assert again.status_code == 200 and again.json()["grant"] != body["grant"]


async def test_an_account_without_a_company_has_null_organisation_and_role(http, backend, jan):
    hasher = backend.app.ctx.deps.hasher
    async with backend.app.ctx.sessions.begin() as session:
        session.add(
            Account(
                email="solo@example.pl",
                name="Ola Solo",
                password_hash=await hasher.hash(jan.password),
                state=AccountState.ACTIVE,
            )
        )
    response = await http.post(LOGIN, json={"email": "solo@example.pl", "password": jan.password})
    token = response.json()["session"]["token"]

    account = (await verify(http, backend, token)).json()["account"]

    assert account["organisation"] is None and account["role"] is None
    assert account["email"] == "solo@example.pl"


async def test_an_expired_session_is_refused(http, backend, jan):
    token = await session_token(http, jan)
    backend.clock.advance(hours=8, seconds=-1)
    assert (await verify(http, backend, token)).status_code == 200

    backend.clock.advance(seconds=1)

    assert_session_invalid(await verify(http, backend, token))


async def test_logout_revokes_and_always_answers_204(http, backend, jan):
    token = await session_token(http, jan)
    other = await session_token(http, jan)

    logout = await http.post(LOGOUT, json={"session_token": token})

    assert logout.status_code == 204 and logout.content == b""
    assert_session_invalid(await verify(http, backend, token))
    # Only that session ends.
    assert (await verify(http, backend, other)).status_code == 200
    rows = {row.token_hash: row for row in await login_sessions(backend)}
    assert rows[digest(token)].revoked_at == backend.clock()
    assert rows[digest(other)].revoked_at is None
    # Again, or with a token that never existed: the same answer.
    assert (await http.post(LOGOUT, json={"session_token": token})).status_code == 204
    assert (await http.post(LOGOUT, json={"session_token": "nie-ma-takiej"})).status_code == 204


@pytest.mark.parametrize(
    "token",
    ["garbage", "x" * 200, "ąę 🙂 ' OR 1=1 --", digest("whatever")],
    ids=["short", "longest-allowed", "unicode-sql", "a-hash"],
)
async def test_unknown_tokens_are_refused(http, backend, jan, token):
    await session_token(http, jan)
    assert_session_invalid(await verify(http, backend, token))


async def test_a_stored_hash_is_not_a_token(http, backend, jan):
    token = await session_token(http, jan)
    assert_session_invalid(await verify(http, backend, digest(token)))


async def test_a_locked_account_cannot_use_its_session(http, backend, jan):
    token = await session_token(http, jan)
    async with backend.app.ctx.sessions.begin() as session:
        await session.execute(
            update(Account).where(Account.email == jan.email).values(state=AccountState.LOCKED)
        )
    assert_session_invalid(await verify(http, backend, token))


async def test_a_password_reset_ends_every_session(http, backend, jan):
    token = await session_token(http, jan)
    auth = backend.app.ctx.services.auth
    async with backend.app.ctx.sessions.begin() as session:
        account = await accounts.get_by_email(session, jan.email)
        raw = await tokens.issue(
            session, account, TokenPurpose.PASSWORD_RESET, timedelta(hours=1), backend.clock
        )
    await auth.reset_password(raw, "Nowe#Haslo2027", "Nowe#Haslo2027")

    assert_session_invalid(await verify(http, backend, token))


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Device x"}],
    ids=["none", "wrong", "other-scheme"],
)
async def test_verify_needs_the_service_token(http, backend, jan, headers):
    token = await session_token(http, jan)
    response = await verify(http, backend, token, headers=headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    async with backend.app.ctx.sessions() as session:
        assert (await session.scalars(select(VerificationGrant))).all() == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"session_token": ""},
        {"session_token": "x" * 201},
        {"session_token": 12345},
        {"session_token": None},
        {"session_token": ["a"]},
        {"session_token": "abc", "extra": 1},
        {"session_token": "a\x00b"},
        [],
    ],
    ids=["missing", "empty", "too-long", "int", "null", "list", "extra", "nul", "array"],
)
@pytest.mark.parametrize("path", [VERIFY, LOGOUT])
async def test_malformed_bodies_are_validation_errors(http, backend, path, body):
    response = await http.post(path, json=body, headers=backend.service_headers())
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


async def test_wrong_password_starts_no_session(http, backend, jan):
    response = await http.post(LOGIN, json={"email": jan.email, "password": "Zle#haslo1"})
    assert response.status_code == 401 and "session" not in response.json()
    assert await login_sessions(backend) == []
