"""Idempotency-Key support for create endpoints: a retried request gets the first answer again.

The key is claimed (a row with status 0) before the handler runs, so two concurrent requests with
the same key cannot both act; the answer is stored when the handler succeeds, and the claim is
released if it fails, so the client may retry after fixing its request.
"""

from __future__ import annotations

import json as jsonlib
from functools import wraps

from sanic import Request, json
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from backend.errors import IdempotencyInProgress, IdempotencyKeyReused, ValidationFailed
from backend.models import IdempotentResponse
from backend.security.tokens import digest

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 100


def idempotent(scope: str):
    def decorator(handler):
        @wraps(handler)
        async def wrapper(request: Request, *args, **kwargs):
            key = request.headers.get(HEADER)
            if key is None:
                return await handler(request, *args, **kwargs)
            if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
                raise ValidationFailed("Nagłówek Idempotency-Key musi mieć od 1 do 100 znaków.")
            # The verified account (if any) is part of the scope: keys never cross users.
            full_scope = f"{scope}:{getattr(request.ctx, 'account_id', '')}"
            request_hash = digest(f"{request.method} {request.path} {(request.body or b'').hex()}")
            deps = request.app.ctx.deps
            replay = await _claim(deps, full_scope, key, request_hash)
            if replay is not None:
                return replay
            try:
                response = await handler(request, *args, **kwargs)
            except BaseException:
                await _release(deps, full_scope, key)
                raise
            if 200 <= response.status < 300:
                await _store(deps, full_scope, key, response)
            else:
                await _release(deps, full_scope, key)
            return response

        return wrapper

    return decorator


async def _claim(deps, scope: str, key: str, request_hash: str):
    try:
        async with deps.sessions.begin() as session:
            session.add(
                IdempotentResponse(
                    scope=scope, key=key, request_hash=request_hash, status=0, body={},
                    created_at=deps.clock(),
                )
            )
        return None
    except IntegrityError:
        pass
    async with deps.sessions() as session:
        stored = await session.scalar(
            select(IdempotentResponse).where(
                IdempotentResponse.scope == scope, IdempotentResponse.key == key
            )
        )
    if stored is None:  # released in between: treat as in progress, the client retries
        raise IdempotencyInProgress()
    if stored.request_hash != request_hash:
        raise IdempotencyKeyReused()
    if stored.status == 0:
        raise IdempotencyInProgress()
    return json(stored.body, status=stored.status, headers={"Idempotent-Replayed": "true"})


async def _store(deps, scope: str, key: str, response) -> None:
    async with deps.sessions.begin() as session:
        await session.execute(
            update(IdempotentResponse)
            .where(IdempotentResponse.scope == scope, IdempotentResponse.key == key)
            .values(status=response.status, body=jsonlib.loads(response.body or b"{}"))
        )


async def _release(deps, scope: str, key: str) -> None:
    async with deps.sessions.begin() as session:
        await session.execute(
            delete(IdempotentResponse).where(
                IdempotentResponse.scope == scope, IdempotentResponse.key == key
            )
        )
