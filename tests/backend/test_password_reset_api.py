"""The reset journey through real HTTP, a real database and a real SMTP server."""

import asyncio
import re

import pytest
from sqlalchemy import func, select

from backend.models import AuditEvent, OutboxMessage, Token
from tests.support.smtp import body_text, html_text
from tests.support.waiting import eventually

RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
LOGIN = "/api/v1/auth/login"
NEW_PASSWORD = "Zielony!Las7"


async def request_reset(http, backend, email):
    return await http.post(RESET, json={"email": email}, headers=backend.service_headers())


async def reset_link(http, backend, smtp, jan, expected_count=1) -> str:
    response = await request_reset(http, backend, jan.email)
    assert response.status_code == 202
    messages = await smtp.wait_for(expected_count)
    text = body_text(messages[-1])
    return re.search(r"http://\S+/reset-password\?token=\S+", text).group(0)


def token_of(link: str) -> str:
    return link.split("token=", 1)[1]


async def count(backend, model) -> int:
    async with backend.app.ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_requires_service_token(http, backend, jan):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        response = await http.post(RESET, json={"email": jan.email}, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    assert await count(backend, Token) == 0


async def test_same_answer_for_known_and_unknown_accounts(http, backend, smtp, jan):
    known = await request_reset(http, backend, jan.email)
    unknown = await request_reset(http, backend, "nikt@nieistnieje.pl")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    await smtp.wait_for(1)
    assert [m["To"] for m in smtp.messages] == [jan.email]
    assert await count(backend, Token) == 1


async def test_email_is_polish_with_text_and_html_and_the_link(http, backend, smtp, jan):
    link = await reset_link(http, backend, smtp, jan)
    message = smtp.messages[0]
    assert message["Subject"] == "Ustawienie nowego hasła – iKsięgowość24"
    assert "Link jest ważny przez 60 minut" in body_text(message)
    assert link.startswith(f"{backend.url}/reset-password?token=")
    assert link in html_text(message)


async def test_outbox_row_is_written_and_its_body_cleared_after_delivery(http, backend, smtp, jan):
    link = await reset_link(http, backend, smtp, jan)

    async def delivered_row():
        async with backend.app.ctx.sessions() as session:
            row = (await session.scalars(select(OutboxMessage))).one()
            return row if row.sent_at is not None else None

    row = await eventually(delivered_row)
    async with backend.app.ctx.sessions() as session:
        audit = (await session.scalars(select(AuditEvent))).all()
    assert row.text_body is None and row.html_body is None
    assert [event.action for event in audit] == ["password_reset_requested"]
    assert token_of(link) not in repr(audit[0].details)


async def test_get_shows_the_form_and_does_not_consume(http, backend, smtp, jan):
    link = await reset_link(http, backend, smtp, jan)
    for _ in range(2):
        page = await http.get(link)
        assert page.status_code == 200
        assert 'name="password_confirm"' in page.text and jan.email in page.text
        assert page.headers["cache-control"] == "no-store"
    response = await http.post(
        CONFIRM,
        json={"token": token_of(link), "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    )
    assert response.status_code == 200


async def test_full_reset_then_login(http, backend, smtp, jan):
    link = await reset_link(http, backend, smtp, jan)
    done = await http.post(
        "/reset-password",
        data={"token": token_of(link), "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    )
    assert done.status_code == 200 and "Hasło zostało zmienione" in done.text

    ok = await http.post(LOGIN, json={"email": jan.email.upper(), "password": NEW_PASSWORD})
    assert ok.status_code == 200 and ok.json()["account"]["email"] == jan.email
    old = await http.post(LOGIN, json={"email": jan.email, "password": jan.password})
    unknown = await http.post(LOGIN, json={"email": "nikt@nieistnieje.pl", "password": "x"})
    assert old.status_code == unknown.status_code == 401
    assert old.json() == unknown.json()

    notice = (await smtp.wait_for(2))[1]
    assert notice["Subject"] == "Twoje hasło zostało zmienione – iKsięgowość24"

    again = await http.get(link)
    assert again.status_code == 400 and "Ten link nie działa" in again.text


async def test_weak_password_lists_every_failed_rule_and_keeps_the_token(http, backend, smtp, jan):
    link = await reset_link(http, backend, smtp, jan)
    page = await http.post(
        "/reset-password",
        data={"token": token_of(link), "password": "kowal", "password_confirm": "kowalx"},
    )
    assert page.status_code == 422
    for text in ("co najmniej 8 znaków", "nazwy użytkownika", "trzech grup", "takie same"):
        assert text in page.text
    api = await http.post(
        CONFIRM, json={"token": token_of(link), "password": "abc", "password_confirm": "abc"}
    )
    assert api.status_code == 422
    assert [d["rule"] for d in api.json()["error"]["details"]] == ["min_length", "character_groups"]
    assert (await http.get(link)).status_code == 200


async def test_expired_link(http, backend, smtp, jan):
    link = await reset_link(http, backend, smtp, jan)
    backend.clock.advance(minutes=61)
    response = await http.post(
        CONFIRM,
        json={"token": token_of(link), "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_token"
    assert "wygasł" in response.json()["error"]["message"]


async def test_new_request_cancels_the_previous_link(http, backend, smtp, jan):
    first = await reset_link(http, backend, smtp, jan)
    second = await reset_link(http, backend, smtp, jan, expected_count=2)
    assert (await http.get(first)).status_code == 400
    assert (await http.get(second)).status_code == 200


async def test_reset_emails_are_limited_per_hour(http, backend, smtp, jan):
    for _ in range(7):
        assert (await request_reset(http, backend, jan.email)).status_code == 202
    await smtp.wait_for(5)
    assert await count(backend, OutboxMessage) == 5
    backend.clock.advance(minutes=61)
    await request_reset(http, backend, jan.email)
    assert await count(backend, OutboxMessage) == 6


async def test_login_lockout_after_five_failures(http, backend, jan):
    for _ in range(5):
        response = await http.post(LOGIN, json={"email": jan.email, "password": "Zle#haslo1"})
        assert response.status_code == 401
    locked = await http.post(LOGIN, json={"email": jan.email, "password": jan.password})
    assert locked.status_code == 429
    assert "Spróbuj ponownie za 15 min" in locked.json()["error"]["message"]
    assert int(locked.headers["retry-after"]) <= 15 * 60
    backend.clock.advance(minutes=16)
    assert (await http.post(LOGIN, json={"email": jan.email, "password": jan.password})).status_code == 200


async def test_unknown_addresses_are_throttled_like_known_ones(http, backend):
    for _ in range(5):
        await http.post(LOGIN, json={"email": "nikt@nieistnieje.pl", "password": "x"})
    response = await http.post(LOGIN, json={"email": "nikt@nieistnieje.pl", "password": "x"})
    assert response.status_code == 429


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "malformed_json"),
        ({"content": b"email=x", "headers": {"content-type": "text/plain"}}, 415, "unsupported_media_type"),
        ({"json": []}, 422, "validation_error"),
        ({"json": {}}, 422, "validation_error"),
        ({"json": {"email": "nie-mail"}}, 422, "validation_error"),
        ({"json": {"email": 5}}, 422, "validation_error"),
        ({"json": {"email": "a" * 300 + "@x.pl"}}, 422, "validation_error"),
        ({"json": {"email": "jan@x.pl", "extra": 1}}, 422, "validation_error"),
        ({"content": b"x" * 70000, "headers": {"content-type": "application/json"}}, 413, "payload_too_large"),
    ],
)
async def test_bad_input_gets_a_clear_4xx(http, backend, kwargs, status, code):
    kwargs.setdefault("headers", {})
    kwargs["headers"].update(backend.service_headers())
    response = await http.post(RESET, **kwargs)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"] and "Traceback" not in response.text


@pytest.mark.parametrize(
    "body",
    [
        {"token": "nope", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
        {"token": "", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
        {"password": NEW_PASSWORD},
    ],
)
async def test_confirm_with_bad_token_or_fields(http, backend, body):
    response = await http.post(CONFIRM, json=body)
    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] in ("invalid_token", "validation_error")


async def test_unknown_route_and_method(http, backend):
    assert (await http.get("/nope")).json()["error"]["code"] == "not_found"
    assert (await http.delete(LOGIN)).status_code == 405
    assert (await http.get("/reset-password")).status_code == 400


async def test_concurrent_reset_requests_leave_one_live_link(http, backend, smtp, jan):
    responses = await asyncio.gather(*(request_reset(http, backend, jan.email) for _ in range(4)))
    assert [r.status_code for r in responses] == [202] * 4
    async with backend.app.ctx.sessions() as session:
        live = await session.scalar(
            select(func.count()).select_from(Token).where(Token.consumed_at.is_(None))
        )
    assert live == 1


async def test_nul_characters_are_refused_not_a_server_error(http, backend, jan):
    response = await http.post(LOGIN, json={"email": "jan\x00@majafirma.pl", "password": "x"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
