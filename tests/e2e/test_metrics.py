"""/metrics of the gateway, the backend and the action server, scraped over real HTTP from the
five running services after a scripted conversation.

- The counters move by what the conversation did: its turns (answered and timed), the actions
  it ran, the backend request it made, the reset e-mail delivered.
- Nothing typed or issued in it (a planted password, the address, the conversation id, the
  reset link's token, the service token) appears in any scrape.
- The metrics are on their own ports, bound to loopback only: not served from a non-loopback
  address of this machine, and not on the services' own (public) ports.
- Every metric the Grafana dashboard and docs/operations.md name is really exported, and every
  exported metric is documented.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import httpx
import psutil
import pytest

from harness.stack import METRICS_SERVICES
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "docs" / "grafana" / "pomocnik.json"
OPERATIONS = ROOT / "docs" / "operations.md"
JAN = "jan.kowalski@majafirma.pl"
PLANTED_PASSWORD = "Planted#Secret-9917"
RESET_PATH = "/api/v1/auth/password-reset"


def sample(scrape: str, name: str, **labels: str) -> float:
    """The value of one series in an exposition (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in scrape.splitlines():
        series, _, number = line.rpartition(" ")
        metric, _, rest = series.partition("{")
        if metric == name and ",".join(sorted(rest.rstrip("}").split(","))) == wanted:
            return float(number)
    return 0.0


async def scrape_all(client: httpx.AsyncClient, stack) -> dict[str, str]:
    scrapes = {}
    for service in METRICS_SERVICES:
        response = await client.get(stack.metrics_url(service))
        assert response.status_code == 200, (service, response.text[:200])
        scrapes[service] = response.text
    return scrapes


def non_loopback_addresses() -> list[str]:
    return [
        address.address
        for addresses in psutil.net_if_addrs().values()
        for address in addresses
        if address.family == socket.AF_INET and not address.address.startswith("127.")
    ]


async def test_a_conversation_shows_in_the_metrics_and_leaks_nothing(stack, mailbox):
    async with httpx.AsyncClient(timeout=60) as client:
        before = await scrape_all(client, stack)
        chat = httpx.AsyncClient(base_url=stack.url("gateway"), timeout=60)
        async with chat:
            conversation = (await chat.post("/api/v1/conversations")).json()["conversation_id"]
            for text in ("nie pamiętam hasła", JAN, f"moje hasło to {PLANTED_PASSWORD}"):
                response = await chat.post(
                    f"/api/v1/conversations/{conversation}/messages", json={"text": text}
                )
                assert response.status_code == 200, response.text

        async def reset_mail():
            found = await mailbox.get("/api/messages", params={"to": JAN})
            return found.json()["messages"]

        token = re.search(r"token=(\S+)", (await eventually(reset_mail, timeout=20))[0]["text"])

        async def delivery_counted():
            now = await scrape_all(client, stack)
            delivered = sample(now["backend"], "pomocnik_backend_outbox_deliveries_total",
                               outcome="sent")
            sent_before = sample(before["backend"], "pomocnik_backend_outbox_deliveries_total",
                                 outcome="sent")
            return now if delivered == sent_before + 1 else None

        after = await eventually(delivery_counted, timeout=20)

    def delta(service: str, name: str, **labels: str) -> float:
        return sample(after[service], name, **labels) - sample(before[service], name, **labels)

    assert delta("gateway", "pomocnik_gateway_turns_total", outcome="answered") == 3
    assert delta("gateway", "pomocnik_gateway_turn_seconds_count") == 3
    assert delta("gateway", "pomocnik_gateway_http_requests_total", method="POST",
                 route="/api/v1/conversations/<conversation_id:str>/messages", status="200") == 3
    assert delta("actions", "pomocnik_actions_runs_total",
                 action="action_request_password_reset", outcome="ok") == 1
    assert delta("actions", "pomocnik_actions_run_seconds_count",
                 action="action_request_password_reset") == 1
    assert delta("backend", "pomocnik_backend_http_requests_total", method="POST",
                 route=RESET_PATH, status="202") == 1
    assert sample(after["backend"], "pomocnik_backend_outbox_pending") >= 0
    assert "pomocnik_gateway_queue_length " in after["gateway"]

    everything = "\n".join(after.values())
    for secret in (PLANTED_PASSWORD, JAN, conversation, token.group(1), stack.service_token):
        assert secret not in everything


async def test_an_unregistered_action_name_is_not_a_label(stack):
    planted = "action_Planted-9917"
    async with httpx.AsyncClient(timeout=10) as client:
        before = (await client.get(stack.metrics_url("actions"))).text
        response = await client.post(
            f"{stack.url('actions')}/webhook",
            json={"next_action": planted, "tracker": {}, "domain": {}, "version": "3.6.21"},
        )
        assert response.status_code == 404
        after = (await client.get(stack.metrics_url("actions"))).text
    assert planted not in after
    assert (
        sample(after, "pomocnik_actions_runs_total", action="unknown", outcome="not_found")
        - sample(before, "pomocnik_actions_runs_total", action="unknown", outcome="not_found")
    ) == 1


async def test_metrics_are_on_loopback_only_and_not_on_the_public_ports(stack):
    addresses = non_loopback_addresses()
    for service in METRICS_SERVICES:
        port = stack.ports[f"{service}_metrics"]
        listening = [
            connection.laddr.ip
            for connection in psutil.Process(stack.processes[service].pid).net_connections("inet")
            if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
        ]
        assert listening == ["127.0.0.1"], (service, listening)
        for address in addresses:  # a client on this machine's network address is refused
            with pytest.raises(OSError):
                socket.create_connection((address, port), timeout=2).close()

    async with httpx.AsyncClient(timeout=10) as client:
        for service in METRICS_SERVICES:
            public = await client.get(f"{stack.url(service)}/metrics")
            assert public.status_code != 200, service
            assert "pomocnik_" not in public.text and "# TYPE" not in public.text, service


async def test_the_dashboard_and_the_operations_guide_name_real_metrics(stack):
    async with httpx.AsyncClient(timeout=10) as client:
        exported = "\n".join((await scrape_all(client, stack)).values())
    series = set(re.findall(r"^(pomocnik_\w+)", exported, re.MULTILINE))
    families = set(re.findall(r"^# TYPE (pomocnik_\w+) ", exported, re.MULTILINE))

    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    assert expressions, "the dashboard has no queries"
    used = {name for expr in expressions for name in re.findall(r"pomocnik_\w+", expr)}
    assert used - series == set(), "the dashboard queries metrics nobody exports"

    guide = OPERATIONS.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(pomocnik_\w+)", guide))
    assert documented - series - families == set(), "the guide names metrics nobody exports"
    undocumented = {
        family for family in families
        if not any(name == family or name.startswith(family + "_") for name in documented)
    }
    assert undocumented == set(), "exported but not explained in docs/operations.md"
