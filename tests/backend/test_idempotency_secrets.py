"""Idempotency-Key fingerprints are keyed with the backend's secret and never hash a PIN.

A registration carries the licence PIN (4 digits). With a plain SHA-256 over the body, the stored
``request_hash`` gave the PIN back in a fraction of a second by trying all 10 000 values; it is
now an HMAC-SHA256 keyed with BACKEND_HMAC_SECRET over a body whose secret fields are replaced by
their own HMAC.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import select

from backend.api.idempotency import request_fingerprint
from backend.models import IdempotentResponse
from backend.settings import DEV_HMAC_SECRET, Settings, SettingsError
from tests.backend.test_registration_api import REGISTER, new_licence_form

KEY = "rejestracja-68577-hmac"


async def post_raw(http, backend, body: bytes, key: str = KEY):
    headers = {
        **backend.service_headers(),
        "Idempotency-Key": key,
        "Content-Type": "application/json",
    }
    return await http.post(REGISTER, content=body, headers=headers)


async def stored_hashes(backend) -> list[str]:
    async with backend.app.ctx.sessions() as session:
        return list((await session.scalars(select(IdempotentResponse.request_hash))).all())


def body_with_pin(pin: str) -> bytes:
    return json.dumps(new_licence_form(pin=pin), ensure_ascii=False).encode()


async def test_the_stored_fingerprint_does_not_give_the_pin_back(http, backend, smtp):
    body = body_with_pin("4821")
    response = await post_raw(http, backend, body)
    assert response.status_code == 201, response.text
    [stored] = await stored_hashes(backend)

    # The attack that worked on the plain SHA-256: try every PIN.
    plain = {
        hashlib.sha256(f"POST {REGISTER} {body_with_pin(f'{n:04d}').hex()}".encode()).hexdigest()
        for n in range(10_000)
    }
    assert stored not in plain
    # Without the server's secret the keyed fingerprint cannot be recomputed either.
    guessed = {
        request_fingerprint(DEV_HMAC_SECRET + "x", "POST", REGISTER, body_with_pin(f"{n:04d}"))
        for n in range(10_000)
    }
    assert stored not in guessed
    # It is the keyed fingerprint of this request.
    secret = backend.settings.hmac_secret
    assert stored == request_fingerprint(secret, "POST", REGISTER, body)


async def test_same_request_replays_and_a_changed_pin_is_another_request(http, backend, smtp):
    first = await post_raw(http, backend, body_with_pin("4821"))
    again = await post_raw(http, backend, body_with_pin("4821"))
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"

    changed = await post_raw(http, backend, body_with_pin("4822"))
    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_key_reused"


def test_secret_fields_enter_the_fingerprint_only_through_their_own_hmac():
    secret = "s" * 40
    base = {"email": "a@b.pl", "pin": "4821", "nested": {"new_password": "Tajne123!"}}
    fingerprint = request_fingerprint(secret, "POST", "/x", json.dumps(base).encode())
    # key order and whitespace do not matter; the secret values and the key do
    reordered = json.dumps(dict(reversed(list(base.items()))), indent=2).encode()
    assert request_fingerprint(secret, "POST", "/x", reordered) == fingerprint
    other_pin = json.dumps({**base, "pin": "4822"}).encode()
    assert request_fingerprint(secret, "POST", "/x", other_pin) != fingerprint
    assert request_fingerprint("t" * 40, "POST", "/x", json.dumps(base).encode()) != fingerprint


@pytest.mark.parametrize("secret", [DEV_HMAC_SECRET, "short-secret"])
def test_production_refuses_the_development_or_a_short_hmac_secret(secret):
    with pytest.raises(SettingsError, match="BACKEND_HMAC_SECRET"):
        Settings(environment="production", service_token="x" * 40, hmac_secret=secret).check()


def test_production_accepts_a_real_hmac_secret(monkeypatch):
    monkeypatch.setenv("POMOCNIK_ENV", "production")
    monkeypatch.setenv("BACKEND_SERVICE_TOKEN", "x" * 40)
    monkeypatch.setenv("BACKEND_HMAC_SECRET", "h" * 40)
    assert Settings.from_env().hmac_secret == "h" * 40
