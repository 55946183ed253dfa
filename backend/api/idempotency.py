"""Idempotency-Key support for create endpoints: a retried request gets the first answer again.

The key is claimed (a row with status 0) before the handler runs, so two concurrent requests with
the same key cannot both act; the answer is stored when the handler succeeds, and the claim is
released if it fails, so the client may retry after fixing its request.

The stored ``request_hash`` tells "the same request again" from "another request with a reused
key". It is an HMAC-SHA256 keyed with the backend's secret (``BACKEND_HMAC_SECRET``) over the
method, the path and the canonical JSON body in which every secret field (a PIN, a password, a
code, a token, a grant - ``SECRET_FIELD``) is replaced by its own keyed HMAC: the database never
holds a plain hash an attacker could brute-force back into a 4-digit PIN. Rows written before
this (plain SHA-256) no longer match: a retry of such a request within its key's lifetime gets
409 ``idempotency_key_reused`` instead of the replay, and the rows expire as before.
"""

from __future__ import annotations

import hashlib
import hmac
import json as jsonlib
import re
from functools import wraps
from typing import Any

from sanic import Request, json
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from backend.errors import IdempotencyInProgress, IdempotencyKeyReused, ValidationFailed
from backend.models import IdempotentResponse

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 100
# Body fields whose values are replaced by their own HMAC before the request is fingerprinted.
SECRET_FIELD = re.compile(
    r"(?:^|_)(?:pin|password|passwd|code|token|grant|secret)(?:$|_)", re.IGNORECASE
)


def request_fingerprint(secret: str, method: str, path: str, body: bytes | None) -> str:
    """HMAC-SHA256 (hex) of the request, keyed with ``secret``, never over a secret field."""
    key = secret.encode()
    try:
        parsed = jsonlib.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        canonical = b"raw:" + hashlib.sha256(body or b"").digest()
    else:
        canonical = b"json:" + jsonlib.dumps(
            _without_secrets(key, parsed), sort_keys=True, separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
    message = b"\x00".join([method.upper().encode(), path.encode(), canonical])
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _without_secrets(key: bytes, value: Any, field: str = "") -> Any:
    if field and SECRET_FIELD.search(field) and not isinstance(value, (dict, list)):
        own = jsonlib.dumps(value, sort_keys=True, ensure_ascii=False).encode()
        return "hmac:" + hmac.new(key, b"field:" + field.encode() + b"\x00" + own,
                                  hashlib.sha256).hexdigest()
    if isinstance(value, dict):
        return {k: _without_secrets(key, v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(key, item, field) for item in value]
    return value


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
            deps = request.app.ctx.deps
            request_hash = request_fingerprint(
                deps.settings.hmac_secret, request.method, request.path, request.body
            )
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
