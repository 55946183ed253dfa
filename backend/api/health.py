"""Liveness and readiness for the process manager and load balancers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from sanic import Blueprint, Request
from sqlalchemy import text

from backend.api.openapi import answer, responds

bp = Blueprint("health")


class HealthOut(BaseModel):
    status: Literal["ok"]


class UnavailableOut(BaseModel):
    status: Literal["unavailable"]
    database: Literal["unreachable"]


@bp.get("/health")
@responds(200, HealthOut, description="The process and its database answer.")
@responds(503, UnavailableOut, description="The database does not answer.")
async def health(request: Request):
    try:
        async with request.app.ctx.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        return answer(UnavailableOut(status="unavailable", database="unreachable"), status=503)
    return answer(HealthOut(status="ok"))
