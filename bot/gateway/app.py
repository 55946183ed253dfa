"""Sanic application factory for the chat gateway."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from sanic import Request, Sanic
from sanic.response import BaseHTTPResponse

from bot.gateway import metrics
from bot.gateway.api import register_api_routes
from bot.gateway.backend_client import BackendClient
from bot.gateway.chat import ADDRESS_SCOPE, SESSION_SCOPE, ChatService
from bot.gateway.cli import current_revision, head_revision, is_sqlite, migrate
from bot.gateway.console import register_console
from bot.gateway.conversations import ConversationStore, SignedConversations, log_prefix
from bot.gateway.db import create_engine, create_sessionmaker, utcnow
from bot.gateway.desk import Desk
from bot.gateway.errors import MAX_BODY_BYTES, register_error_handlers
from bot.gateway.fanout import FanOut, create_fanout
from bot.gateway.hours import BusinessHours, running_clock
from bot.gateway.inbox import NluInbox
from bot.gateway.limits import Limit, RateLimiter
from bot.gateway.pages import register_page_routes
from bot.gateway.rasa_client import RasaClient
from bot.gateway.settings import Settings
from bot.gateway.socket_channel import SocketChannel
from bot.gateway.tickets import TicketService
from bot.gateway.transcript import Transcript

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
# Outside development the gateway is only reached over HTTPS (behind a TLS proxy): browsers
# must never fall back to http:// for it or its subdomains.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"
# Conversation ids are bearer tokens: keep API answers out of every cache.
NO_STORE_PREFIXES = ("/api/", "/health", "/socket.io")
SWEEP_EVERY_SECONDS = 300


class _PeerGoneFilter(logging.Filter):
    """Drop Sanic's traceback for closing a websocket whose peer already left (a page reload
    or a closed tab does that every time; nothing is wrong)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (
            record.getMessage() == "Error closing websocket connection"
            and isinstance(exc, OSError)
        )


def _quiet_websocket_close_errors() -> None:
    websockets_logger = logging.getLogger("sanic.websockets")
    if not any(isinstance(f, _PeerGoneFilter) for f in websockets_logger.filters):
        websockets_logger.addFilter(_PeerGoneFilter())


class SchemaOutdated(RuntimeError):
    """The database schema is not the newest; the gateway must not serve on it."""


def create_app(
    settings: Settings,
    *,
    name: str = "pomocnik_gateway",
    conversations: ConversationStore | None = None,
    fanout: FanOut | None = None,
    clock: Callable[[], datetime] = utcnow,
    hours: BusinessHours | None = None,
) -> Sanic:
    """Build the gateway. ``name`` must be unique per process (Sanic's app registry).

    ``clock`` stamps messages and counts limits; ``hours`` decides when advisers work (tests
    fix its clock; GATEWAY_HOURS_CLOCK_START does so in development).
    """
    app = Sanic(name)
    _quiet_websocket_close_errors()
    # No sanic-ext: it would add OpenAPI/docs routes to the only public entry point.
    app.config.AUTO_EXTEND = False
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    ctx = app.ctx
    ctx.settings = settings
    ctx.clock = clock
    ctx.hours = hours or BusinessHours(
        running_clock(settings.hours_clock_start) if settings.hours_clock_start else clock
    )
    ctx.conversations = conversations or SignedConversations(settings.secret)
    ctx.rasa = RasaClient(
        settings.rasa_url, settings.rasa_timeout_seconds, settings.rasa_api_token
    )
    ctx.backend = (
        BackendClient(settings.backend_url, settings.backend_service_token)
        if settings.backend_service_token
        else None
    )
    ctx.engine = create_engine(settings.database_url)
    ctx.sessions = create_sessionmaker(ctx.engine)
    ctx.fanout = fanout or create_fanout(settings.redis_url)
    ctx.limiter = RateLimiter(ctx.sessions, clock)
    ctx.transcript = Transcript(ctx.sessions, clock)
    ctx.inbox = NluInbox(ctx.sessions, clock, settings.nlu_inbox_confidence)
    ctx.desk = Desk(ctx.sessions, ctx.transcript, ctx.fanout, ctx.hours, ctx.rasa, clock,
                    ctx.inbox)
    ctx.tickets = TicketService(
        ctx.sessions, ctx.transcript, ctx.desk, ctx.rasa, ctx.backend, clock
    )
    ctx.service = ChatService(
        transcript=ctx.transcript,
        limiter=ctx.limiter,
        rasa=ctx.rasa,
        fanout=ctx.fanout,
        desk=ctx.desk,
        inbox=ctx.inbox,
        tickets=ctx.tickets,
        session_limit=Limit(SESSION_SCOPE, settings.session_messages_per_minute),
        address_limit=Limit(ADDRESS_SCOPE, settings.address_messages_per_minute),
    )
    ctx.socket = SocketChannel(settings, ctx.conversations, ctx.service, ctx.backend)

    register_error_handlers(app)
    register_api_routes(app)
    register_page_routes(app, demo_sign_in=settings.is_development)
    register_console(app)
    app.ctx.socket.attach(app)
    _register_lifecycle(app)
    _register_middleware(app)
    return app


