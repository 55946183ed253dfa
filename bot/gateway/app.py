"""Sanic application factory for the chat gateway."""

from __future__ import annotations

import logging
import time

from sanic import Request, Sanic
from sanic.response import BaseHTTPResponse

from bot.gateway.api import register_api_routes
from bot.gateway.conversations import ConversationStore, SignedConversations, log_prefix
from bot.gateway.errors import MAX_BODY_BYTES, register_error_handlers
from bot.gateway.pages import register_page_routes
from bot.gateway.rasa_client import RasaClient
from bot.gateway.settings import Settings

logger = logging.getLogger("pomocnik.gateway")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# Conversation ids are bearer tokens: keep API answers out of every cache.
NO_STORE_PREFIXES = ("/api/", "/health")


def create_app(
    settings: Settings,
    *,
    name: str = "pomocnik_gateway",
    conversations: ConversationStore | None = None,
) -> Sanic:
    """Build the gateway. ``name`` must be unique per process (Sanic's app registry)."""
    app = Sanic(name)
    # No sanic-ext: it would add OpenAPI/docs routes to the only public entry point.
    app.config.AUTO_EXTEND = False
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.ctx.settings = settings
    app.ctx.conversations = conversations or SignedConversations(settings.secret)
    app.ctx.rasa = RasaClient(settings.rasa_url, settings.rasa_timeout_seconds)

    register_error_handlers(app)
    register_api_routes(app)
    register_page_routes(app)
    _register_lifecycle(app)
    _register_middleware(app)
    return app


def _register_lifecycle(app: Sanic) -> None:
    async def open_rasa_client(app: Sanic) -> None:
        await app.ctx.rasa.start()

    async def close_rasa_client(app: Sanic) -> None:
        await app.ctx.rasa.close()

    app.register_listener(open_rasa_client, "before_server_start")
    app.register_listener(close_rasa_client, "after_server_stop")


def _register_middleware(app: Sanic) -> None:
    async def start_timer(request: Request) -> None:
        request.ctx.started = time.perf_counter()

    async def finish_response(request: Request, response: BaseHTTPResponse) -> None:
        _add_security_headers(request, response)
        _log_request(request, response)

    app.register_middleware(start_timer, "request")
    app.register_middleware(finish_response, "response")


def _add_security_headers(request: Request, response: BaseHTTPResponse) -> None:
    for header, value in SECURITY_HEADERS.items():
        response.headers.setdefault(header, value)
    if request.path.startswith(NO_STORE_PREFIXES):
        response.headers["Cache-Control"] = "no-store"


def _log_request(request: Request, response: BaseHTTPResponse) -> None:
    # Never log bodies (they may hold PINs or codes) nor full conversation ids.
    started = getattr(request.ctx, "started", None)
    elapsed_ms = (time.perf_counter() - started) * 1000 if started else 0.0
    route = request.route.path if request.route else request.path[:40]
    conversation = (request.match_info or {}).get("conversation_id")
    logger.info(
        "%s /%s %s %.1fms conv=%s",
        request.method,
        route.lstrip("/"),
        response.status,
        elapsed_ms,
        log_prefix(conversation),
    )
