"""Prometheus metrics of a gateway process (docs/operations.md lists and explains them).

Counters and histograms live in this process's default registry (one set per process; with
several gateway replicas Prometheus tells them apart by its ``instance`` label). Labels only
ever take values from fixed sets (outcomes, limit scopes, route templates, scores 1-5): never
a conversation id, an address or anything a visitor typed.

The desk's state (queue, open tickets, advisers present) is read from the database when
scraped, and the metrics are served on their own port: ``bot/gateway/exposition.py``.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram, disable_created_metrics

# Counters only: the *_created series would double what Prometheus stores for nothing.
disable_created_metrics()

# Rasa's answer is cut at RASA_TIMEOUT_SECONDS (15 s by default); 30 s catches anything slower.
TURN_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 15.0, 30.0)
REQUEST_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0)

TURN_OUTCOMES = ("answered", "assistant_unavailable", "adviser", "error")
HANDOFF_OUTCOMES = ("queued", "already_queued", "with_adviser", "after_hours", "no_adviser")
TICKET_EVENTS = ("created", "answered", "closed")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

TURNS = Counter(
    "pomocnik_gateway_turns",
    "Visitor messages relayed by the gateway, by outcome: answered (Rasa replied), "
    "assistant_unavailable (Rasa failed or timed out), adviser (an adviser holds the "
    "conversation, Rasa not asked), error (the gateway failed).",
    ["outcome"],
)
TURN_SECONDS = Histogram(
    "pomocnik_gateway_turn_seconds",
    "Answered turns: from relaying the visitor's message to Rasa until its replies are stored "
    "and announced to the visitor's tabs.",
    buckets=TURN_BUCKETS,
)
FALLBACKS = Counter(
    "pomocnik_gateway_fallbacks",
    "Visitor messages Rasa did not understand (recognised intent nlu_fallback; read from "
    "Rasa's tracker after the answer, needs RASA_API_TOKEN).",
)
HANDOFFS = Counter(
    "pomocnik_gateway_handoffs",
    "Requests for a person, by what the desk did: queued, already_queued, with_adviser, "
    "after_hours or no_adviser (the last two offer a ticket).",
    ["outcome"],
)
HANDOFFS_TAKEN = Counter(
    "pomocnik_gateway_handoffs_taken", "Queued conversations an adviser took."
)
TICKETS = Counter(
    "pomocnik_gateway_tickets", "Tickets created, answered and closed.", ["event"]
)
RATINGS = Counter(
    "pomocnik_gateway_ratings", "Conversation ratings given by visitors, by score (1-5).", ["score"]
)
RATE_LIMIT_REFUSALS = Counter(
    "pomocnik_gateway_rate_limit_refusals",
    "Requests refused by a limit, by scope (session_messages, address_messages, "
    "agent_login_address, agent_login_locked, tickets_per_conversation, tickets_per_address, "
    "tickets_per_contact).",
    ["scope"],
)
AGENT_LOCKOUTS = Counter(
    "pomocnik_gateway_agent_lockouts",
    "Failed console sign-ins that locked an adviser's address for 15 minutes (a burst of "
    "simultaneous failures can count more than once).",
)
HTTP_REQUESTS = Counter(
    "pomocnik_gateway_http_requests",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "pomocnik_gateway_http_request_seconds",
    "HTTP request duration by method and route template.",
    ["method", "route"],
    buckets=REQUEST_BUCKETS,
)

for _outcome in TURN_OUTCOMES:
    TURNS.labels(_outcome)
for _outcome in HANDOFF_OUTCOMES:
    HANDOFFS.labels(_outcome)
for _event in TICKET_EVENTS:
    TICKETS.labels(_event)
for _score in range(1, 6):
    RATINGS.labels(str(_score))


def turn_finished(outcome: str, started: float) -> None:
    """One relayed message; only answered turns are timed (the others are not replies)."""
    TURNS.labels(outcome).inc()
    if outcome == "answered":
        TURN_SECONDS.observe(time.perf_counter() - started)


def refusal_scope(scope: str) -> str:
    """Declare a limit's scope: exported at 0 from the start, so its first refusal already
    shows as an increase (dashboards and alerts see it). Returns the scope."""
    RATE_LIMIT_REFUSALS.labels(scope)
    return scope


def refused(scope: str) -> None:
    RATE_LIMIT_REFUSALS.labels(scope).inc()


def request_finished(method: str, route: str | None, status: int, seconds: float) -> None:
    """``route`` is the matched route's template (None: nothing matched, e.g. a 404)."""
    method = method if method in METHODS else "OTHER"
    template = "/" + route.lstrip("/") if route is not None else "unmatched"
    HTTP_REQUESTS.labels(method, template, str(status)).inc()
    HTTP_SECONDS.labels(method, template).observe(seconds)
