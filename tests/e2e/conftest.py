import shutil

import httpx
import pytest
from playwright.async_api import async_playwright

from harness.stack import start_stack, stop_stack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags for a closed network and a root user in CI (no sandbox, no background connections).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# The shared stack is in business hours whatever the real time (Tuesday 24.11.2026, 10:00);
# after-hours tests start their own stack on a Saturday evening.
IN_HOURS = "2026-11-24T10:00:00+01:00"


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    running = start_stack(
        tmp_path_factory.mktemp("stack"), extra_env={"GATEWAY_HOURS_CLOCK_START": IN_HOURS}
    )
    yield running
    stop_stack(running)


@pytest.fixture
async def mailbox(stack):
    """The sink's JSON API, emptied before each test so tests never see each other's mail."""
    async with httpx.AsyncClient(base_url=stack.url("mailsink"), timeout=10) as client:
        await client.delete("/api/messages")
        yield client


@pytest.fixture
async def browser():
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()
