"""The registration's rules: input checks, the licence match, PIN lockout, idempotency, SMTP down."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.demo_data import ANNA_NOWAK
from backend.mail.sender import MAX_BACKOFF_SECONDS
from backend.models import Account, AuditEvent, OutboxMessage, RateLimitHit
from backend.services.registration import FAILURES_ALARM, FAILURES_PER_NETWORK
from tests.backend.test_registration_api import (
    NEW_EMAIL,
    REGISTER,
    SUBJECT,
    anna_licence_form,
    count,
    new_licence_form,
    register,
    rows,
)
from tests.support.waiting import eventually


def error_of(response) -> dict:
    return response.json()["error"]


# --- field rules ----------------------------------------------------------------------------------

@pytest.mark.parametrize("nip", ["7776665544", "777-666-55-44", "526-025-02-75", "0000000001"])
async def test_nip_with_a_wrong_checksum_is_refused(http, backend, nip):
    response = await register(http, backend, new_licence_form(nip=nip))
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_nip" and error["details"] == {"reason": "checksum"}
    assert "NIP jest nieprawidłowy" in error["message"] and "suma kontrolna" in error["message"]
    assert await count(backend, RateLimitHit) == 0  # refused before the licence is checked


@pytest.mark.parametrize(
    "nip",
    ["526025027", "52602502741", "abcdefghij", "526/025/02/74", "", "٥٢٦٠٢٥٠٢٧٤"],
    ids=["short", "long", "letters", "slashes", "empty", "arabic_digits"],
)
async def test_nip_of_a_wrong_shape_is_refused(http, backend, nip):
    response = await register(http, backend, new_licence_form(nip=nip))
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_nip" and error["details"] == {"reason": "format"}
    assert "10 cyfr" in error["message"]


@pytest.mark.parametrize(
    "nip",
    ["5260250274", "526-025-02-74", "526 025 02 74", " 52-60-25-02-74 ", "PL5260250274"],
    ids=["plain", "dashes", "spaces", "mixed", "pl_prefix"],
)
async def test_nip_may_have_dashes_and_spaces(http, backend, smtp, nip):
    response = await register(http, backend, new_licence_form(nip=nip))
    assert response.status_code == 201, response.text


async def test_terms_must_be_accepted(http, backend):
    response = await register(http, backend, new_licence_form(terms_accepted=False))
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "terms_not_accepted" and "Regulamin" in error["message"]
    assert await count(backend, Account) == 2


@pytest.mark.parametrize(
    ("changes", "field", "hint"),
    [
        ({"pin": "482"}, "pin", "dokładnie 4 cyfr"),
        ({"pin": "48210"}, "pin", "dokładnie 4 cyfr"),
        ({"pin": "48a1"}, "pin", "dokładnie 4 cyfr"),
        ({"pin": "٤٨٢١"}, "pin", "dokładnie 4 cyfr"),  # Arabic-Indic digits are not digits here
        ({"pin": 4821}, "pin", "dokładnie 4 cyfr"),
        ({"comarch_id": "68A77"}, "comarch_id", "samych cyfr"),
        ({"comarch_id": ""}, "comarch_id", "samych cyfr"),
        ({"comarch_id": "1" * 21}, "comarch_id", "samych cyfr"),
        ({"email": "nie-mail"}, "email", "Nieprawidłowy adres e-mail"),
        ({"email": "a" * 300 + "@x.pl"}, "email", "za długa"),
        ({"full_name": "   "}, "full_name", "imię i nazwisko"),
        ({"full_name": "J" * 201}, "full_name", "imię i nazwisko"),
        ({"package": "platinum"}, "package", "zielony"),
        ({"terms_accepted": "true"}, "terms_accepted", "Regulaminu"),
        ({"extra": 1}, "extra", "Nieznane pole"),
    ],
)
async def test_bad_fields_get_a_polish_explanation(http, backend, changes, field, hint):
    response = await register(http, backend, new_licence_form(**changes))
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_error" and error["message"] == "Przesłane dane są niepoprawne."
    [detail] = [d for d in error["details"] if d["field"] == field]
    assert hint in detail["message"]
    assert await count(backend, RateLimitHit) == 0


@pytest.mark.parametrize("missing", ["email", "comarch_id", "pin", "nip", "full_name", "package", "terms_accepted"])
async def test_every_field_is_required(http, backend, missing):
    form = new_licence_form()
    del form[missing]
    response = await register(http, backend, form)
    assert response.status_code == 422
    assert error_of(response)["details"] == [
        {"field": missing, "code": "missing", "message": "To pole jest wymagane."}
    ]


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "malformed_json"),
        ({"content": b"email=x", "headers": {"content-type": "text/plain"}}, 415, "unsupported_media_type"),
        ({"json": []}, 422, "validation_error"),
        ({"json": "text"}, 422, "validation_error"),
        ({"content": b"x" * 70000, "headers": {"content-type": "application/json"}}, 413, "payload_too_large"),
    ],
)
async def test_bad_bodies_get_a_clear_4xx(http, backend, kwargs, status, code):
    kwargs.setdefault("headers", {})
    kwargs["headers"].update(backend.service_headers())
    response = await http.post(REGISTER, **kwargs)
    assert response.status_code == status
    error = error_of(response)
    assert error["code"] == code and error["message"] and "Traceback" not in response.text


# --- the licence match ----------------------------------------------------------------------------

async def test_mismatch_answer_is_the_same_whichever_field_is_wrong(http, backend, monkeypatch):
    hasher = backend.app.ctx.deps.hasher
    verified = []
    original = hasher.verify

    async def counting_verify(stored_hash, secret):
        verified.append(stored_hash is not None)
        return await original(stored_hash, secret)

    monkeypatch.setattr(hasher, "verify", counting_verify)
    wrong_id = await register(http, backend, new_licence_form(comarch_id="99999"))
    wrong_pin = await register(http, backend, new_licence_form(pin="1111"))
    wrong_nip = await register(http, backend, anna_licence_form(nip="5260250274"))
    for response in (wrong_id, wrong_pin, wrong_nip):
        assert response.status_code == 422
        assert error_of(response)["code"] == "licence_mismatch"
    assert wrong_id.json() == wrong_pin.json() == wrong_nip.json()
    message = error_of(wrong_id)["message"]
    assert "ID Comarch, PIN i NIP" in message and "Liczba pozostałych prób: 4." in message
    # Exactly one argon2 verification each, a dummy one for the unknown ID.
    assert verified == [False, True, True]
    assert await count(backend, Account) == 2


async def test_five_failures_lock_the_licence_for_an_hour_even_for_the_right_pin(http, backend, smtp):
    for left in (4, 3, 2, 1, 0):
        response = await register(http, backend, new_licence_form(pin="0000"))
        assert response.status_code == 422
        assert error_of(response)["details"] == {"attempts_left": left}
    assert "zablokowana na 60 min" in error_of(response)["message"]

    locked = await register(http, backend, new_licence_form())
    assert locked.status_code == 429
    error = error_of(locked)
    assert error["code"] == "licence_locked" and "Spróbuj ponownie za 60 min" in error["message"]
    assert locked.headers["retry-after"] == "3600"
    assert await count(backend, Account) == 2

    backend.clock.advance(minutes=59)
    assert (await register(http, backend, new_licence_form())).status_code == 429
    backend.clock.advance(minutes=2)
    released = await register(http, backend, new_licence_form())
    assert released.status_code == 201


async def test_unknown_ids_are_locked_the_same_way(http, backend):
    for _ in range(5):
        assert (await register(http, backend, new_licence_form(comarch_id="99999"))).status_code == 422
    response = await register(http, backend, new_licence_form(comarch_id="99999"))
    assert response.status_code == 429 and error_of(response)["code"] == "licence_locked"
    # Other licences are not affected.
    assert (await register(http, backend, anna_licence_form())).status_code == 200


async def test_a_success_forgives_earlier_failures(http, backend, smtp):
    for _ in range(4):
        await register(http, backend, anna_licence_form(pin="0000"))
    assert (await register(http, backend, anna_licence_form())).status_code == 200
    response = await register(http, backend, anna_licence_form(pin="0000"))
    assert error_of(response)["details"] == {"attempts_left": 4}


def from_network(form: dict, network: str) -> dict:
    return {**form, "requester": {"network": network, "conversation": f"rozmowa-{network}"}}


async def test_many_failures_from_one_network_stop_checks_for_that_network_only(
    http, backend, smtp
):
    network_a, network_b = "203.0.113.0/24", "198.51.100.0/24"
    for n in range(FAILURES_PER_NETWORK):
        response = await register(
            http, backend, from_network(new_licence_form(comarch_id=str(100000 + n)), network_a)
        )
        assert response.status_code == 422
    stopped = await register(http, backend, from_network(new_licence_form(), network_a))
    assert stopped.status_code == 429
    assert error_of(stopped)["code"] == "licence_checks_suspended"
    assert "wstrzymaliśmy" in error_of(stopped)["message"]
    # Another network is not switched off, and neither is a caller that reports no network.
    assert (await register(http, backend, from_network(anna_licence_form(), network_b))).status_code == 200
    assert (await register(http, backend, anna_licence_form())).status_code == 200
    backend.clock.advance(minutes=61)
    assert (await register(http, backend, from_network(new_licence_form(), network_a))).status_code == 201


async def test_failures_across_all_networks_only_raise_an_alarm(http, backend, smtp, caplog):
    per_network = FAILURES_PER_NETWORK - 1
    n = 0
    while n < FAILURES_ALARM:
        network = f"10.{n // per_network}.0.0/24"
        response = await register(
            http, backend, from_network(new_licence_form(comarch_id=str(200000 + n)), network)
        )
        assert response.status_code == 422, response.text
        n += 1
    alarms = await rows(backend, AuditEvent, AuditEvent.action == "licence_failures_alarm")
    assert len(alarms) == 1 and alarms[0].details["failures"] == FAILURES_ALARM
    assert any("licence checks" in r.getMessage() for r in caplog.records)
    # Nobody is blocked by the alarm: a fresh network (and the caller's own bucket) still works.
    fresh = await register(http, backend, from_network(new_licence_form(), "192.0.2.0/24"))
    assert fresh.status_code == 201, fresh.text
    # More failures within the hour do not raise a second alarm.
    await register(http, backend, from_network(new_licence_form(comarch_id="300000"), "10.9.0.0/24"))
    assert len(await rows(backend, AuditEvent, AuditEvent.action == "licence_failures_alarm")) == 1


# --- idempotency ----------------------------------------------------------------------------------

async def test_idempotency_key_replays_the_answer_and_creates_one_account(http, backend, smtp):
    key = {"Idempotency-Key": "rejestracja-68577-1"}
    first = await register(http, backend, new_licence_form(), headers=key)
    second = await register(http, backend, new_licence_form(), headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert await count(backend, Account, Account.email == NEW_EMAIL) == 1
    await smtp.wait_for(1)
    assert await count(backend, OutboxMessage) == 1

    reused = await register(http, backend, new_licence_form(package="gold"), headers=key)
    assert reused.status_code == 422 and error_of(reused)["code"] == "idempotency_key_reused"


async def test_a_refused_request_does_not_burn_its_idempotency_key(http, backend, smtp):
    key = {"Idempotency-Key": "rejestracja-68577-2"}
    refused = await register(http, backend, new_licence_form(terms_accepted=False), headers=key)
    assert refused.status_code == 422
    # Same key, corrected body: a different request hash, but the claim was released.
    accepted = await register(http, backend, new_licence_form(), headers=key)
    assert accepted.status_code == 201


# --- SMTP down ------------------------------------------------------------------------------------

async def test_registration_succeeds_while_smtp_is_down_and_mail_goes_out_once_later(http, backend, smtp):
    await smtp.stop()
    created = await register(http, backend, new_licence_form())
    existing = await register(http, backend, anna_licence_form())
    assert created.status_code == 201 and existing.status_code == 200
    for response in (created, existing):
        assert response.json()["activation_email"]["queued"] is True

    async def both_failed_once():
        async with backend.app.ctx.sessions() as session:
            rows = (await session.scalars(select(OutboxMessage))).all()
            return rows if len(rows) == 2 and all(r.attempts >= 1 for r in rows) else None

    for row in await eventually(both_failed_once):
        assert row.sent_at is None and row.text_body

    await smtp.start()
    backend.clock.advance(seconds=MAX_BACKOFF_SECONDS + 1)
    backend.app.ctx.sender.notify()
    await smtp.wait_for(2)

    async def all_sent():
        async with backend.app.ctx.sessions() as session:
            pending = await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
            )
            return pending == 0

    await eventually(all_sent)
    for _ in range(3):
        await backend.app.ctx.sender.deliver_due()
    assert sorted(m["To"] for m in smtp.messages) == sorted([NEW_EMAIL, ANNA_NOWAK.email])
    assert {m["Subject"] for m in smtp.messages} == {SUBJECT}
