"""The trusted mobile device: the ING Office app's calls and the assistant's calls.

App calls (``/api/v1/mobile/...``) carry no service token: pairing is authorised by the person's
e-mail and password, later calls by ``Authorization: Device <token>``. Assistant calls
(``/api/v1/account/device``) need the service token and a verification grant.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool, field_validator
from sanic import Blueprint, Request, json

from backend.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from backend.api.idempotency import MAX_KEY_LENGTH
from backend.api.openapi import raises
from backend.api.requests import parse_json
from backend.api.schemas import LoginRequest, _Body
from backend.api.service_auth import require_grant
from backend.errors import (
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidCredentials,
    RateLimited,
    ValidationFailed,
)
from backend.services.devices import (
    DeviceLimitReached,
    DeviceNotRecognised,
    DeviceService,
    NoDevice,
    PinFormat,
    PinTooSimple,
    clean_device_name,
)

bp = Blueprint("devices_v1", url_prefix="/api/v1")

DEVICE_SCHEME = "device"
# Answers that carry a device token must not be kept by any cache.
NO_STORE = {"Cache-Control": "no-store"}


class MobileActivation(LoginRequest):
    device_name: str = Field(min_length=1, max_length=100)
    platform: Literal["android", "ios"]

    _device_name = field_validator("device_name")(clean_device_name)

    @field_validator("email")
    @classmethod
    def _printable_email(cls, value: str) -> str:
        # PostgreSQL refuses NUL in text: without this a stray control character would be a 500.
        if not value.isprintable():
            raise ValueError("invalid e-mail address")
        return value


class PinBody(_Body):
    # Checked by the service so the answer can name the rule (pin_format / pin_too_simple).
    pin: str = Field(max_length=32)


class BiometricsBody(_Body):
    enabled: StrictBool


class RemovalBody(_Body):
    reason: Literal["lost", "stolen", "replace"]


def _service(request: Request) -> DeviceService:
    return DeviceService(request.app.ctx.deps, request.app.ctx.auth)


def _device_token(request: Request) -> str:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == DEVICE_SCHEME else ""


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and (not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable()):
        raise ValidationFailed("Nagłówek Idempotency-Key musi mieć od 1 do 100 znaków.")
    return key


@bp.post("/mobile/activate")
@raises(InvalidCredentials, RateLimited, DeviceLimitReached, IdempotencyKeyReused,
        IdempotencyInProgress)
async def activate(request: Request):
    # Idempotent by Idempotency-Key, but not through @idempotent: that would store the device
    # token in plain text and fingerprint the password (see services/devices.py).
    key = _idempotency_key(request)
    body = parse_json(request, MobileActivation)
    activation = await _service(request).activate(
        body.email, body.password, body.device_name, body.platform, idempotency_key=key
    )
    headers = dict(NO_STORE)
    if activation.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json(
        {"device_token": activation.device_token, "device": activation.device.for_app()},
        status=201,
        headers=headers,
    )


@bp.get("/mobile/device")
@raises(DeviceNotRecognised)
async def app_device(request: Request):
    device = await _service(request).current(_device_token(request))
    return json({"device": device.for_app()})


@bp.put("/mobile/device/pin")
@raises(DeviceNotRecognised, PinFormat, PinTooSimple)
async def set_pin(request: Request):
    body = parse_json(request, PinBody)
    device = await _service(request).set_pin(_device_token(request), body.pin)
    return json({"device": device.for_app()})


@bp.put("/mobile/device/biometrics")
@raises(DeviceNotRecognised)
async def set_biometrics(request: Request):
    body = parse_json(request, BiometricsBody)
    device = await _service(request).set_biometrics(_device_token(request), body.enabled)
    return json({"device": device.for_app()})


@bp.get("/account/device")
@require_grant
async def account_device(request: Request):
    device = await _service(request).for_account(request.ctx.account_id)
    return json({"device": device.for_assistant() if device else None})


@bp.delete("/account/device")
@require_grant
@raises(NoDevice)
async def remove_account_device(request: Request):
    body = parse_json(request, RemovalBody)
    device = await _service(request).remove(request.ctx.account_id, body.reason)
    return json(
        {
            "status": "removed",
            "message": (
                f"Urządzenie „{device.name}” zostało odłączone od konta. "
                "Możesz teraz sparować nowe urządzenie w aplikacji ING Office."
            ),
            "device": device.for_assistant(),
        }
    )
