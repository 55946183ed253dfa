"""Serving a process's Prometheus metrics on their own port, and database state read when scraped.

The backend and the gateway serve their metrics the same way (backend/metrics.py,
bot/gateway/exposition.py): prometheus-client's HTTP server runs in a thread of the process, bound
to the service's metrics host and port (loopback by default), never on the public port. A
collector that reads the database runs its query on the app's event loop (the engine belongs to
it) while the scrape thread waits, and leaves its gauges out of a scrape the database does not
answer in time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from prometheus_client import REGISTRY, start_http_server
from prometheus_client.registry import Collector
from sanic import Sanic

logger = logging.getLogger("pomocnik.metrics")

# A scrape waits at most this long for a database read before leaving its gauges out.
STATE_TIMEOUT_SECONDS = 5.0


def wait_on_loop(
    coroutine: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop, what: str
) -> Any:
    """Run ``coroutine`` on ``loop`` from the scrape thread and wait; None if that fails."""
    if _inside_event_loop():
        coroutine.close()  # waiting here would block the very loop the query needs
        logger.warning("metrics: %s not read (scraped from inside the event loop)", what)
        return None
    future = asyncio.run_coroutine_threadsafe(coroutine, loop)
    try:
        return future.result(timeout=STATE_TIMEOUT_SECONDS)
    except Exception as exc:  # a slow database must not fail the whole scrape
        future.cancel()
        logger.warning("metrics: %s not read: %s", what, type(exc).__name__)
        return None


def _inside_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def serve(
    app: Sanic,
    host: str,
    port: int,
    collector_for: Callable[[Sanic, asyncio.AbstractEventLoop], Collector],
) -> None:
    """Serve this process's metrics at ``http://host:port/metrics`` while ``app`` runs, with the
    state collector ``collector_for(app, loop)`` registered for as long."""

    async def start(app: Sanic) -> None:
        app.ctx.metrics_collector = collector_for(app, asyncio.get_running_loop())
        REGISTRY.register(app.ctx.metrics_collector)
        app.ctx.metrics_server, _ = start_http_server(port, addr=host)
        logger.info("metrics on http://%s:%s/metrics", host, port)

    async def stop(app: Sanic) -> None:
        app.ctx.metrics_server.shutdown()
        app.ctx.metrics_server.server_close()
        REGISTRY.unregister(app.ctx.metrics_collector)

    app.register_listener(start, "after_server_start")
    app.register_listener(stop, "before_server_stop")
