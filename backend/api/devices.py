"""The trusted mobile device: the ING Office app's calls and the assistant's calls.

App calls (``/api/v1/mobile/...``) carry no service token: pairing is authorised by the person's
e-mail and password, later calls by ``Authorization: Device <token>``. Assistant calls
(``/api/v1/account/device``) need the service token and a verification grant.
"""

from __future__ import annotations

from functools import wraps
from typing import Literal

from pydantic import BaseModel, Field, StrictBool, field_validator
from sanic import Blueprint, Request

from backend.api.context import services
from backend.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from backend.api.idempotency import MAX_KEY_LENGTH
from backend.api.openapi import (
    answer,
    IDEMPOTENCY_KEY_DESCRIPTION,
    IDEMPOTENCY_KEY_SCHEMA,
    header,
    json_body,
    raises,
    responds,
    secured,
)
from backend.api.schemas import IsoDateTime, LoginRequest, _Body
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
    DeviceView,
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


# --- answers (documented in the OpenAPI document, and every answer passes through them) ---------


class AssistantDeviceOut(BaseModel):
    """What the assistant may tell about the paired device."""

    name: str
    platform: str
    biometrics_enabled: bool
    created_at: IsoDateTime
    last_used_at: IsoDateTime

    @classmethod
    def of(cls, device: DeviceView) -> AssistantDeviceOut:
        return cls(
            name=device.name,
            platform=device.platform,
            biometrics_enabled=device.biometrics_enabled,
            created_at=device.created_at,
            last_used_at=device.last_used_at,
        )


class AppDeviceOut(AssistantDeviceOut):
    """What the app itself sees: also whether its PIN is set."""

    pin_set: bool

    @classmethod
    def of(cls, device: DeviceView) -> AppDeviceOut:
        return cls(**AssistantDeviceOut.of(device).model_dump(), pin_set=device.pin_set)


class ActivatedDeviceOut(BaseModel):
    device_token: str = Field(description="Shown only now: `Authorization: Device <token>`.")
    device: AppDeviceOut


class AppDeviceAnswerOut(BaseModel):
    device: AppDeviceOut


class AccountDeviceOut(BaseModel):
    device: AssistantDeviceOut | None = Field(description="null = no device is paired.")


class DeviceRemovedOut(BaseModel):
    status: Literal["removed"]
    message: str
    device: AssistantDeviceOut



# --- handlers -----------------------------------------------------------------------------------


def _device_token(request: Request) -> str:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == DEVICE_SCHEME else ""


def device_authenticated(handler):
    """The app's calls: ``Authorization: Device <token>`` is given to the handler as
    ``device_token=`` (empty when absent; the service answers 401 ``device_unauthorized``)."""

    @wraps(handler)
    async def with_device_token(request: Request, *args, **kwargs):
        return await handler(request, *args, device_token=_device_token(request), **kwargs)

    return secured("deviceToken")(raises(DeviceNotRecognised)(with_device_token))


def with_idempotency_key(handler):
    """The ``Idempotency-Key`` header, checked before the body, given as ``idempotency_key=``."""

    @wraps(handler)
    async def checked_key(request: Request, *args, **kwargs):
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None and (not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable()):
            raise ValidationFailed("Nagłówek Idempotency-Key musi mieć od 1 do 100 znaków.")
        return await handler(request, *args, idempotency_key=key, **kwargs)

    return header(
        "Idempotency-Key", schema=IDEMPOTENCY_KEY_SCHEMA, description=IDEMPOTENCY_KEY_DESCRIPTION
    )(raises(ValidationFailed, IdempotencyKeyReused, IdempotencyInProgress)(checked_key))


# Idempotent by Idempotency-Key, but not through @idempotent: that would store the device token in
# plain text and fingerprint the password (see services/devices.py).
@bp.post("/mobile/activate")
@with_idempotency_key
@json_body(MobileActivation)
@responds(201, ActivatedDeviceOut, description="Paired: the device token and the device.")
@raises(InvalidCredentials, RateLimited, DeviceLimitReached)
async def activate(request: Request, body: MobileActivation, idempotency_key: str | None):
    activation = await services(request).devices.activate(
        body.email, body.password, body.device_name, body.platform,
        idempotency_key=idempotency_key,
    )
    headers = dict(NO_STORE)
    if activation.replayed:
        headers["Idempotent-Replayed"] = "true"
    out = ActivatedDeviceOut(
        device_token=activation.device_token, device=AppDeviceOut.of(activation.device)
    )
    return answer(out, status=201, headers=headers)


@bp.get("/mobile/device")
@device_authenticated
@responds(200, AppDeviceAnswerOut)
async def app_device(request: Request, device_token: str):
    device = await services(request).devices.current(device_token)
    return answer(AppDeviceAnswerOut(device=AppDeviceOut.of(device)))


@bp.put("/mobile/device/pin")
@device_authenticated
@json_body(PinBody)
@responds(200, AppDeviceAnswerOut)
@raises(PinFormat, PinTooSimple)
async def set_pin(request: Request, body: PinBody, device_token: str):
    device = await services(request).devices.set_pin(device_token, body.pin)
    return answer(AppDeviceAnswerOut(device=AppDeviceOut.of(device)))


@bp.put("/mobile/device/biometrics")
@device_authenticated
@json_body(BiometricsBody)
@responds(200, AppDeviceAnswerOut)
async def set_biometrics(request: Request, body: BiometricsBody, device_token: str):
    device = await services(request).devices.set_biometrics(device_token, body.enabled)
    return answer(AppDeviceAnswerOut(device=AppDeviceOut.of(device)))


@bp.get("/account/device")
@require_grant
@responds(200, AccountDeviceOut)
async def account_device(request: Request):
    device = await services(request).devices.for_account(request.ctx.account_id)
    return answer(AccountDeviceOut(device=AssistantDeviceOut.of(device) if device else None))


@bp.delete("/account/device")
@require_grant
@json_body(RemovalBody)
@responds(200, DeviceRemovedOut)
@raises(NoDevice)
async def remove_account_device(request: Request, body: RemovalBody):
    device = await services(request).devices.remove(request.ctx.account_id, body.reason)
    return answer(
        DeviceRemovedOut(
            status="removed",
            message=(
                f"Urządzenie „{device.name}” zostało odłączone od konta. "
                "Możesz teraz sparować nowe urządzenie w aplikacji ING Office."
            ),
            device=AssistantDeviceOut.of(device),
        )
    )
