"""Liveness and readiness for the process manager and load balancers."""

from __future__ import annotations

from sanic import Blueprint, Request, json
from sqlalchemy import text

bp = Blueprint("health")


@bp.get("/health")
async def health(request: Request):
    try:
        async with request.app.ctx.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        return json({"status": "unavailable", "database": "unreachable"}, status=503)
    return json({"status": "ok"})
