"""Append-only record of state changes. Callers pass no secrets; only ids and names."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import AuditEvent
from backend.services.clock import Clock


def record(
    session: AsyncSession,
    clock: Clock,
    *,
    actor: str,
    action: str,
    account_id: int | None,
    **details: Any,
) -> None:
    session.add(
        AuditEvent(
            occurred_at=clock(),
            actor=actor,
            action=action,
            account_id=account_id,
            details=details,
        )
    )
