"""The account backend's Sanic application factory."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from sanic import Request, Sanic
from sanic.config import Config

from backend import metrics
from backend.api import (
    auth,
    company,
    devices,
    errors,
    health,
    identity,
    openapi,
    packages,
    pages,
    registration,
    support,
)
from backend.db import create_engine, create_sessionmaker
from backend.deps import Deps
from backend.mail.sender import OutboxSender
from backend.security.hashing import SecretHasher
from backend.services import rate_limit
from backend.services.clock import Clock, system_clock
from backend.services.container import Services
from backend.settings import Settings

log = logging.getLogger("backend.access")

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
# Outside development the backend is only reached over HTTPS: browsers must never fall back
# to http:// for it or its subdomains.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = system_clock,
    name: str = "backend",
    run_sender: bool = True,
) -> Sanic:
    settings = settings or Settings.from_env()
    config = Config()
    config.REQUEST_MAX_SIZE = 64 * 1024
    config.FALLBACK_ERROR_FORMAT = "json"
    config.AUTO_EXTEND = False
    config.OAS = False
    app = Sanic(name, config=config)
    app.ctx.settings = settings
    app.ctx.clock = clock

    for module in (
        health, auth, pages, registration, identity, company, devices, packages, support
    ):
        app.blueprint(module.bp)
    # GET /api/v1/openapi.json: built from app.router.routes on first request (api/openapi.py),
    # so it covers every blueprint above without sanic-ext (AUTO_EXTEND/OAS stay off).
    app.blueprint(openapi.bp)
    app.blueprint(company.extra_bp)
    errors.register(app)

    @app.before_server_start
    async def open_resources(app: Sanic) -> None:
        app.ctx.engine = create_engine(settings.database_url)
        app.ctx.sessions = create_sessionmaker(app.ctx.engine)
        hasher = SecretHasher(settings.argon2_memory_kib, settings.argon2_time_cost)
        app.ctx.sender = OutboxSender(
            app.ctx.sessions,
            smtp_host=settings.smtp_host,
            smtp_port=settings.smtp_port,
            mail_from=settings.mail_from,
            poll_seconds=settings.outbox_poll_seconds,
            clock=clock,
            lease=timedelta(seconds=settings.outbox_lease_seconds),
        )
        app.ctx.deps = Deps(
            settings=settings,
            sessions=app.ctx.sessions,
            hasher=hasher,
            clock=clock,
            mail_queued=app.ctx.sender.notify,
        )
        app.ctx.services = Services.build(app.ctx.deps)
        app.ctx.sender_task = (
            asyncio.get_running_loop().create_task(app.ctx.sender.run_forever())
            if run_sender
            else None
        )
        app.ctx.purge_task = asyncio.get_running_loop().create_task(
            rate_limit.purge_forever(app.ctx.sessions, clock, settings.rate_limit_purge_seconds)
        )

    @app.after_server_stop
    async def close_resources(app: Sanic) -> None:
        app.ctx.purge_task.cancel()
        await asyncio.gather(app.ctx.purge_task, return_exceptions=True)
        if app.ctx.sender_task is not None:
            await app.ctx.sender.stop(app.ctx.sender_task)
        await app.ctx.engine.dispose()

    @app.on_request
    async def start_timer(request: Request) -> None:
        request.ctx.started = time.perf_counter()

    @app.on_response
    async def finish(request: Request, response) -> None:
        response.headers.update(_SECURITY_HEADERS)
        if not settings.is_development:
            response.headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
        # Paths only: query strings carry one-time tokens and must not reach the logs.
        elapsed = time.perf_counter() - getattr(request.ctx, "started", time.perf_counter())
        log.info("%s %s %s %.1fms", request.method, request.path, response.status, elapsed * 1000)
        # Route templates, never paths: a path can carry an id.
        metrics.request_finished(
            request.method, request.route.path if request.route else None, response.status, elapsed
        )

    return app
