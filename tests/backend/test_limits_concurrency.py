"""Limits under concurrency: 50 parallel requests through the real HTTP API against the real
database (SQLite, or PostgreSQL with TEST_DATABASE_URL) never get past a limit.

Each burst counts what the limit protects: argon2 verifications (a counting wrapper around the
real hasher), codes and links issued, e-mails queued. Before the atomic ``rate_limit.acquire``
every one of these let most of a burst through, because the count and the recorded hit were
separate steps (and, for login and PINs, the failure was recorded only after argon2).
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from backend.demo_data import ANNA_NOWAK, JAN_KOWALSKI, LICENCE_WITHOUT_ACCOUNT
from backend.models import (
    Account,
    AccountState,
    AuditEvent,
    ComarchLicence,
    OutboxMessage,
    RateLimitHit,
    Token,
    TokenPurpose,
)
from backend.services.activation import RESEND_PER_ADDRESS_AND_NETWORK
from backend.services.activation_links import ACTIVATION_EMAILS
from backend.services.auth import LOGIN_FAILURES, RESET_EMAILS
from backend.services.registration import (
    EMAIL_TAKEN_NOTICES,
    FAILURES_PER_LICENCE,
    FAILURES_PER_NETWORK,
)
from backend.services.support import TICKET_EMAILS
from backend.services.identity import (
    CODES_PER_ADDRESS_AND_NETWORK,
    CODES_PER_MAILBOX,
    CODES_PER_NETWORK,
)
from tests.backend.test_registration_api import new_licence_form

BURST = 50
LOGIN = "/api/v1/auth/login"
PAIR = "/api/v1/mobile/activate"
REGISTER = "/api/v1/registrations"
CODES = "/api/v1/verification/codes"
RESEND = "/api/v1/auth/activation/resend"
RESET = "/api/v1/auth/password-reset"
TICKETS = "/api/v1/support/ticket-emails"
WRONG_PASSWORD = "Zle-haslo-123!"
STRANGER = {"conversation": "rozmowa-obcego", "network": "203.0.113.0/24"}
OWNER = {"conversation": "rozmowa-wlasciciela", "network": "198.51.100.0/24"}


# Queued e-mail goes out before the backend stops (tests/backend/conftest.py).
pytestmark = pytest.mark.usefixtures("mail_settled")


@pytest.fixture
def verifications(backend, monkeypatch) -> list[bool]:
    """Every argon2 verification the backend runs (the real hasher, counted)."""
    hasher = backend.app.ctx.deps.hasher
    real_verify = hasher.verify
    results: list[bool] = []

    async def counting_verify(stored_hash, secret):
        valid = await real_verify(stored_hash, secret)
        results.append(valid)
        return valid

    monkeypatch.setattr(hasher, "verify", counting_verify)
    return results


async def burst(http, requests) -> list:
    """Send every request at once; ``requests`` are (path, json, headers) triples."""
    return await asyncio.gather(
        *(http.post(path, json=body, headers=headers) for path, body, headers in requests)
    )


def statuses(responses) -> dict[int, int]:
    counted: dict[int, int] = {}
    for response in responses:
        counted[response.status_code] = counted.get(response.status_code, 0) + 1
    return counted


def codes_of(responses) -> set[str]:
    return {r.json()["error"]["code"] for r in responses if r.status_code >= 400}


async def count(backend, model, *where) -> int:
    async with backend.app.ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


# --- login and pairing ----------------------------------------------------------------------------

async def test_parallel_wrong_passwords_check_at_most_the_limit_then_lock(
    http, backend, verifications
):
    wrong = [(LOGIN, {"email": JAN_KOWALSKI.email, "password": WRONG_PASSWORD}, {})] * BURST
    responses = await burst(http, wrong)
    assert len(verifications) == LOGIN_FAILURES.limit
    assert statuses(responses) == {401: LOGIN_FAILURES.limit, 429: BURST - LOGIN_FAILURES.limit}
    assert codes_of(responses) == {"invalid_credentials", "rate_limited"}

    # Locked now: a burst with the right password inside is refused without checking anything.
    right = {"email": JAN_KOWALSKI.email, "password": JAN_KOWALSKI.password}
    mixed = wrong[: BURST // 2] + [(LOGIN, right, {})] + wrong[BURST // 2 + 1:]
    responses = await burst(http, mixed)
    assert statuses(responses) == {429: BURST}
    assert len(verifications) == LOGIN_FAILURES.limit
    assert (await http.post(LOGIN, json=right)).status_code == 429


async def test_parallel_mobile_pairings_share_the_login_lockout(http, backend, verifications):
    body = {
        "email": JAN_KOWALSKI.email, "password": WRONG_PASSWORD,
        "device_name": "Telefon", "platform": "android",
    }
    responses = await burst(http, [(PAIR, body, {})] * BURST)
    assert len(verifications) == LOGIN_FAILURES.limit
    assert statuses(responses) == {401: LOGIN_FAILURES.limit, 429: BURST - LOGIN_FAILURES.limit}
    right = {**body, "password": JAN_KOWALSKI.password}
    assert (await http.post(PAIR, json=right)).status_code == 429
    assert len(verifications) == LOGIN_FAILURES.limit


# --- licence PIN, the per-network breaker ---------------------------------------------------------

async def test_parallel_wrong_pins_check_at_most_five_then_the_right_pin_is_refused(
    http, backend, verifications
):
    headers = backend.service_headers()
    wrong = [(REGISTER, new_licence_form(pin=f"{n:04d}"), headers) for n in range(BURST)]
    responses = await burst(http, wrong)
    assert len(verifications) == FAILURES_PER_LICENCE
    assert statuses(responses) == {422: FAILURES_PER_LICENCE, 429: BURST - FAILURES_PER_LICENCE}
    assert codes_of(responses) == {"licence_mismatch", "licence_locked"}

    right = (REGISTER, new_licence_form(), headers)
    mixed = wrong[:10] + [right] + wrong[11:]
    responses = await burst(http, mixed)
    assert statuses(responses) == {429: BURST}
    assert len(verifications) == FAILURES_PER_LICENCE
    assert await count(backend, Account) == 2  # the demo accounts only


async def test_a_network_breaker_does_not_block_other_networks(http, backend, verifications):
    headers = backend.service_headers()
    spray = [
        (REGISTER, {**new_licence_form(comarch_id=str(500000 + n)), "requester": STRANGER}, headers)
        for n in range(BURST)
    ]
    responses = await burst(http, spray)
    assert len(verifications) == FAILURES_PER_NETWORK
    assert statuses(responses) == {422: FAILURES_PER_NETWORK, 429: BURST - FAILURES_PER_NETWORK}
    assert codes_of(responses) == {"licence_mismatch", "licence_checks_suspended"}

    # The owner of a real licence, on another network, registers while network A is suspended.
    owner = await http.post(
        REGISTER, json={**new_licence_form(), "requester": OWNER}, headers=headers
    )
    assert owner.status_code == 201, owner.text
    stopped = await http.post(
        REGISTER, json={**new_licence_form(comarch_id="599999"), "requester": STRANGER},
        headers=headers,
    )
    assert stopped.status_code == 429


# --- verification codes ---------------------------------------------------------------------------

async def test_a_stranger_cannot_use_up_the_owners_codes(http, backend, smtp):
    headers = backend.service_headers()
    attack = [(CODES, {"email": JAN_KOWALSKI.email, "requester": STRANGER}, headers)] * BURST
    responses = await burst(http, attack)
    allowed = CODES_PER_ADDRESS_AND_NETWORK.limit
    assert statuses(responses) == {202: allowed, 429: BURST - allowed}
    assert codes_of(responses) == {"verification_codes_limited"}
    refused = next(r for r in responses if r.status_code == 429)
    assert int(refused.headers["retry-after"]) == refused.json()["error"]["details"][
        "retry_after_seconds"
    ] > 0
    purpose = Token.purpose == TokenPurpose.CHAT_VERIFICATION
    assert await count(backend, Token, purpose) == allowed

    # The owner, from their own network and conversation, still gets a code.
    mine = await http.post(
        CODES, json={"email": JAN_KOWALSKI.email, "requester": OWNER}, headers=headers
    )
    assert mine.status_code == 202
    assert await count(backend, Token, purpose) == allowed + 1
    await smtp.wait_for(allowed + 1)


async def test_one_network_gets_at_most_its_codes_across_addresses(http, backend, smtp):
    headers = backend.service_headers()
    spread = [
        (CODES, {"email": f"osoba{n}@example.pl",
                 "requester": {"network": STRANGER["network"], "conversation": f"r{n}"}}, headers)
        for n in range(BURST)
    ]
    responses = await burst(http, spread)
    assert statuses(responses) == {
        202: CODES_PER_NETWORK.limit, 429: BURST - CODES_PER_NETWORK.limit
    }


async def test_the_mailbox_cap_holds_against_many_networks(http, backend, smtp):
    headers = backend.service_headers()
    spread = [
        (CODES, {"email": JAN_KOWALSKI.email,
                 "requester": {"network": f"10.0.{n}.0/24", "conversation": f"r{n}"}}, headers)
        for n in range(BURST)
    ]
    responses = await burst(http, spread)
    assert statuses(responses) == {
        202: CODES_PER_MAILBOX.limit, 429: BURST - CODES_PER_MAILBOX.limit
    }
    purpose = Token.purpose == TokenPurpose.CHAT_VERIFICATION
    assert await count(backend, Token, purpose) == CODES_PER_MAILBOX.limit


# --- e-mails: activation links, reset links, notices, ticket e-mails ---------------------------------

async def test_parallel_resends_send_at_most_the_limit(http, backend, smtp):
    headers = backend.service_headers()
    attack = [(RESEND, {"email": ANNA_NOWAK.email, "requester": STRANGER}, headers)] * BURST
    responses = await burst(http, attack)
    allowed = RESEND_PER_ADDRESS_AND_NETWORK.limit
    assert statuses(responses) == {202: allowed, 429: BURST - allowed}
    assert codes_of(responses) == {"activation_resend_limited"}
    activation = Token.purpose == TokenPurpose.ACTIVATION
    assert await count(backend, Token, activation) == allowed
    mine = await http.post(
        RESEND, json={"email": ANNA_NOWAK.email, "requester": OWNER}, headers=headers
    )
    assert mine.status_code == 202
    assert await count(backend, Token, activation) == allowed + 1

    # Across many networks the mailbox cap holds.
    spread = [
        (RESEND, {"email": ANNA_NOWAK.email,
                  "requester": {"network": f"10.1.{n}.0/24", "conversation": f"r{n}"}}, headers)
        for n in range(BURST)
    ]
    await burst(http, spread)
    assert await count(backend, Token, activation) == ACTIVATION_EMAILS.limit


async def test_parallel_reset_requests_send_at_most_the_limit(http, backend, smtp):
    headers = backend.service_headers()
    responses = await burst(http, [(RESET, {"email": JAN_KOWALSKI.email}, headers)] * BURST)
    assert statuses(responses) == {202: BURST}  # the same answer, whatever happened
    reset = Token.purpose == TokenPurpose.PASSWORD_RESET
    assert await count(backend, Token, reset) == RESET_EMAILS.limit


async def test_parallel_resets_of_an_account_not_activated_send_activation_links_within_limits(
    http, backend, smtp
):
    """Such an account gets its activation link instead of a reset link: the reset limit still
    bounds how many are sent (it is below the mailbox's link cap), and one link stays live."""
    pending = "nowa.osoba@majafirma.pl"
    async with backend.app.ctx.sessions.begin() as session:
        session.add(Account(email=pending, name=None, state=AccountState.PENDING_ACTIVATION))
    headers = backend.service_headers()
    responses = await burst(http, [(RESET, {"email": pending}, headers)] * BURST)
    assert statuses(responses) == {202: BURST}
    activation = Token.purpose == TokenPurpose.ACTIVATION
    assert await count(backend, Token, activation) == RESET_EMAILS.limit
    assert await count(backend, Token, activation, Token.consumed_at.is_(None)) == 1
    assert await count(backend, Token, Token.purpose == TokenPurpose.PASSWORD_RESET) == 0
    sent = AuditEvent.action == "activation_link_sent"
    assert await count(backend, AuditEvent, sent) == RESET_EMAILS.limit


async def test_parallel_ticket_emails_stop_at_the_limit(http, backend, smtp):
    headers = backend.service_headers()
    tickets = [
        (TICKETS, {"kind": "ticket_received", "to": "klient@example.pl",
                   "ticket_number": f"PM-{n:06d}"}, headers)
        for n in range(BURST)
    ]
    responses = await burst(http, tickets)
    assert statuses(responses) == {202: TICKET_EMAILS.limit, 429: BURST - TICKET_EMAILS.limit}
    assert codes_of(responses) == {"ticket_email_limit"}
    assert await count(backend, OutboxMessage) == TICKET_EMAILS.limit


async def test_parallel_email_taken_notices_stop_at_the_limit(http, backend, smtp):
    """50 licences registered at once with an address that already has an account."""
    hasher = backend.app.ctx.deps.hasher
    pin_hash = await hasher.hash("4321")
    async with backend.app.ctx.sessions.begin() as session:
        session.add_all(
            ComarchLicence(
                comarch_id=str(800000 + n), pin_hash=pin_hash,
                nip=LICENCE_WITHOUT_ACCOUNT.nip, holder_name="Biuro Testowe",
            )
            for n in range(BURST)
        )
    headers = backend.service_headers()
    registrations = [
        (REGISTER, {**new_licence_form(comarch_id=str(800000 + n), pin="4321",
                                       email=JAN_KOWALSKI.email),
                    "requester": {"network": f"10.2.{n}.0/24"}}, headers)
        for n in range(BURST)
    ]
    responses = await burst(http, registrations)
    # The same answer as a created account for everyone (no enumeration) ...
    assert statuses(responses) == {201: BURST}
    # ... but the address's owner hears about it at most EMAIL_TAKEN_NOTICES.limit times.
    assert await count(backend, OutboxMessage) == EMAIL_TAKEN_NOTICES.limit
    taken = AuditEvent.action == "registration_email_taken"
    assert await count(backend, AuditEvent, taken) == BURST


# --- the requester field --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "requester",
    [
        {"network": "x" * 65},
        {"conversation": "x" * 129},
        {"conversation": ""},
        {"network": 24},
        {"network": "10.0.0.0/8", "port": 443},
        "203.0.113.0/24",
        [],
    ],
    ids=["network_too_long", "conversation_too_long", "empty", "not_text", "unknown_field",
         "not_an_object", "list"],
)
async def test_a_malformed_requester_is_a_422_with_a_stable_code(http, backend, requester):
    headers = backend.service_headers()
    for path, body in (
        (CODES, {"email": JAN_KOWALSKI.email}),
        (RESEND, {"email": ANNA_NOWAK.email}),
        (REGISTER, new_licence_form()),
    ):
        response = await http.post(path, json={**body, "requester": requester}, headers=headers)
        assert response.status_code == 422, (path, response.text)
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert all(item["field"].startswith("requester") for item in error["details"])
    assert await count(backend, Token) == 0


async def test_requester_values_are_stored_only_hashed(http, backend, smtp):
    requester = {"conversation": "rozmowa-tajna-123", "network": "203.0.113.0/24"}
    for path, body in (
        (CODES, {"email": JAN_KOWALSKI.email}),
        (RESEND, {"email": ANNA_NOWAK.email}),
        (REGISTER, new_licence_form(pin="0000")),
    ):
        await http.post(path, json={**body, "requester": requester}, headers=backend.service_headers())
    async with backend.app.ctx.sessions() as session:
        hits = [repr(row) for row in (await session.execute(select(RateLimitHit.__table__))).all()]
        audit = [repr(row) for row in (await session.execute(select(AuditEvent.__table__))).all()]
    assert len(hits) >= 10  # code request 4, resend 4, failed registration 2 (+ the alarm tally)
    for value in (*requester.values(), "203.0.113", JAN_KOWALSKI.email, ANNA_NOWAK.email):
        assert not any(value in row for row in hits), value
    for value in requester.values():
        assert not any(value in row for row in audit), value
