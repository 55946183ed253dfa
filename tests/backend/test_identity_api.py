"""Chat identity verification codes through real HTTP, a real database and a real SMTP server."""

import asyncio
import logging
import re

import pytest
from sqlalchemy import func, select, update

from backend.api.service_auth import GRANT_HEADER
from backend.models import (
    Account,
    AccountState,
    AuditEvent,
    OutboxMessage,
    Token,
    TokenPurpose,
    VerificationGrant,
)
from backend.security.tokens import digest
from backend.services import identity
from tests.support.smtp import body_text, html_text
from tests.support.waiting import eventually

CODES = "/api/v1/verification/codes"
CHECK = "/api/v1/verification/codes/check"
ACCOUNT_DEVICE = "/api/v1/account/device"
SUBJECT = "Kod weryfikacyjny do czatu – iKsięgowość24"
UNKNOWN = "nikt@nieistnieje.pl"


# Queued e-mail goes out before the backend stops (tests/backend/conftest.py).
pytestmark = pytest.mark.usefixtures("mail_settled")


async def request_code(http, backend, email, requester=None):
    body = {"email": email} if requester is None else {"email": email, "requester": requester}
    return await http.post(CODES, json=body, headers=backend.service_headers())


async def check(http, backend, email, code):
    body = {"email": email, "code": code}
    return await http.post(CHECK, json=body, headers=backend.service_headers())


def code_in(message) -> str:
    return re.search(r"^(\d{6})\r?$", body_text(message), re.MULTILINE).group(1)


async def new_code(http, backend, smtp, email, expected_count=1) -> str:
    response = await request_code(http, backend, email)
    assert response.status_code == 202
    return code_in((await smtp.wait_for(expected_count))[expected_count - 1])


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def tokens(backend) -> list[Token]:
    async with backend.app.ctx.sessions() as session:
        return list((await session.scalars(select(Token).order_by(Token.id))).all())


async def audit_events(backend) -> list[AuditEvent]:
    async with backend.app.ctx.sessions() as session:
        return list((await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all())


async def test_code_email_arrives(http, backend, smtp, jan):
    response = await request_code(http, backend, jan.email.upper())
    assert response.status_code == 202
    assert response.json()["status"] == "accepted"
    assert "Kod jest ważny przez 10 minut" in response.json()["message"]
    [message] = await smtp.wait_for(1)
    assert message["To"] == jan.email and message["Subject"] == SUBJECT
    text, html = body_text(message), html_text(message)
    code = code_in(message)
    assert code in html
    assert "ważny przez 10 minut" in text
    assert "Nikomu nie przekazuj tego kodu" in text and "nigdy nie poprosi Cię o hasło" in text
    [token] = await tokens(backend)
    assert token.purpose == TokenPurpose.CHAT_VERIFICATION
    assert token.expires_at == backend.clock() + identity.CODE_TTL
    assert token.token_hash == digest(token.payload["salt"] + code)
    assert token.token_hash != digest(code) and set(token.payload) == {"salt"}


async def test_right_code_gives_a_grant_that_works(http, backend, smtp, jan):
    code = await new_code(http, backend, smtp, jan.email)
    response = await check(http, backend, jan.email, code)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["account"] == {"name": jan.name, "email": jan.email}
    assert body["expires_at"] == (backend.clock() + identity.grants.GRANT_TTL).isoformat()

    headers = {**backend.service_headers(), GRANT_HEADER: body["grant"]}
    device = await http.get(ACCOUNT_DEVICE, headers=headers)
    assert device.status_code == 200 and device.json() == {"device": None}
    async with backend.app.ctx.sessions() as session:
        [grant] = (await session.scalars(select(VerificationGrant))).all()
    assert grant.grant_hash == digest(body["grant"])

    [token] = await tokens(backend)
    assert token.consumed_reason == "used"
    again = await check(http, backend, jan.email, code)
    assert again.status_code == 400 and again.json()["error"]["code"] == "code_expired"
    actions = [event.action for event in await audit_events(backend)]
    assert actions == ["chat_verification_code_sent", "chat_verification_succeeded"]


async def test_code_with_spaces_is_accepted(http, backend, smtp, jan):
    code = await new_code(http, backend, smtp, jan.email)
    response = await check(http, backend, jan.email, f" {code[:3]} {code[3:]} ")
    assert response.status_code == 200


async def test_wrong_codes_count_down_and_the_fifth_kills_the_code(http, backend, smtp, jan):
    code = await new_code(http, backend, smtp, jan.email)
    for left in (4, 3, 2, 1):
        response = await check(http, backend, jan.email, wrong(code))
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid_code"
        assert error["details"] == {"attempts_left": left}
        assert f"Pozostało prób: {left}." in error["message"]
    fifth = await check(http, backend, jan.email, wrong(code))
    assert fifth.status_code == 400 and fifth.json()["error"]["code"] == "code_expired"
    assert "Poproś o nowy kod" in fifth.json()["error"]["message"]
    right_too_late = await check(http, backend, jan.email, code)
    assert right_too_late.status_code == 400
    assert right_too_late.json()["error"]["code"] == "code_expired"
    [token] = await tokens(backend)
    assert token.attempts == 5 and token.consumed_reason == "exhausted"
    async with backend.app.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(VerificationGrant)) == 0
    # A new code starts afresh.
    fresh = await new_code(http, backend, smtp, jan.email, expected_count=2)
    assert (await check(http, backend, jan.email, fresh)).status_code == 200


