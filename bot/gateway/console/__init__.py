"""The advisers' console at ``/agent``: sign-in, the live desk, tickets and statistics.

Everything it needs is on ``app.ctx`` (settings, sessions, transcript, desk, tickets, rasa,
limiter, socket, clock); its own state is ``app.ctx.console``. See docs/agents.md.

Pages (HTML; without a session they redirect to ``/agent/login``):

| route | what |
| --- | --- |
| ``GET/POST /agent/login``, ``POST /agent/logout`` | sign in / out |
| ``GET /agent`` | the desk: queue, conversation, visitor's details (console.js, live) |
| ``GET /agent/tickets[?status=open|answered|closed|all]``, ``GET /agent/tickets/<id>`` | tickets |
| ``POST /agent/tickets/<id>/answer``, ``POST /agent/tickets/<id>/close`` | forms (PRG) |
| ``GET /agent/stats`` | the last 14 days, with an SVG chart and a table |
| ``GET /agent/nlu[?status=…]`` | the NLU inbox, editors only (``console.nlu``) |
| ``GET /agent/review[?outcome=…&page=N]``, ``GET /agent/review/<id>`` | conversation review |
| ``GET /agent/static/console.js``, ``nlu.js``, ``console.css`` | assets |

JSON (``/agent/api/…``, see ``console.api``): ``GET queue``, ``GET conversations/mine``,
``GET conversations/<id>``, ``POST conversations/<id>/take|reply|hand-back|close``,
``POST heartbeat``; the NLU inbox's ``GET nlu``, ``POST nlu/<id>/label|skip|reopen``.
Live: socket.io namespace ``/agent`` at ``/agent/socket.io/``.
"""

from __future__ import annotations

from sanic import Sanic

import logging

from bot.gateway.console import api, nlu, pages, review
from bot.gateway.console.auth import ConsoleAuth, Passwords
from bot.gateway.console.live import ENGINEIO_PATH, AgentNamespace
from bot.gateway.console.web import Console, template_environment
from bot.gateway.domain import Domain, DomainError, load_domain
from bot.gateway.pages import ASSET_CACHE, PACKAGE_DIR, Asset, serve_asset

logger = logging.getLogger("pomocnik.gateway")

ASSETS = {
    "/agent/static/console.js": ("static/console.js", "text/javascript; charset=utf-8"),
    "/agent/static/nlu.js": ("static/nlu.js", "text/javascript; charset=utf-8"),
    "/agent/static/console.css": ("static/console.css", "text/css; charset=utf-8"),
}
PAGES = (
    ("/agent", pages.desk, ("GET",)),
    ("/agent/login", pages.login_form, ("GET",)),
    ("/agent/login", pages.login, ("POST",)),
    ("/agent/logout", pages.logout, ("POST",)),
    ("/agent/tickets", pages.tickets, ("GET",)),
    ("/agent/tickets/<ticket_id:int>", pages.ticket, ("GET",)),
    ("/agent/tickets/<ticket_id:int>/answer", pages.answer_ticket, ("POST",)),
    ("/agent/tickets/<ticket_id:int>/close", pages.close_ticket, ("POST",)),
    ("/agent/stats", pages.stats, ("GET",)),
    ("/agent/nlu", nlu.page, ("GET",)),
    ("/agent/review", review.conversations, ("GET",)),
    ("/agent/review/<conversation_id:int>", review.conversation, ("GET",)),
)
API = (
    ("queue", api.queue, "GET"),
    ("conversations/mine", api.mine, "GET"),
    ("conversations/<conversation:int>", api.detail, "GET"),
    ("conversations/<conversation:int>/take", api.take, "POST"),
    ("conversations/<conversation:int>/reply", api.reply, "POST"),
    ("conversations/<conversation:int>/hand-back", api.hand_back, "POST"),
    ("conversations/<conversation:int>/close", api.close, "POST"),
    ("heartbeat", api.heartbeat, "POST"),
    ("nlu", nlu.items, "GET"),
    ("nlu/<item_id:int>/label", nlu.label, "POST"),
    ("nlu/<item_id:int>/skip", nlu.skip, "POST"),
    ("nlu/<item_id:int>/reopen", nlu.reopen, "POST"),
)


def register_console(app: Sanic) -> None:
    """Add the console's pages, JSON API, assets and live namespace to the gateway."""
    ctx = app.ctx
    auth = ConsoleAuth(ctx.sessions, ctx.limiter, ctx.clock, ctx.settings.agent_session_hours,
                       Passwords())
    ctx.console = Console(auth=auth, templates=template_environment(), domain=_domain())
    for uri, handler, methods in PAGES:
        name = f"console_{handler.__module__.rsplit('.', 1)[-1]}_{handler.__name__}"
        app.add_route(handler, uri, methods=list(methods), name=name)
    for path, handler, method in API:
        module = handler.__module__.rsplit(".", 1)[-1]
        app.add_route(handler, f"/agent/api/{path}", methods=[method],
                      name=f"console_{module}_api_{handler.__name__}")
    for uri, (relative_path, content_type) in ASSETS.items():
        asset = Asset((PACKAGE_DIR / relative_path).read_bytes(), content_type, ASSET_CACHE)
        app.add_route(serve_asset(asset), uri, methods=["GET", "HEAD"],
                      name="console_asset_" + relative_path.rsplit("/", 1)[-1].replace(".", "_"))
    sio = ctx.socket.sio
    sio.register_namespace(AgentNamespace(auth))
    # The same socket.io server under the cookie's path (see console.live).
    app.add_route(sio.handle_request, ENGINEIO_PATH, methods=["GET", "POST", "OPTIONS"],
                  name="console_socketio")


def _domain() -> Domain | None:
    """The intents and entities an NLU inbox editor chooses from (domain/, read once)."""
    try:
        return load_domain()
    except DomainError as exc:
        logger.warning("NLU inbox unavailable: %s", exc)
        return None
