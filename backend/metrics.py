"""Prometheus metrics of a backend process (docs/operations.md lists and explains them).

Counters and histograms live in this process's default registry (one set per process; with
several backend replicas Prometheus tells them apart by its ``instance`` label). Labels only
take values from fixed sets (route templates, limit scopes, outcomes): never an address, a
token or an id. The outbox gauges are read from the shared database when scraped, so every
replica reports the same values (aggregate them with ``max``).

``serve`` exposes them on a port of their own (``BACKEND_METRICS_HOST``/``BACKEND_METRICS_PORT``,
loopback by default) through prometheus-client's HTTP server in a thread; the public port has
no ``/metrics`` route. The outbox query runs on the app's event loop (the engine belongs to
it) while the scrape thread waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sanic import Sanic
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.models import OutboxMessage
from common import metrics_exposition as exposition
from backend.services.clock import Clock


# Counters only: the *_created series would double what Prometheus stores for nothing.
disable_created_metrics()

REQUEST_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "pomocnik_backend_http_requests",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "pomocnik_backend_http_request_seconds",
    "HTTP request duration by method and route template.",
    ["method", "route"],
    buckets=REQUEST_BUCKETS,
)
RATE_LIMIT_REFUSALS = Counter(
    "pomocnik_backend_rate_limit_refusals",
    "Attempts a limit turned away, by the limit's scope (backend/services/*: login_failure, "
    "password_reset_email, chat_code_*, licence_*, activation_*, ticket_email, ...).",
    ["scope"],
)
LOCKOUTS = Counter(
    "pomocnik_backend_lockouts",
    "Locks that began: login (5 failed logins of one address in 15 min) and licence "
    "(5 failed checks of one Comarch ID: locked for an hour).",
    ["kind"],
)
LICENCE_FAILURES = Counter(
    "pomocnik_backend_licence_failures",
    "Failed Comarch licence checks (ID, PIN and NIP not matching), from every network.",
)
VERIFICATION_CODES = Counter(
    "pomocnik_backend_verification_codes",
    "Chat verification code requests: sent (e-mail queued), no_account (nothing sent; the "
    "caller is answered the same) or refused (a limit).",
    ["outcome"],
)
VERIFICATION_CHECKS = Counter(
    "pomocnik_backend_verification_code_checks",
    "Verification codes checked: accepted, wrong, expired (no live code, or a wrong try that "
    "used up the last attempt), malformed (not 6 digits).",
    ["outcome"],
)
OUTBOX_DELIVERIES = Counter(
    "pomocnik_backend_outbox_deliveries",
    "Outbox delivery attempts over SMTP: sent or failed (retried with backoff).",
    ["outcome"],
)

for _kind in ("login", "licence"):
    LOCKOUTS.labels(_kind)
for _outcome in ("sent", "no_account", "refused"):
    VERIFICATION_CODES.labels(_outcome)
for _outcome in ("accepted", "wrong", "expired", "malformed"):
    VERIFICATION_CHECKS.labels(_outcome)
for _outcome in ("sent", "failed"):
    OUTBOX_DELIVERIES.labels(_outcome)


def request_finished(method: str, route: str | None, status: int, seconds: float) -> None:
    """``route`` is the matched route's template (None: nothing matched, e.g. a 404)."""
    method = method if method in METHODS else "OTHER"
    template = "/" + route.lstrip("/") if route is not None else "unmatched"
    HTTP_REQUESTS.labels(method, template, str(status)).inc()
    HTTP_SECONDS.labels(method, template).observe(seconds)


@dataclass(frozen=True)
class OutboxState:
    pending: int
    failed: int
    oldest_created_at: datetime | None


async def read_outbox_state(sessions: async_sessionmaker[AsyncSession]) -> OutboxState:
    """One aggregate over the undelivered rows (``ix_outbox_messages_pending``)."""
    async with sessions() as session:
        pending, failed, oldest = (
            await session.execute(
                select(
                    func.count(OutboxMessage.id),
                    func.coalesce(func.sum(case((OutboxMessage.attempts > 0, 1), else_=0)), 0),
                    func.min(OutboxMessage.created_at),
                ).where(OutboxMessage.sent_at.is_(None))
            )
        ).one()
    return OutboxState(pending, failed, oldest)


class OutboxCollector(Collector):
    """The outbox gauges, read from the database at scrape time. When the database does not
    answer in time they are left out of that scrape (alert on their absence)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._loop = loop

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Without describe() the registry would collect() to learn the names, on the loop
        # thread, which the query needs free.
        return iter(_outbox_families())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = exposition.wait_on_loop(read_outbox_state(self._sessions), self._loop, "outbox")
        if state is None:
            return
        pending, failed, oldest = _outbox_families()
        pending.add_metric([], state.pending)
        failed.add_metric([], state.failed)
        age = (
            (self._clock() - state.oldest_created_at).total_seconds()
            if state.oldest_created_at else 0.0
        )
        oldest.add_metric([], max(0.0, age))
        yield from (pending, failed, oldest)


def _outbox_families() -> tuple[GaugeMetricFamily, ...]:
    return (
        GaugeMetricFamily(
            "pomocnik_backend_outbox_pending", "E-mails waiting in the outbox (not delivered yet)."
        ),
        GaugeMetricFamily(
            "pomocnik_backend_outbox_failed",
            "Waiting e-mails with at least one failed delivery attempt (retried with backoff).",
        ),
        GaugeMetricFamily(
            "pomocnik_backend_outbox_oldest_pending_seconds",
            "Age of the oldest undelivered e-mail (0: the outbox is empty).",
        ),
    )


def serve(app: Sanic, host: str, port: int) -> None:
    """Serve the backend's metrics at ``http://host:port/metrics`` while ``app`` runs."""
    exposition.serve(
        app, host, port, lambda app, loop: OutboxCollector(app.ctx.sessions, app.ctx.clock, loop)
    )
