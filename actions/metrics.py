"""Prometheus metrics of the action server (docs/operations.md lists and explains them).

Every custom action Rasa asks for (``POST /webhook``) is counted by name and outcome and timed.
The action name is a label only when it is one of this server's registered actions (anything
else is ``unknown``), so a caller cannot grow the label set; nothing else of the request (the
tracker, slots, what the visitor typed) is ever read into a label.

``serve`` exposes the metrics on a port of their own (``ACTIONS_METRICS_HOST``/
``ACTIONS_METRICS_PORT``, loopback by default) through prometheus-client's HTTP server in a
thread; the action server's own port has no ``/metrics`` route. One process per action server:
with several replicas Prometheus tells them apart by its ``instance`` label.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from typing import Any, Collection, Optional

from prometheus_client import Counter, Histogram, disable_created_metrics, start_http_server
from sanic import Sanic
from sanic.request import Request

logger = logging.getLogger(__name__)

# Counters only: the *_created series would double what Prometheus stores for nothing.
disable_created_metrics()

WEBHOOK_PATH = "/webhook"
UNKNOWN = "unknown"
# Actions call the backend with a 10 s timeout (BACKEND_TIMEOUT_SECONDS).
RUN_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# rasa-sdk's answers: 400 = ActionExecutionRejection (a form lets go of the conversation) or a
# malformed call, 404 = no such action; anything else that is not 200 is a failure.
OUTCOMES = {200: "ok", 400: "rejected", 404: "not_found"}

RUNS = Counter(
    "pomocnik_actions_runs",
    "Custom actions run, by action and outcome: ok, rejected (a form rejected its execution, "
    "a normal way out of a form; or a malformed call), not_found, error (the action raised).",
    ["action", "outcome"],
)
RUN_SECONDS = Histogram(
    "pomocnik_actions_run_seconds",
    "How long a custom action took, by action (backend calls included).",
    ["action"],
    buckets=RUN_BUCKETS,
)


def instrument(app: Sanic, action_names: Collection[str]) -> None:
    """Count and time every ``POST /webhook`` of ``app`` (rasa-sdk's Sanic app)."""
    known = frozenset(action_names)
    for name in known:
        # Present from the start, so the first error of an action shows as an increase.
        RUNS.labels(name, "error")

    async def start_timer(request: Request) -> None:
        if request.path == WEBHOOK_PATH:
            request.ctx.action_started = time.perf_counter()
            name = _requested_action(request)
            request.ctx.action_name = name if name in known else UNKNOWN

    async def count(request: Request, response: Any) -> None:
        started = getattr(request.ctx, "action_started", None)
        if started is None:
            return
        name = request.ctx.action_name
        RUNS.labels(name, OUTCOMES.get(response.status, "error")).inc()
        RUN_SECONDS.labels(name).observe(time.perf_counter() - started)

    app.register_middleware(start_timer, "request")
    app.register_middleware(count, "response")


def _requested_action(request: Request) -> Optional[str]:
    """``next_action`` of Rasa's action call (plain or deflate-compressed JSON), or None."""
    try:
        if request.headers.get("Content-Encoding") == "deflate":
            call = json.loads(zlib.decompress(request.body))
        else:
            call = request.json
        name = call.get("next_action")
    except Exception:  # a malformed call: rasa-sdk answers it; here it is only "unknown"
        return None
    return name if isinstance(name, str) else None


def serve(app: Sanic, host: str, port: int) -> None:
    """Serve this process's metrics at ``http://host:port/metrics`` while ``app`` runs."""

    async def start(app: Sanic, _loop: Any) -> None:
        app.ctx.metrics_server, _ = start_http_server(port, addr=host)
        logger.info("metrics on http://%s:%s/metrics", host, port)

    async def stop(app: Sanic, _loop: Any) -> None:
        app.ctx.metrics_server.shutdown()
        app.ctx.metrics_server.server_close()

    app.register_listener(start, "after_server_start")
    app.register_listener(stop, "before_server_stop")
