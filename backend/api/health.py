"""Liveness and readiness for the process manager and load balancers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from sanic import Blueprint, Request, json
from sqlalchemy import text

from backend.api.openapi import responds

bp = Blueprint("health")


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["unreachable"] | None = None


@bp.get("/health")
@responds(200, HealthOut, description="The process and its database answer.")
@responds(503, HealthOut, description="The database does not answer.")
async def health(request: Request):
    try:
        async with request.app.ctx.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        return json({"status": "unavailable", "database": "unreachable"}, status=503)
    return json({"status": "ok"})
