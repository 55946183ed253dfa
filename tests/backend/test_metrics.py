"""Backend metrics: each event moves its counter by exactly what happened, labels are route
templates and fixed words (never an id, an address or a code), and the outbox gauges are read
from the database when scraped over real HTTP on the metrics port, which is not the public one."""

from __future__ import annotations

import re

import httpx
import pytest
from prometheus_client import REGISTRY, generate_latest
from sanic import Sanic

from backend import metrics
from backend.app import create_app
from backend.demo_data import load_demo_data
from tests.support.smtp import body_text
from harness.stack import free_port
from tests.support.waiting import eventually

LOGIN = "/api/v1/auth/login"
CODES = "/api/v1/verification/codes"
CHECK = "/api/v1/verification/codes/check"
RESET = "/api/v1/auth/password-reset"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def exposition() -> str:
    return generate_latest(REGISTRY).decode()


def label_sets(text: str) -> str:
    """Every ``{...}`` of the exposition: where an id or a code could leak (numbers may well
    occur inside sample values)."""
    return "\n".join(re.findall(r"\{[^}]*\}", text))


async def test_failed_logins_lock_once_and_the_refusal_counts_by_scope(http, jan):
    lockouts = value("pomocnik_backend_lockouts_total", kind="login")
    refusals = value("pomocnik_backend_rate_limit_refusals_total", scope="login_failure")
    failed = value(
        "pomocnik_backend_http_requests_total", method="POST", route=LOGIN, status="401"
    )
    planted = "Planted#Secret-7731"
    for attempt in range(5):
        response = await http.post(LOGIN, json={"email": jan.email, "password": planted})
        assert response.status_code == 401
        expected = 1 if attempt == 4 else 0  # the fifth failure starts the lock
        assert value("pomocnik_backend_lockouts_total", kind="login") == lockouts + expected
    assert value("pomocnik_backend_rate_limit_refusals_total", scope="login_failure") == refusals

    response = await http.post(LOGIN, json={"email": jan.email, "password": jan.password})
    assert response.status_code == 429  # locked, even with the right password
    assert value("pomocnik_backend_rate_limit_refusals_total", scope="login_failure") == refusals + 1
    assert value("pomocnik_backend_lockouts_total", kind="login") == lockouts + 1
    assert value(
        "pomocnik_backend_http_requests_total", method="POST", route=LOGIN, status="401"
    ) == failed + 5
    text = exposition()
    assert planted not in text and jan.email not in text and jan.password not in text


async def test_codes_sent_refused_and_checked(http, backend, smtp, jan):
    headers = backend.service_headers()
    sent = value("pomocnik_backend_verification_codes_total", outcome="sent")
    nobody = value("pomocnik_backend_verification_codes_total", outcome="no_account")
    refused = value("pomocnik_backend_verification_codes_total", outcome="refused")
    per_conversation = value(
        "pomocnik_backend_rate_limit_refusals_total", scope="chat_code_conversation"
    )
    checks = {
        outcome: value("pomocnik_backend_verification_code_checks_total", outcome=outcome)
        for outcome in ("accepted", "wrong", "malformed")
    }

    requester = {"conversation": "metrics-conv-1", "network": "203.0.113.7"}
    response = await http.post(CODES, json={"email": jan.email, "requester": requester},
                               headers=headers)
    assert response.status_code == 202
    (message,) = await smtp.wait_for(1)
    code = re.search(r"\b\d{6}\b", body_text(message)).group(0)
    response = await http.post(CODES, json={"email": "nikt@example.pl", "requester": requester},
                               headers=headers)
    assert response.status_code == 202
    assert value("pomocnik_backend_verification_codes_total", outcome="sent") == sent + 1
    assert value("pomocnik_backend_verification_codes_total", outcome="no_account") == nobody + 1

    # Five per conversation an hour: three more pass, the sixth is refused.
    for _ in range(3):
        response = await http.post(CODES, json={"email": "inny@example.pl", "requester": requester},
                                   headers=headers)
        assert response.status_code == 202
    response = await http.post(CODES, json={"email": "inny@example.pl", "requester": requester},
                               headers=headers)
    assert response.status_code == 429
    assert value("pomocnik_backend_verification_codes_total", outcome="refused") == refused + 1
    assert value(
        "pomocnik_backend_rate_limit_refusals_total", scope="chat_code_conversation"
    ) == per_conversation + 1

    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for attempt, expected_status in ((wrong, 400), ("12ab", 422), (code, 200)):
        response = await http.post(CHECK, json={"email": jan.email, "code": attempt},
                                   headers=headers)
        assert response.status_code == expected_status, response.text
    for outcome in ("accepted", "wrong", "malformed"):
        assert value("pomocnik_backend_verification_code_checks_total", outcome=outcome) == (
            checks[outcome] + 1
        )
    text = exposition()
    assert "metrics-conv-1" not in text and "203.0.113.7" not in text and jan.email not in text
    assert code not in label_sets(text) and wrong not in label_sets(text)


async def test_requests_are_labelled_by_route_template(http, backend):
    await http.patch("/api/v1/organisation/members/48213", json={},
                     headers=backend.service_headers())
    await http.get("/nie/ma/takiej/strony/48213")
    text = exposition()
    assert 'route="/api/v1/organisation/members/<member_id:int>"' in text
    assert 'route="unmatched",status="404"' in text
    assert "48213" not in label_sets(text) and "takiej" not in text


@pytest.fixture
async def backend_with_metrics(settings, clock):
    """The real backend app with its metrics listener, as ``python -m backend`` runs it."""
    await load_demo_data(settings)
    Sanic.test_mode = True
    app = create_app(settings, clock=clock, name="backend_with_metrics")
    metrics_port = free_port()
    metrics.serve(app, "127.0.0.1", metrics_port)
    server = await app.create_server(
        host="127.0.0.1", port=settings.port, return_asyncio_server=True
    )
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield app, f"http://127.0.0.1:{metrics_port}/metrics"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        Sanic._app_registry.pop(app.name, None)


async def test_outbox_gauges_are_read_when_scraped(backend_with_metrics, settings, smtp, clock, jan):
    app, metrics_url = backend_with_metrics
    await smtp.stop()
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{settings.public_url}{RESET}", json={"email": jan.email},
            headers={"Authorization": f"Bearer {settings.service_token}"},
        )
        assert response.status_code == 202

        async def failed_once() -> str | None:
            scrape = (await client.get(metrics_url)).text
            return scrape if "pomocnik_backend_outbox_failed 1.0" in scrape else None

        scrape = await eventually(failed_once)
        assert "pomocnik_backend_outbox_pending 1.0" in scrape
        clock.advance(seconds=90)
        scrape = (await client.get(metrics_url)).text
        assert "pomocnik_backend_outbox_oldest_pending_seconds 90.0" in scrape
        assert 'pomocnik_backend_outbox_deliveries_total{outcome="failed"}' in scrape
        # The public port has no metrics.
        public = await client.get(f"{settings.public_url}/metrics")
        assert public.status_code == 404 and "pomocnik_" not in public.text
    # The reset link waiting in the outbox never reaches the metrics.
    assert "token=" not in scrape and jan.email not in scrape
