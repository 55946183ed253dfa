"""/api/v1/auth: password reset, login and website login sessions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from sanic import Blueprint, Request, empty

from backend.api import openapi
from backend.api.context import services
from backend.api.schemas import (
    AcceptedOut,
    EmailRequest,
    IsoDateTime,
    LoginRequest,
    NewPasswordRequest,
    SessionTokenRequest,
)
from backend.api.service_auth import require_service_token
from backend.errors import (
    InvalidCredentials,
    InvalidToken,
    PasswordPolicyViolation,
    RateLimited,
    SessionInvalid,
)

bp = Blueprint("auth_v1", url_prefix="/api/v1/auth")

RESET_ACCEPTED = (
    "Jeśli konto z tym adresem istnieje, wysłaliśmy na nie link do ustawienia nowego hasła. "
    "Link jest ważny 60 minut."
)
NO_STORE = {"Cache-Control": "no-store"}


# --- answers (documented in the OpenAPI document, and every answer passes through them) ---------


class PasswordChangedOut(BaseModel):
    status: Literal["password_changed"]
    message: str


class LoginAccountOut(BaseModel):
    id: int
    email: str
    name: str | None = Field(description="null: the account has no name (invited without one).")


class LoginSessionOut(BaseModel):
    token: str
    expires_at: IsoDateTime


class LoginOut(BaseModel):
    account: LoginAccountOut
    session: LoginSessionOut


class SessionAccountOut(BaseModel):
    id: int
    email: str
    name: str | None = Field(description="null: the account has no name (invited without one).")
    organisation: str | None
    role: str | None


class SessionVerifiedOut(BaseModel):
    account: SessionAccountOut
    grant: str
    grant_expires_at: IsoDateTime


# --- handlers -----------------------------------------------------------------------------------


@bp.post("/password-reset")
@require_service_token
@openapi.json_body(EmailRequest)
@openapi.responds(202, AcceptedOut,
                  description="Accepted; the same answer whether or not the account exists.")
async def request_password_reset(request: Request, body: EmailRequest):
    await services(request).auth.request_password_reset(body.email, actor="assistant")
    # The same answer whether or not the account exists: no account enumeration.
    return openapi.answer(AcceptedOut(status="accepted", message=RESET_ACCEPTED), status=202)


@bp.post("/password-reset/confirm")
@openapi.json_body(NewPasswordRequest)
@openapi.responds(200, PasswordChangedOut)
@openapi.raises(InvalidToken, PasswordPolicyViolation)
async def confirm_password_reset(request: Request, body: NewPasswordRequest):
    await services(request).auth.reset_password(body.token, body.password, body.password_confirm)
    return openapi.answer(
        PasswordChangedOut(status="password_changed", message="Hasło zostało zmienione.")
    )


@bp.post("/login")
@openapi.json_body(LoginRequest)
@openapi.responds(200, LoginOut, description="Logged in; a new website session (8 hours).")
@openapi.raises(InvalidCredentials, RateLimited)
async def login(request: Request, body: LoginRequest):
    """Log in with e-mail and password; starts a website login session."""
    logged_in = await services(request).auth.login_with_session(body.email, body.password)
    account = logged_in.account
    out = LoginOut(
        account=LoginAccountOut(id=account.id, email=account.email, name=account.name),
        session=LoginSessionOut(
            token=logged_in.session_token, expires_at=logged_in.session_expires_at
        ),
    )
    return openapi.answer(out, headers=NO_STORE)


@bp.post("/sessions/verify")
@require_service_token
@openapi.json_body(SessionTokenRequest)
@openapi.responds(200, SessionVerifiedOut, description="The session is live: its account and a "
                  "fresh 15-minute verification grant for it.")
@openapi.raises(SessionInvalid)
async def verify_session(request: Request, body: SessionTokenRequest):
    """Exchange a website login session for a verification grant (the assistant acts for the
    logged-in user without an e-mail code)."""
    verified = await services(request).login_sessions.verify(body.session_token)
    account = verified.account
    out = SessionVerifiedOut(
        account=SessionAccountOut(
            id=account.id,
            email=account.email,
            name=account.name,
            organisation=account.organisation,
            role=account.role,
        ),
        grant=verified.grant,
        grant_expires_at=verified.grant_expires_at,
    )
    return openapi.answer(out, headers=NO_STORE)


@bp.post("/logout")
@openapi.json_body(SessionTokenRequest)
@openapi.responds(204, description="Logged out; the same answer for unknown or ended sessions.")
async def logout(request: Request, body: SessionTokenRequest):
    """End a website login session."""
    await services(request).login_sessions.logout(body.session_token)
    # The same answer whether or not the session existed: nothing to learn from it.
    return empty()
