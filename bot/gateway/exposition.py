"""Serving the gateway's metrics: their own port, and the desk's state read when scraped.

The listener is prometheus-client's HTTP server in a thread of this process, bound to
``GATEWAY_METRICS_HOST``:``GATEWAY_METRICS_PORT`` (loopback by default). The public port has no
``/metrics`` route at all, so a reverse proxy in front of it cannot expose the metrics.

The desk's state comes from the shared database, so every replica reports the same values
(aggregate them with ``max``). The scrape runs in the server's thread; the queries run on the
app's event loop (the engine belongs to it) while that thread waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sanic import Sanic
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway.desk import PRESENCE_WINDOW
from bot.gateway.models import AgentSession, Conversation, Handling, Ticket, TicketStatus
from common import metrics_exposition


@dataclass(frozen=True)
class DeskState:
    queued: int
    oldest_queued_at: datetime | None
    open_tickets: int
    advisers_present: int


async def read_desk_state(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> DeskState:
    """Three counts on indexed columns."""
    async with sessions() as session:
        queued, oldest = (
            await session.execute(
                select(func.count(Conversation.id), func.min(Conversation.queued_at)).where(
                    Conversation.handling == Handling.QUEUED
                )
            )
        ).one()
        open_tickets = await session.scalar(
            select(func.count(Ticket.id)).where(Ticket.status == TicketStatus.OPEN)
        )
        present = await session.scalar(
            select(func.count(func.distinct(AgentSession.agent_id))).where(
                AgentSession.revoked_at.is_(None),
                AgentSession.expires_at > now,
                AgentSession.last_seen_at >= now - PRESENCE_WINDOW,
            )
        )
    return DeskState(queued, oldest, open_tickets or 0, present or 0)


class DeskStateCollector(Collector):
    """The desk's gauges, read from the database at scrape time. When the database does not
    answer in time they are left out of that scrape (alert on their absence)."""

    def __init__(
        self,
        read: Callable[[], Awaitable[DeskState]],
        now: Callable[[], datetime],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._read = read
        self._now = now
        self._loop = loop

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Without describe() the registry would collect() to learn the names, on the loop
        # thread, which the query needs free.
        return iter(_families())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = metrics_exposition.wait_on_loop(self._read(), self._loop, "desk state")
        if state is None:
            return
        queued, oldest, tickets, present = _families()
        queued.add_metric([], state.queued)
        waited = (
            (self._now() - state.oldest_queued_at).total_seconds() if state.oldest_queued_at else 0.0
        )
        oldest.add_metric([], max(0.0, waited))
        tickets.add_metric([], state.open_tickets)
        present.add_metric([], state.advisers_present)
        yield from (queued, oldest, tickets, present)


def _families() -> tuple[GaugeMetricFamily, ...]:
    return (
        GaugeMetricFamily(
            "pomocnik_gateway_queue_length", "Conversations waiting for an adviser (all replicas)."
        ),
        GaugeMetricFamily(
            "pomocnik_gateway_queue_oldest_wait_seconds",
            "How long the longest-waiting visitor has waited for an adviser (0: nobody waits).",
        ),
        GaugeMetricFamily("pomocnik_gateway_tickets_open", "Tickets neither answered nor closed."),
        GaugeMetricFamily(
            "pomocnik_gateway_advisers_present",
            "Advisers whose console sent a heartbeat within the presence window (90 s).",
        ),
    )


def serve(app: Sanic, host: str, port: int) -> None:
    """Serve the gateway's metrics at ``http://host:port/metrics`` while ``app`` runs."""
    metrics_exposition.serve(
        app,
        host,
        port,
        lambda app, loop: DeskStateCollector(
            lambda: read_desk_state(app.ctx.sessions, app.ctx.clock()), app.ctx.clock, loop
        ),
    )
