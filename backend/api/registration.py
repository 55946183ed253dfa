"""Registration with a Comarch licence, activation links and the activation page.

- ``bp`` (``/api/v1``): ``POST /registrations``, ``POST /auth/activation/resend`` (both for the
  action server, service token) and ``POST /auth/activation/confirm`` (the link's token is the
  credential, like the reset confirmation).
- the page a person opens from the "Aktywacja konta Comarch Cloud" e-mail (or from an
  invitation), ``GET``/``POST /activate``, is in ``backend/api/pages.py`` with the other pages.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from sanic import Blueprint, Request

from backend.api.context import services
from backend.api.idempotency import idempotent
from backend.api.openapi import answer, json_body, raises, responds
from backend.api.requests import parse_json
from backend.api.schemas import (
    AcceptedOut,
    EmailRequest,
    NewPasswordRequest,
    RequesterIn,
    _checked_email,
    requester_of,
)
from backend.api.service_auth import require_service_token
from backend.errors import PasswordPolicyViolation, ValidationFailed
from backend.mail.registration_emails import hours_text
from backend.models import PackageCode
from backend.services import registration as registration_service
from backend.services.activation import (
    ActivationResendLimited,
    InvalidActivationLink,
    InvalidPersonName,
)
from backend.services.activation_links import ACTIVATION_TTL
from backend.services.registration import RegistrationForm, RegistrationResult

bp = Blueprint("registration_v1", url_prefix="/api/v1")

RESEND_ACCEPTED = (
    "Jeśli konto z tym adresem czeka na aktywację, wysłaliśmy na nie nowy link aktywacyjny "
    "(temat wiadomości: „Aktywacja konta Comarch Cloud”). Link jest ważny "
    f"{hours_text(int(ACTIVATION_TTL.total_seconds() // 3600))}."
)
ACTIVATED = (
    "Konto zostało aktywowane. Możesz się teraz zalogować na stronie iKsięgowość24 "
    "(„Zaloguj się do Panelu Biura”), podając swój adres e-mail i ustawione hasło."
)


# --- request bodies -------------------------------------------------------------------------

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=1000)


def _digits(value: str) -> str:
    value = value.strip()
    # [0-9], not str.isdigit: that also accepts other scripts' digits.
    if not value or not all("0" <= c <= "9" for c in value):
        raise ValueError("digits only")
    return value


class RegistrationBody(_Body):
    email: str = Field(min_length=3, max_length=254)
    comarch_id: str = Field(max_length=20)
    pin: str = Field(max_length=10)
    nip: str = Field(max_length=32)
    full_name: str = Field(max_length=200)
    package: PackageCode
    terms_accepted: StrictBool
    requester: RequesterIn | None = None

    _email = field_validator("email")(_checked_email)
    _comarch_id = field_validator("comarch_id")(_digits)

    @field_validator("pin")
    @classmethod
    def _pin(cls, value: str) -> str:
        value = _digits(value)
        if len(value) != 4:
            raise ValueError("4 digits")
        return value

    @field_validator("full_name")
    @classmethod
    def _full_name(cls, value: str) -> str:
        value = " ".join(value.split())
        if len(value) < 2 or not any(c.isalpha() for c in value):
            raise ValueError("a name")
        return value


# --- answers (documented in the OpenAPI document, and every answer passes through them) ---------

class ResendRequest(EmailRequest):
    requester: RequesterIn | None = None


class ActivationConfirmRequest(NewPasswordRequest):
    """The first password; and the person's name when the account has none (invited by e-mail
    and role only) - then required, else ignored."""

    name: str | None = Field(default=None, max_length=200)


class ActivationEmailOut(BaseModel):
    queued: bool
    # The form's address as given, or the account's own address masked (a***@biuro-nowak.pl).
    to: str
    to_given_address: bool


class PackageRefOut(BaseModel):
    code: PackageCode
    name: str


class RegistrationOut(BaseModel):
    status: Literal["account_created", "existing_account", "already_active"]
    message: str
    activation_email: ActivationEmailOut
    package: PackageRefOut | None
    valid_until: date | None
    trial_until: date | None
    after_trial_package: PackageCode | None

    @classmethod
    def of(cls, result: RegistrationResult) -> RegistrationOut:
        return cls(
            status=result.status,
            message=result.message,
            activation_email=ActivationEmailOut(
                queued=result.email_queued,
                to=result.email_to,
                to_given_address=result.email_to_given_address,
            ),
            package=None
            if result.package_code is None
            else PackageRefOut(code=result.package_code, name=result.package_name),
            valid_until=result.valid_until,
            trial_until=result.trial_until,
            after_trial_package=result.after_trial,
        )


class ActivatedAccountOut(BaseModel):
    email: str


class ActivatedOut(BaseModel):
    status: Literal["activated"]
    message: str
    account: ActivatedAccountOut


# Field-specific Polish explanations for anything but a missing or unknown field.
_FIELD_HINTS = {
    "comarch_id": "ID Comarch składa się z samych cyfr (np. 68577).",
    "pin": "PIN składa się z dokładnie 4 cyfr.",
    "nip": "NIP musi składać się z 10 cyfr (myślniki i spacje są dozwolone).",
    "full_name": "Podaj imię i nazwisko (od 2 do 200 znaków).",
    "package": "Wybierz pakiet: green (zielony), silver (srebrny) albo gold (złoty).",
    "terms_accepted": (
        "Pole terms_accepted musi mieć wartość true (akceptacja Regulaminu i Cennika) albo false."
    ),
}
_GENERIC_CODES = {"missing", "extra_forbidden"}


def _parse_registration(request: Request) -> RegistrationBody:
    try:
        return parse_json(request, RegistrationBody)
    except ValidationFailed as error:
        for item in error.details if isinstance(error.details, list) else ():
            hint = _FIELD_HINTS.get(item["field"])
            if hint and item["code"] not in _GENERIC_CODES:
                item["message"] = hint
        raise


# --- JSON API ---------------------------------------------------------------------------------

@bp.post("/registrations")
@require_service_token
@idempotent("registration")
@responds(201, RegistrationOut, description="A new account was created (or, without saying so, "
          "the address already had one and was told by e-mail).")
@responds(200, RegistrationOut, description="The licence already has an account; nothing changed.")
@json_body(RegistrationBody, parser=_parse_registration)
@raises(
    registration_service.InvalidNip,
    registration_service.TermsNotAccepted,
    registration_service.LicenceMismatch,
    registration_service.LicenceLocked,
    registration_service.LicenceChecksSuspended,
    registration_service.LicenceAccountUnavailable,
)
async def register(request: Request, body: RegistrationBody):
    """Register with a Comarch ERP Optima licence (ID + PIN + NIP) and send the activation link."""
    form = RegistrationForm(
        email=body.email,
        comarch_id=body.comarch_id,
        pin=body.pin,
        nip=body.nip,
        full_name=body.full_name,
        package=body.package,
        terms_accepted=body.terms_accepted,
    )
    result = await services(request).registration.register(
        form, requester_of(body.requester, "assistant"), actor="assistant"
    )
    # 201 when an account was created (or, unsaid, the address already had one), else 200.
    status = 201 if result.status == "account_created" else 200
    return answer(RegistrationOut.of(result), status=status)


@bp.post("/auth/activation/resend")
@require_service_token
@json_body(ResendRequest)
@responds(202, AcceptedOut, description="The same answer for every address.")
@raises(ActivationResendLimited)
async def resend_activation(request: Request, body: ResendRequest):
    """Send a new activation link if the account still waits for activation.

    Limited per address and network, per conversation, per network and per mailbox (429
    ``activation_resend_limited``, counted alike for unknown addresses)."""
    await services(request).activation.resend(
        body.email, requester_of(body.requester, "assistant"), actor="assistant"
    )
    # The same answer for unknown and already activated addresses.
    return answer(AcceptedOut(status="accepted", message=RESEND_ACCEPTED), status=202)


@bp.post("/auth/activation/confirm")
@json_body(ActivationConfirmRequest)
@responds(200, ActivatedOut)
@raises(InvalidActivationLink, InvalidPersonName, PasswordPolicyViolation)
async def confirm_activation(request: Request, body: ActivationConfirmRequest):
    """Set the first password with an activation (or invitation) link's token (and the name of
    an account that has none)."""
    target = await services(request).activation.activate(
        body.token, body.password, body.password_confirm, name=body.name
    )
    return answer(
        ActivatedOut(
            status="activated", message=ACTIVATED, account=ActivatedAccountOut(email=target.email)
        )
    )