async def test_concurrent_wrong_guesses_cannot_exceed_five(http, backend, smtp, jan):
    code = await new_code(http, backend, smtp, jan.email)
    responses = await asyncio.gather(
        *(check(http, backend, jan.email, wrong(code)) for _ in range(9))
    )
    codes = sorted(r.json()["error"]["code"] for r in responses)
    assert codes == ["code_expired"] * 5 + ["invalid_code"] * 4, [r.text for r in responses]
    lefts = sorted(
        r.json()["error"]["details"]["attempts_left"]
        for r in responses
        if r.json()["error"]["code"] == "invalid_code"
    )
    assert lefts == [1, 2, 3, 4]
    [token] = await tokens(backend)
    assert token.attempts == 5 and token.consumed_reason == "exhausted"
    assert (await check(http, backend, jan.email, code)).json()["error"]["code"] == "code_expired"


async def test_concurrent_right_answers_give_one_grant(http, backend, smtp, jan):
    code = await new_code(http, backend, smtp, jan.email)
    responses = await asyncio.gather(*(check(http, backend, jan.email, code) for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [200, 400, 400, 400]
    async with backend.app.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(VerificationGrant)) == 1


async def test_code_expires_after_ten_minutes(http, backend, smtp, jan):
    code = await new_code(http, backend, smtp, jan.email)
    backend.clock.advance(minutes=9, seconds=59)
    assert (await check(http, backend, jan.email, wrong(code))).status_code == 400
    backend.clock.advance(seconds=1)
    response = await check(http, backend, jan.email, code)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "code_expired"


async def test_a_new_code_cancels_the_old_one(http, backend, smtp, jan):
    first = await new_code(http, backend, smtp, jan.email)
    second, count = first, 1
    while second == first:  # two random codes can be equal (one in a million)
        count += 1
        second = await new_code(http, backend, smtp, jan.email, expected_count=count)
    old = await check(http, backend, jan.email, first)
    assert old.status_code == 400
    # The old code is now simply a wrong code: it counts as one try against the new one.
    assert old.json()["error"]["code"] == "invalid_code"
    assert old.json()["error"]["details"] == {"attempts_left": 4}
    assert (await check(http, backend, jan.email, second)).status_code == 200
    reasons = [token.consumed_reason for token in await tokens(backend)]
    assert reasons == ["replaced"] * (count - 1) + ["used"]


async def test_unknown_address_gets_the_same_answers_and_no_mail(http, backend, smtp, jan):
    unknown = await request_code(http, backend, UNKNOWN)
    known = await request_code(http, backend, jan.email)
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    await smtp.wait_for(1)
    code = code_in(smtp.messages[0])
    assert [m["To"] for m in smtp.messages] == [jan.email]
    assert len(await tokens(backend)) == 1

    # Checking codes does not tell the two apart either: both count down, then expire.
    for left in (4, 3, 2, 1):
        for email in (UNKNOWN, jan.email):
            response = await check(http, backend, email, wrong(code))
            assert response.status_code == 400
            assert response.json()["error"]["details"] == {"attempts_left": left}
    last = [await check(http, backend, email, wrong(code)) for email in (UNKNOWN, jan.email)]
    assert last[0].json() == last[1].json()
    assert last[0].json()["error"]["code"] == "code_expired"
    assert (await check(http, backend, UNKNOWN, code)).json() == last[0].json()
    for event in await audit_events(backend):
        assert event.account_id is not None and UNKNOWN not in repr(event.details)


async def test_no_code_requested_means_expired_for_everyone(http, backend, jan):
    for email in (jan.email, UNKNOWN):
        response = await check(http, backend, email, "123456")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "code_expired"


async def test_unknown_address_stand_in_code_expires_too(http, backend, smtp, jan):
    await request_code(http, backend, UNKNOWN)
    backend.clock.advance(minutes=10)
    response = await check(http, backend, UNKNOWN, "123456")
    assert response.json()["error"]["code"] == "code_expired"


async def test_locked_account_gets_no_code(http, backend, smtp, jan):
    async with backend.app.ctx.sessions.begin() as session:
        await session.execute(
            update(Account).where(Account.email == jan.email).values(state=AccountState.LOCKED)
        )
    assert (await request_code(http, backend, jan.email)).status_code == 202
    assert (await request_code(http, backend, "anna.nowak@biuro-nowak.pl")).status_code == 202
    await smtp.wait_for(1)
    assert [m["To"] for m in smtp.messages] == ["anna.nowak@biuro-nowak.pl"]


async def test_code_requests_are_limited_and_a_refusal_says_so(http, backend, smtp, jan):
    answers = [await request_code(http, backend, jan.email) for _ in range(7)]
    assert [a.status_code for a in answers] == [202] * 5 + [429] * 2
    assert len({a.text for a in answers[:5]}) == 1
    refused = answers[5].json()["error"]
    assert refused["code"] == "verification_codes_limited"
    assert "Nowy kod możesz zamówić za 60 min" in refused["message"]
    assert refused["details"] == {"retry_after_seconds": 3600}
    assert answers[5].headers["retry-after"] == "3600"
    # An unknown address is refused the same way: the 429 tells nothing about the account.
    elsewhere = {"conversation": "rozmowa-2", "network": "198.51.100.0/24"}
    unknown = [await request_code(http, backend, UNKNOWN, elsewhere) for _ in range(6)]
    assert [a.status_code for a in unknown] == [202] * 5 + [429]
    assert unknown[5].json()["error"]["code"] == "verification_codes_limited"
    await smtp.wait_for(5)
    async with backend.app.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 5
    # The last code sent still works.
    assert (await check(http, backend, jan.email, code_in(smtp.messages[4]))).status_code == 200
    backend.clock.advance(minutes=61)
    assert (await request_code(http, backend, jan.email)).status_code == 202
    await smtp.wait_for(6)


async def test_code_never_reaches_logs_or_audit(http, backend, smtp, jan):
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    # As `python -m backend` runs: everything at INFO; our own code even at DEBUG. (Database
    # drivers log statement parameters at DEBUG, e-mail bodies included: never run them so.)
    handler = Collect(level=logging.DEBUG)
    loggers = {
        name: logging.getLogger(name)
        for name in ("", "backend", "sanic.root", "sanic.access", "sanic.error")
    }
    levels = [logger.level for logger in loggers.values()]
    for name, logger in loggers.items():
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if name == "backend" else logging.INFO)
    try:
        code = await new_code(http, backend, smtp, jan.email)
        await check(http, backend, jan.email, wrong(code))
        granted = await check(http, backend, jan.email, code)
        assert granted.status_code == 200
    finally:
        for logger, level in zip(loggers.values(), levels):
            logger.removeHandler(handler)
            logger.setLevel(level)
    assert any(CHECK in message for message in records)  # the collector did see the requests
    for message in records:
        assert code not in message and wrong(code) not in message
        assert granted.json()["grant"] not in message

    async def delivered():
        async with backend.app.ctx.sessions() as session:
            row = (await session.scalars(select(OutboxMessage))).one()
            return row if row.sent_at is not None else None

    row = await eventually(delivered)
    assert row.text_body is None and row.html_body is None and code not in row.subject
    events = await audit_events(backend)
    assert [e.action for e in events] == [
        "chat_verification_code_sent",
        "chat_verification_failed",
        "chat_verification_succeeded",
    ]
    for event in events:
        assert code not in repr(event.details) and wrong(code) not in repr(event.details)
    [token] = await tokens(backend)
    assert code not in token.token_hash and code not in repr(token.payload)


