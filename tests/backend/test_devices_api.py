"""The trusted mobile device through real HTTP, a real database and a real SMTP server."""

import asyncio

import pytest
from sqlalchemy import func, select, update

from backend.api.service_auth import GRANT_HEADER
from backend.models import Account, AccountState, AuditEvent, IdempotentResponse, MobileDevice
from backend.security.tokens import digest
from tests.support.smtp import body_text, html_text

ACTIVATE = "/api/v1/mobile/activate"
APP_DEVICE = "/api/v1/mobile/device"
PIN = "/api/v1/mobile/device/pin"
BIOMETRICS = "/api/v1/mobile/device/biometrics"
ACCOUNT_DEVICE = "/api/v1/account/device"
LIMIT_MESSAGE = (
    "Możesz dodać maksymalnie jedno urządzenie mobilne połączone z kontem w ING Księgowość. "
    "Usuń obecne urządzenie (np. przez czat lub w ustawieniach), aby sparować nowe."
)
PAIRED_SUBJECT = "Nowe urządzenie mobilne połączone z kontem – iKsięgowość24"
REMOVED_SUBJECT = "Urządzenie mobilne zostało odłączone od konta – iKsięgowość24"


# Queued e-mail goes out before the backend stops (tests/backend/conftest.py).
pytestmark = pytest.mark.usefixtures("mail_settled")


