"""/api/v1/verification: the chat proves the user controls the account's mailbox (for the action
server, service token only); a checked code is exchanged for a short-lived verification grant.

The area is called `identity` (``actions/identity.py``, ``backend/services/identity.py``,
``backend/mail/identity_emails.py``); the URL paths keep ``verification`` because they are a
public contract."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator
from sanic import Blueprint, Request

from backend.api.context import services
from backend.api.openapi import answer, json_body, raises, responds
from backend.api.schemas import (
    AcceptedOut,
    IsoDateTime,
    RequesterIn,
    _Body,
    _checked_email,
    requester_of,
)
from backend.api.service_auth import require_service_token
from backend.services.identity import (
    CODE_TTL,
    CodeExpired,
    CodeFormat,
    CodesLimited,
    InvalidCode,
)

bp = Blueprint("identity_v1", url_prefix="/api/v1/verification")

CODE_ACCEPTED = (
    "Jeśli konto z tym adresem istnieje, wysłaliśmy na nie 6-cyfrowy kod weryfikacyjny. "
    f"Kod jest ważny przez {int(CODE_TTL.total_seconds() // 60)} minut."
)


class _EmailBody(_Body):
    email: str = Field(min_length=3, max_length=254)

    _email = field_validator("email")(_checked_email)


class CodeRequest(_EmailBody):
    requester: RequesterIn | None = None


class CodeCheck(_EmailBody):
    # The service accepts separators ("123 456") and names a wrong format itself.
    code: str = Field(min_length=1, max_length=20)


class VerifiedAccountOut(BaseModel):
    name: str | None = Field(description="null: the account has no name (invited without one).")
    email: str


class GrantOut(BaseModel):
    grant: str = Field(description="Send it as `X-Verification-Grant` (15 minutes).")
    expires_at: IsoDateTime
    account: VerifiedAccountOut


@bp.post("/codes")
@require_service_token
@json_body(CodeRequest)
@responds(202, AcceptedOut, description="The same answer whether or not the account exists.")
@raises(CodesLimited)
async def request_code(request: Request, body: CodeRequest):
    """E-mail a 6-digit code if an active account has the address (the same 202 if not).

    Limited per address and network, per conversation, per network and per mailbox (429
    ``verification_codes_limited``, counted alike for unknown addresses)."""
    await services(request).identity.request_code(
        body.email, requester_of(body.requester, "assistant")
    )
    # The same answer whether or not the account exists.
    out = AcceptedOut(status="accepted", message=CODE_ACCEPTED)
    return answer(out, status=202)


@bp.post("/codes/check")
@require_service_token
@json_body(CodeCheck)
@responds(200, GrantOut, description="The code is right: a verification grant for the account.")
@raises(InvalidCode, CodeExpired, CodeFormat)
async def check_code(request: Request, body: CodeCheck):
    verified = await services(request).identity.check_code(body.email, body.code)
    out = GrantOut(
        grant=verified.grant,
        expires_at=verified.expires_at,
        account=VerifiedAccountOut(name=verified.name, email=verified.email),
    )
    return answer(out, headers={"Cache-Control": "no-store"})
