"""Advisers' accounts, as the operator's commands (``python -m bot.gateway.cli agent-*``)
manage them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway.console import lockout
from bot.gateway.console.auth import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    Passwords,
    normalise_email,
)
from bot.gateway.models import Agent, AgentSession

MAX_NAME_LENGTH = 100


class InvalidAgent(ValueError):
    """An operator's input that cannot be used; the message says why (in English)."""


@dataclass(frozen=True)
class AgentRow:
    email: str
    display_name: str
    locked_until: datetime | None
    last_login_at: datetime | None
    disabled_at: datetime | None
    editor: bool


def clean_email(raw: str) -> str:
    try:
        return normalise_email(validate_email(raw.strip(), check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise InvalidAgent(f"not a valid e-mail address: {exc}") from None


def clean_name(raw: str) -> str:
    name = raw.strip()
    if not 0 < len(name) <= MAX_NAME_LENGTH:
        raise InvalidAgent(f"the name must have 1 to {MAX_NAME_LENGTH} characters")
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAgent(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidAgent(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")


async def add_or_reset(
    sessions: async_sessionmaker[AsyncSession],
    email: str,
    name: str,
    password: str,
    now: datetime,
    passwords: Passwords | None = None,
    *,
    editor: bool | None = None,
) -> bool:
    """Create the adviser, or (an existing address) set the name and a new password, unlock
    and re-enable them and end their sessions. ``editor`` grants (True) or takes away (False)
    the NLU inbox; None keeps what an existing adviser had. Returns True when the adviser is
    new."""
    email, name = clean_email(email), clean_name(name)
    check_password(password)
    password_hash = await (passwords or Passwords()).hash(password)
    async with sessions.begin() as session:
        agent = await session.scalar(select(Agent).where(Agent.email == email))
        await lockout.clear(session, email)
        if agent is None:
            session.add(Agent(email=email, display_name=name, password_hash=password_hash,
                              failed_logins=0, editor=bool(editor), created_at=now))
            return True
        if editor is not None:
            agent.editor = editor
        agent.display_name = name
        agent.password_hash = password_hash
        agent.failed_logins = 0
        agent.locked_until = None
        agent.disabled_at = None
        await _revoke_sessions(session, agent.id, now)
        return False


async def list_agents(sessions: async_sessionmaker[AsyncSession]) -> list[AgentRow]:
    async with sessions() as session:
        agents = (await session.scalars(select(Agent).order_by(Agent.email))).all()
    return [AgentRow(a.email, a.display_name, a.locked_until, a.last_login_at, a.disabled_at,
                     a.editor)
            for a in agents]


async def disable(sessions: async_sessionmaker[AsyncSession], email: str, now: datetime) -> bool:
    """The adviser can no longer sign in; their open sessions end. False if unknown."""
    async with sessions.begin() as session:
        agent = await session.scalar(select(Agent).where(Agent.email == normalise_email(email)))
        if agent is None:
            return False
        agent.disabled_at = agent.disabled_at or now
        await _revoke_sessions(session, agent.id, now)
        return True


async def _revoke_sessions(session: AsyncSession, agent_id: int, now: datetime) -> None:
    await session.execute(
        update(AgentSession)
        .where(AgentSession.agent_id == agent_id, AgentSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