async def activate(http, jan, *, name="Pixel 8", platform="android", password=None, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return await http.post(
        ACTIVATE,
        json={
            "email": jan.email,
            "password": jan.password if password is None else password,
            "device_name": name,
            "platform": platform,
        },
        headers=headers,
    )


def device_auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Device {token}"}


async def devices(backend) -> list[MobileDevice]:
    async with backend.app.ctx.sessions() as session:
        return list((await session.scalars(select(MobileDevice))).all())


async def audit_actions(backend) -> list[AuditEvent]:
    async with backend.app.ctx.sessions() as session:
        return list((await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all())


async def remove(http, headers, reason="replace"):
    return await http.request("DELETE", ACCOUNT_DEVICE, json={"reason": reason}, headers=headers)


async def test_pairing_happy_path(http, backend, smtp, jan, grant_for):
    response = await activate(http, jan)
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    token = body["device_token"]
    assert len(token) >= 43  # 256 bits, URL-safe base64
    assert body["device"] == {
        "name": "Pixel 8",
        "platform": "android",
        "biometrics_enabled": False,
        "pin_set": False,
        "created_at": backend.clock().isoformat(),
        "last_used_at": backend.clock().isoformat(),
    }
    [row] = await devices(backend)
    assert row.device_token_hash == digest(token) and row.app_pin_hash is None

    pin = await http.put(PIN, json={"pin": "4739"}, headers=device_auth(token))
    assert pin.status_code == 200 and pin.json()["device"]["pin_set"] is True
    [row] = await devices(backend)
    assert row.app_pin_hash.startswith("$argon2id$") and "4739" not in row.app_pin_hash
    assert await backend.app.ctx.deps.hasher.verify(row.app_pin_hash, "4739")

    bio = await http.put(BIOMETRICS, json={"enabled": True}, headers=device_auth(token))
    assert bio.status_code == 200 and bio.json()["device"]["biometrics_enabled"] is True

    backend.clock.advance(hours=3)
    read = await http.get(APP_DEVICE, headers=device_auth(token))
    assert read.status_code == 200
    assert read.json()["device"]["last_used_at"] == backend.clock().isoformat()
    assert read.json()["device"]["biometrics_enabled"] is True

    seen = await http.get(ACCOUNT_DEVICE, headers=await grant_for(jan.email))
    assert seen.status_code == 200
    assert seen.json() == {
        "device": {
            "name": "Pixel 8",
            "platform": "android",
            "biometrics_enabled": True,
            "created_at": body["device"]["created_at"],
            "last_used_at": backend.clock().isoformat(),
        }
    }

    [notice] = await smtp.wait_for(1)
    assert notice["To"] == jan.email and notice["Subject"] == PAIRED_SUBJECT
    assert "„Pixel 8” (Android)" in body_text(notice) and "„Pixel 8” (Android)" in html_text(notice)
    actions = [event.action for event in await audit_actions(backend)]
    assert actions == [
        "mobile_device_paired", "mobile_device_pin_set", "mobile_device_biometrics_set"
    ]
    for event in await audit_actions(backend):
        assert token not in repr(event.details) and "4739" not in repr(event.details)


async def test_wrong_password_is_401_like_unknown_and_throttled(http, backend, jan):
    wrong = await activate(http, jan, password="Zle#haslo1")
    unknown = await http.post(
        ACTIVATE,
        json={
            "email": "nikt@nieistnieje.pl", "password": "x", "device_name": "A", "platform": "ios"
        },
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    for _ in range(4):
        assert (await activate(http, jan, password="Zle#haslo1")).status_code == 401
    locked = await activate(http, jan)  # the right password, but login is throttled
    assert locked.status_code == 429
    assert "Spróbuj ponownie za 15 min" in locked.json()["error"]["message"]
    # Pairing and the web login share one throttle.
    credentials = {"email": jan.email, "password": jan.password}
    login = await http.post("/api/v1/auth/login", json=credentials)
    assert login.status_code == 429
    assert await devices(backend) == []
    backend.clock.advance(minutes=16)
    assert (await activate(http, jan)).status_code == 201


async def test_second_device_is_refused_with_the_guide_rule(http, backend, jan):
    first = await activate(http, jan)
    assert first.status_code == 201
    second = await activate(http, jan, name="iPhone 15", platform="ios")
    assert second.status_code == 409
    assert second.json() == {"error": {"code": "device_limit", "message": LIMIT_MESSAGE}}
    # Credentials are checked first: a stranger never learns whether a device exists.
    stranger = await activate(http, jan, name="iPhone 15", password="Zle#haslo1")
    assert stranger.status_code == 401
    [row] = await devices(backend)
    assert row.name == "Pixel 8"
    token = first.json()["device_token"]
    assert (await http.get(APP_DEVICE, headers=device_auth(token))).status_code == 200


async def test_concurrent_pairings_leave_exactly_one_device(http, backend, jan, grant_for):
    headers = await grant_for(jan.email)
    for round_ in range(3):
        responses = await asyncio.gather(
            activate(http, jan, name=f"Telefon A{round_}"),
            activate(http, jan, name=f"Telefon B{round_}", platform="ios"),
        )
        assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.json()["error"]["code"] == "device_limit"
        winner = next(r for r in responses if r.status_code == 201)
        [row] = await devices(backend)
        assert row.name == winner.json()["device"]["name"]
        assert row.device_token_hash == digest(winner.json()["device_token"])
        assert (await remove(http, headers)).status_code == 200


async def test_removal_by_the_assistant_then_pairing_again(http, backend, smtp, jan, grant_for):
    old_token = (await activate(http, jan)).json()["device_token"]
    headers = await grant_for(jan.email)

    removed = await remove(http, headers, reason="stolen")
    assert removed.status_code == 200
    assert removed.json()["status"] == "removed"
    assert "„Pixel 8”" in removed.json()["message"]
    assert removed.json()["device"]["name"] == "Pixel 8"

    gone = await http.get(APP_DEVICE, headers=device_auth(old_token))
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "device_unauthorized"
    for path, body in ((PIN, {"pin": "4739"}), (BIOMETRICS, {"enabled": True})):
        assert (await http.put(path, json=body, headers=device_auth(old_token))).status_code == 401
    assert (await http.get(ACCOUNT_DEVICE, headers=headers)).json() == {"device": None}

    messages = await smtp.wait_for(2)
    notice = next(m for m in messages if m["Subject"] == REMOVED_SUBJECT)
    assert notice["To"] == jan.email
    text = body_text(notice)
    assert "Urządzenie „Pixel 8” (Android) zostało odłączone od konta" in text
    assert "kradzież urządzenia" in text and "zalecamy ustawienie nowego hasła" in text
    assert "zostało odłączone od konta" in html_text(notice)

    [event] = [e for e in await audit_actions(backend) if e.action == "mobile_device_removed"]
    account_id = event.account_id
    assert event.actor == f"assistant:account:{account_id}"
    assert event.details == {"reason": "stolen", "device_name": "Pixel 8", "platform": "android"}

    again = await activate(http, jan, name="iPhone 15", platform="ios")
    assert again.status_code == 201
    assert (await http.get(APP_DEVICE, headers=device_auth(old_token))).status_code == 401
    new = await http.get(APP_DEVICE, headers=device_auth(again.json()["device_token"]))
    assert new.status_code == 200 and new.json()["device"]["name"] == "iPhone 15"


async def test_replacement_notice_does_not_suggest_a_password_change(
    http, backend, smtp, jan, grant_for
):
    await activate(http, jan)
    assert (await remove(http, await grant_for(jan.email), reason="replace")).status_code == 200
    messages = await smtp.wait_for(2)
    notice = next(m for m in messages if m["Subject"] == REMOVED_SUBJECT)
    assert "wymiana na nowe urządzenie" in body_text(notice)
    assert "nowego hasła" not in body_text(notice)


async def test_removing_when_there_is_no_device(http, backend, jan, grant_for):
    headers = await grant_for(jan.email)
    response = await remove(http, headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_device"
    await activate(http, jan)
    assert (await remove(http, headers)).status_code == 200
    assert (await remove(http, headers)).json()["error"]["code"] == "no_device"


async def test_removal_reason_is_required_and_checked(http, backend, jan, grant_for):
    await activate(http, jan)
    headers = await grant_for(jan.email)
    for body in ({}, {"reason": "bored"}, {"reason": "lost", "extra": 1}):
        response = await http.request("DELETE", ACCOUNT_DEVICE, json=body, headers=headers)
        assert response.status_code == 422
    assert len(await devices(backend)) == 1


async def test_assistant_calls_need_service_token_and_grant(http, backend, jan, grant_for):
    await activate(http, jan)
    service_only = backend.service_headers()
    grant = (await grant_for(jan.email))[GRANT_HEADER]
    cases = [
        ({}, "unauthorized"),
        ({GRANT_HEADER: grant}, "unauthorized"),  # a grant without the service token
        ({"Authorization": "Bearer wrong", GRANT_HEADER: grant}, "unauthorized"),
        (service_only, "verification_required"),
        ({**service_only, GRANT_HEADER: "not-a-grant"}, "verification_required"),
    ]
    for headers, code in cases:
        read = await http.get(ACCOUNT_DEVICE, headers=headers)
        delete = await remove(http, headers)
        assert read.status_code == delete.status_code == 401
        assert read.json()["error"]["code"] == delete.json()["error"]["code"] == code
    assert len(await devices(backend)) == 1


async def test_the_grant_is_for_its_own_account_only(http, backend, jan, grant_for):
    await activate(http, jan)
    anna = await http.get(ACCOUNT_DEVICE, headers=await grant_for("anna.nowak@biuro-nowak.pl"))
    assert anna.json() == {"device": None}
    assert (await remove(http, await grant_for("anna.nowak@biuro-nowak.pl"))).status_code == 404
    assert len(await devices(backend)) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Device"},
        {"Authorization": "Device nie-ten-token"},
        {"Authorization": "Bearer {token}"},  # the right token under the wrong scheme
        {"Authorization": "{token}"},
    ],
)
async def test_app_calls_need_the_device_token(http, backend, jan, headers):
    token = (await activate(http, jan)).json()["device_token"]
    headers = {k: v.format(token=token) for k, v in headers.items()}
    for method, path, body in (
        ("GET", APP_DEVICE, None),
        ("PUT", PIN, {"pin": "4739"}),
        ("PUT", BIOMETRICS, {"enabled": True}),
    ):
        response = await http.request(method, path, json=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "device_unauthorized"
    [row] = await devices(backend)
    assert row.app_pin_hash is None and row.biometrics_enabled is False


async def test_a_locked_account_s_device_stops_working(http, backend, jan):
    token = (await activate(http, jan)).json()["device_token"]
    async with backend.app.ctx.sessions.begin() as session:
        await session.execute(
            update(Account).where(Account.email == jan.email).values(state=AccountState.LOCKED)
        )
    assert (await http.get(APP_DEVICE, headers=device_auth(token))).status_code == 401


@pytest.mark.parametrize(
    ("pin", "code"),
    [
        ("123", "pin_format"),
        ("1234567", "pin_format"),
        ("12a4", "pin_format"),
        ("", "pin_format"),
        # Full-width digits are digits to Python, not to a keypad.
        pytest.param("\uff14\uff17\uff13\uff19", "pin_format", id="fullwidth-pin_format"),
        ("0000", "pin_too_simple"),
        ("999999", "pin_too_simple"),
        ("1234", "pin_too_simple"),
        ("3456", "pin_too_simple"),
        ("4321", "pin_too_simple"),
        ("987654", "pin_too_simple"),
        ("1212", "pin_too_simple"),
        ("123123", "pin_too_simple"),
        ("454545", "pin_too_simple"),
    ],
)
async def test_pin_rules(http, backend, jan, pin, code):
    token = (await activate(http, jan)).json()["device_token"]
    response = await http.put(PIN, json={"pin": pin}, headers=device_auth(token))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    [row] = await devices(backend)
    assert row.app_pin_hash is None


async def test_pin_can_be_changed_and_must_be_a_string(http, backend, jan):
    token = (await activate(http, jan)).json()["device_token"]
    assert (await http.put(PIN, json={"pin": 4739}, headers=device_auth(token))).status_code == 422
    for pin in ("4739", "8152"):
        response = await http.put(PIN, json={"pin": pin}, headers=device_auth(token))
        assert response.status_code == 200
    [row] = await devices(backend)
    assert await backend.app.ctx.deps.hasher.verify(row.app_pin_hash, "8152")
    assert not await backend.app.ctx.deps.hasher.verify(row.app_pin_hash, "4739")


async def test_biometrics_take_a_real_boolean(http, backend, jan):
    token = (await activate(http, jan)).json()["device_token"]
    for value in ("yes", 1, "true", None):
        response = await http.put(BIOMETRICS, json={"enabled": value}, headers=device_auth(token))
        assert response.status_code == 422
    on = await http.put(BIOMETRICS, json={"enabled": True}, headers=device_auth(token))
    off = await http.put(BIOMETRICS, json={"enabled": False}, headers=device_auth(token))
    assert on.json()["device"]["biometrics_enabled"] is True
    assert off.json()["device"]["biometrics_enabled"] is False


@pytest.mark.parametrize(
    "change",
    [
        {"platform": "windows"},
        {"device_name": ""},
        {"device_name": "   "},
        {"device_name": "x" * 101},
        {"device_name": "Tel\x00efon"},
        {"email": "jan\x00@majafirma.pl"},
        {"extra": True},
    ],
)
async def test_activation_input_is_validated(http, backend, jan, change):
    body = {"email": jan.email, "password": jan.password, "device_name": "Pixel", "platform": "ios"}
    response = await http.post(ACTIVATE, json={**body, **change})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert await devices(backend) == []


async def test_device_name_is_tidied(http, backend, jan):
    response = await activate(http, jan, name="  Telefon\n  Jana  ")
    assert response.json()["device"]["name"] == "Telefon Jana"


async def test_idempotent_retry_gets_the_same_device_with_a_fresh_token(http, backend, jan):
    first = await activate(http, jan, key="pair-1")
    retry = await activate(http, jan, key="pair-1")
    assert first.status_code == retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert retry.json()["device"]["created_at"] == first.json()["device"]["created_at"]
    assert retry.json()["device_token"] != first.json()["device_token"]
    [row] = await devices(backend)
    assert row.device_token_hash == digest(retry.json()["device_token"])
    stale = await http.get(APP_DEVICE, headers=device_auth(first.json()["device_token"]))
    fresh = await http.get(APP_DEVICE, headers=device_auth(retry.json()["device_token"]))
    assert stale.status_code == 401 and fresh.status_code == 200

    # Neither the device token nor the password leaves a trace in the remembered request.
    async with backend.app.ctx.sessions() as session:
        [stored] = (await session.scalars(select(IdempotentResponse))).all()
    for token in (first.json()["device_token"], retry.json()["device_token"], jan.password):
        assert token not in repr(stored.body) and token not in stored.request_hash
    assert set(stored.body) == {"device_id"}

    # Another body under the same key, or the right key with a wrong password: no replay.
    other = await activate(http, jan, name="Inny telefon", key="pair-1")
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    guess = await activate(http, jan, password="Zle#haslo1", key="pair-1")
    assert guess.status_code == 401


async def test_idempotency_key_of_a_removed_device_pairs_anew(http, backend, jan, grant_for):
    await activate(http, jan, key="pair-1")
    assert (await remove(http, await grant_for(jan.email))).status_code == 200
    again = await activate(http, jan, key="pair-1")
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert len(await devices(backend)) == 1
    async with backend.app.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(IdempotentResponse)) == 1


async def test_bad_idempotency_key(http, backend, jan):
    response = await activate(http, jan, key="x" * 101)
    assert response.status_code == 422
    assert await devices(backend) == []