async def test_grant_expires_after_fifteen_minutes(http, backend, smtp, jan):
    code = await new_code(http, backend, smtp, jan.email)
    grant = (await check(http, backend, jan.email, code)).json()["grant"]
    headers = {**backend.service_headers(), GRANT_HEADER: grant}
    backend.clock.advance(minutes=14, seconds=59)
    assert (await http.get(ACCOUNT_DEVICE, headers=headers)).status_code == 200
    backend.clock.advance(seconds=1)
    expired = await http.get(ACCOUNT_DEVICE, headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "verification_required"


async def test_endpoints_need_the_service_token(http, backend, smtp, jan):
    for path, body in (
        (CODES, {"email": jan.email}),
        (CHECK, {"email": jan.email, "code": "123456"}),
    ):
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = await http.post(path, json=body, headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"
    assert await tokens(backend) == []


@pytest.mark.parametrize(
    "code",
    ["12345", "1234567", "abcdef", "12345a",
     pytest.param("\uff11\uff12\uff13\uff14\uff15\uff16", id="fullwidth")],
)
async def test_malformed_code_costs_no_attempt(http, backend, smtp, jan, code):
    real = await new_code(http, backend, smtp, jan.email)
    response = await check(http, backend, jan.email, code)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_code_format"
    [token] = await tokens(backend)
    assert token.attempts == 0
    assert (await check(http, backend, jan.email, real)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "nie-mail"}, {"email": "jan@x.pl"}, {"email": "jan@x.pl", "code": 123456},
     {"email": "jan@x.pl", "code": ""}, {"email": "jan@x.pl", "code": "123456", "x": 1}],
)
async def test_check_input_is_validated(http, backend, body):
    response = await http.post(CHECK, json=body, headers=backend.service_headers())
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_concurrent_code_requests_leave_one_live_code(http, backend, smtp, jan):
    responses = await asyncio.gather(*(request_code(http, backend, jan.email) for _ in range(3)))
    assert [r.status_code for r in responses] == [202] * 3
    live = [token for token in await tokens(backend) if token.consumed_at is None]
    assert len(live) == 1
    messages = await smtp.wait_for(len(await tokens(backend)))
    codes = [code_in(message) for message in messages]
    answers = [(await check(http, backend, jan.email, code)).status_code for code in codes]
    assert answers.count(200) == 1