async def prepare_database(settings: Settings, engine) -> None:
    """SQLite (the embedded default) is migrated on start; any other database must already
    be (``python -m bot.gateway.cli migrate``), so replicas never race to change a schema."""
    if is_sqlite(settings.database_url):
        await asyncio.to_thread(migrate, settings.database_url)
        return
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutdated(
            f"the gateway database schema is {current or 'empty'}, the code needs {head}: "
            "run `python -m bot.gateway.cli migrate` (make db)"
        )


def _register_lifecycle(app: Sanic) -> None:
    async def start(app: Sanic) -> None:
        await prepare_database(app.ctx.settings, app.ctx.engine)
        await app.ctx.rasa.start()
        if app.ctx.backend is not None:
            await app.ctx.backend.start()
        await app.ctx.fanout.start(app.ctx.socket.deliver)
        app.ctx.sweeper = asyncio.create_task(_sweep_counters(app.ctx.limiter))

    async def stop(app: Sanic) -> None:
        app.ctx.sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app.ctx.sweeper
        await app.ctx.service.drain(timeout=app.ctx.settings.rasa_timeout_seconds)
        await app.ctx.fanout.close()
        await app.ctx.rasa.close()
        if app.ctx.backend is not None:
            await app.ctx.backend.close()
        await app.ctx.engine.dispose()

    app.register_listener(start, "before_server_start")
    app.register_listener(stop, "after_server_stop")


async def _sweep_counters(limiter: RateLimiter) -> None:
    while True:
        await asyncio.sleep(SWEEP_EVERY_SECONDS)
        try:
            await limiter.sweep()
        except Exception:
            logger.exception("sweeping rate-limit counters failed")


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
    if not request.app.ctx.settings.is_development:
        response.headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
    if request.path.startswith(NO_STORE_PREFIXES):
        response.headers["Cache-Control"] = "no-store"


def _log_request(request: Request, response: BaseHTTPResponse) -> None:
    # Never log bodies (they may hold PINs or codes) nor full conversation ids.
    started = getattr(request.ctx, "started", None)
    elapsed_ms = (time.perf_counter() - started) * 1000 if started else 0.0
    metrics.request_finished(
        request.method, request.route.path if request.route else None, response.status,
        elapsed_ms / 1000,
    )
    route = request.route.path if request.route else request.path[:40]
    conversation = (request.match_info or {}).get("conversation_id")
    conversation = str(conversation) if conversation is not None else None
    logger.info(
        "%s /%s %s %.1fms conv=%s",
        request.method,
        route.lstrip("/"),
        response.status,
        elapsed_ms,
        log_prefix(conversation),
    )
