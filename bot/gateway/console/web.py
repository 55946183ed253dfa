"""What every console handler shares: who is signed in, CSRF checks, templates, answers."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Request
from sanic.response import HTTPResponse, html, redirect

from bot.gateway.console.auth import COOKIE, CSRF_FIELD, CSRF_HEADER, ConsoleAuth, SignedIn
from bot.gateway.console.texts import AUTHOR_LABELS, SLOT_LABELS, plural, text_of
from bot.gateway.desk import DeskError
from bot.gateway.domain import Domain
from bot.gateway.errors import error_response
from common.polish import WARSAW

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATH = "/agent/login"
# Pages show names, e-mails and transcripts: never kept by a browser or a proxy.
NO_STORE = "no-store"


@dataclass
class Console:
    """The console's own state on ``app.ctx.console``."""

    auth: ConsoleAuth
    templates: Environment
    # The assistant's intents and entities (read from domain/ at start); None when the
    # file could not be read: the NLU inbox then says so.
    domain: Domain | None


def template_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = local_time
    env.filters["local_iso"] = local_iso
    env.globals["author_labels"] = AUTHOR_LABELS
    env.globals["plural"] = plural
    env.globals["slot_labels"] = SLOT_LABELS
    return env


def local_time(moment: datetime | None, pattern: str = "%d.%m.%Y %H:%M") -> str:
    """A UTC moment as Warsaw wall-clock time ("21.11.2026 17:05")."""
    if moment is None:
        return "—"
    return moment.astimezone(WARSAW).strftime(pattern)


def local_iso(stamp: str | None) -> str:
    """A wire timestamp ("2026-11-21T16:05:00.1Z") as Warsaw time."""
    try:
        return local_time(datetime.fromisoformat((stamp or "").replace("Z", "+00:00")))
    except ValueError:
        return "—"


def private() -> dict[str, str]:
    """Headers for a page or answer no cache may keep (a new dict: Sanic adds to it)."""
    return {"Cache-Control": NO_STORE}


def console_of(request: Request) -> Console:
    return request.app.ctx.console


async def signed_in(request: Request) -> SignedIn | None:
    return await console_of(request).auth.authenticate(request.cookies.get(COOKIE))


def render(
    request: Request, template: str, status: int = 200, **context: Any
) -> HTTPResponse:
    agent: SignedIn | None = getattr(request.ctx, "agent", None)
    page = console_of(request).templates.get_template(template).render(
        agent=agent, csrf_token=agent.csrf_token if agent else "", path=request.path, **context
    )
    return html(page, status=status, headers=private())


def api_error(status: int, code: str) -> HTTPResponse:
    return error_response(status, code, message=text_of(code), headers=private())


def agent_api(handler):
    """JSON handlers: a session cookie (else 401), the CSRF header on changes (else 403);
    a desk refusal becomes its status, stable code and Polish message."""

    @functools.wraps(handler)
    async def guarded(request: Request, *args, **kwargs) -> HTTPResponse:
        agent = await signed_in(request)
        if agent is None:
            return api_error(401, "agent_unauthorized")
        if request.method not in SAFE_METHODS and not agent.csrf_ok(
            request.headers.get(CSRF_HEADER)
        ):
            return api_error(403, "csrf_failed")
        request.ctx.agent = agent
        try:
            response = await handler(request, *args, **kwargs)
        except DeskError as error:
            return api_error(error.status, error.code)
        response.headers.setdefault("Cache-Control", NO_STORE)
        return response

    return guarded


def agent_page(handler):
    """HTML handlers: without a session, to the sign-in page; form POSTs need the CSRF
    field (else a 403 page)."""

    @functools.wraps(handler)
    async def guarded(request: Request, *args, **kwargs) -> HTTPResponse:
        agent = await signed_in(request)
        if agent is None:
            return redirect(LOGIN_PATH, headers=private())
        request.ctx.agent = agent
        changes = request.method not in SAFE_METHODS
        if changes and not agent.csrf_ok(form_value(request, CSRF_FIELD)):
            return render(request, "console/error.html", status=403,
                          message=text_of("csrf_failed"))
        try:
            return await handler(request, *args, **kwargs)
        except DeskError as error:
            return render(request, "console/error.html", status=error.status,
                          message=text_of(error.code))

    return guarded


def editors_only(handler):
    """Inside ``agent_api`` / ``agent_page``: an adviser without the editor permission gets
    403 ``editor_required``."""

    @functools.wraps(handler)
    async def guarded(request: Request, *args, **kwargs) -> HTTPResponse:
        if not request.ctx.agent.editor:
            raise DeskError(403, "editor_required")
        return await handler(request, *args, **kwargs)

    return guarded


def form_value(request: Request, name: str) -> str | None:
    """One field of an urlencoded form (None when absent or the body is not a form)."""
    try:
        value = request.form.get(name) if request.form is not None else None
    except Exception:  # a malformed body counts as an empty form
        return None
    return value if isinstance(value, str) else None


def same_origin(request: Request) -> bool:
    """A browser's POST carries Origin; another site's page must not post to the console."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.host
