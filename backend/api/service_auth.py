"""Service-to-service authentication: the action server presents the shared bearer token."""

from __future__ import annotations

from functools import wraps

from sanic import Request

from backend.errors import Unauthorized
from backend.security.tokens import same_secret


def require_service_token(handler):
    @wraps(handler)
    async def wrapper(request: Request, *args, **kwargs):
        scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
        expected = request.app.ctx.settings.service_token
        if scheme.lower() != "bearer" or not given or not same_secret(given, expected):
            raise Unauthorized()
        return await handler(request, *args, **kwargs)

    return wrapper
