"""Who may call: the action server (shared bearer token), and for sensitive calls a verified user.

- ``require_service_token``: the caller is our action server.
- ``require_grant``: additionally, the ``X-Verification-Grant`` header carries a live verification
  grant; ``request.ctx.account_id`` is then the verified account, the only identity handlers trust.
"""

from __future__ import annotations

from functools import wraps

from sanic import Request

from backend.errors import Unauthorized
from backend.security.tokens import same_secret
from backend.services import grants

GRANT_HEADER = "x-verification-grant"


def require_service_token(handler):
    @wraps(handler)
    async def wrapper(request: Request, *args, **kwargs):
        scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
        expected = request.app.ctx.settings.service_token
        if scheme.lower() != "bearer" or not given or not same_secret(given, expected):
            raise Unauthorized()
        return await handler(request, *args, **kwargs)

    return wrapper


def require_grant(handler):
    @wraps(handler)
    async def wrapper(request: Request, *args, **kwargs):
        deps = request.app.ctx.deps
        async with deps.sessions() as session:
            account = await grants.account_for(
                session, request.headers.get(GRANT_HEADER, ""), deps.clock
            )
        request.ctx.account_id = account.id
        return await handler(request, *args, **kwargs)

    return require_service_token(wrapper)
