"""/api/v1/auth: password reset and login."""

from __future__ import annotations

from sanic import Blueprint, Request, json

from backend.api import openapi
from backend.api.requests import parse_json
from backend.api.schemas import EmailRequest, LoginRequest, NewPasswordRequest
from backend.api.service_auth import require_service_token

bp = Blueprint("auth_v1", url_prefix="/api/v1/auth")

RESET_ACCEPTED = (
    "Jeśli konto z tym adresem istnieje, wysłaliśmy na nie link do ustawienia nowego hasła. "
    "Link jest ważny 60 minut."
)


@bp.post("/password-reset")
@require_service_token
@openapi.body(EmailRequest)
@openapi.responds(202, description="Accepted; the same answer whether or not the account exists.")
async def request_password_reset(request: Request):
    body = parse_json(request, EmailRequest)
    await request.app.ctx.auth.request_password_reset(body.email, actor="assistant")
    # The same answer whether or not the account exists: no account enumeration.
    return json({"status": "accepted", "message": RESET_ACCEPTED}, status=202)


@bp.post("/password-reset/confirm")
@openapi.body(NewPasswordRequest)
async def confirm_password_reset(request: Request):
    body = parse_json(request, NewPasswordRequest)
    await request.app.ctx.auth.reset_password(body.token, body.password, body.password_confirm)
    return json({"status": "password_changed", "message": "Hasło zostało zmienione."})


@bp.post("/login")
@openapi.body(LoginRequest)
async def login(request: Request):
    body = parse_json(request, LoginRequest)
    account = await request.app.ctx.auth.login(body.email, body.password)
    return json({"account": {"id": account.id, "email": account.email, "name": account.name}})
