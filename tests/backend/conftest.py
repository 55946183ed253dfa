from __future__ import annotations

from dataclasses import dataclass, replace

import httpx
import pytest
from sanic import Sanic

from backend.api.service_auth import GRANT_HEADER
from backend.app import create_app
from backend.repositories import accounts
from backend.services import grants
from backend.demo_data import JAN_KOWALSKI, load_demo_data
from backend.settings import Settings
from tests.support.clock import FakeClock
from tests.support.databases import fresh_database
from tests.support.outbox import mail_settled as wait_for_outbox
from tests.support.smtp import SmtpSink
from harness.stack import free_port

SERVICE_TOKEN = "test-service-token-0123456789abcdef"


@dataclass
class RunningBackend:
    url: str
    app: Sanic
    clock: FakeClock
    settings: Settings

    def service_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {SERVICE_TOKEN}"}


@pytest.fixture
async def database_url(tmp_path):
    async with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
async def smtp():
    sink = SmtpSink(port=free_port())
    await sink.start()
    yield sink
    await sink.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url, smtp) -> Settings:
    port = free_port()
    return replace(
        Settings(),
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        database_url=database_url,
        service_token=SERVICE_TOKEN,
        smtp_port=smtp.port,
        outbox_poll_seconds=0.2,
        # Cheap hashing keeps the suite fast; production cost is checked in test_hashing.
        argon2_memory_kib=1024,
        argon2_time_cost=1,
    )


@pytest.fixture
async def backend(settings, clock, request):
    await load_demo_data(settings)
    Sanic.test_mode = True
    app = create_app(settings, clock=clock, name=f"backend_{request.node.name[:40]}".replace("[", "_").replace("]", "_").replace("-", "_"))
    server = await app.create_server(host="127.0.0.1", port=settings.port, return_asyncio_server=True)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield RunningBackend(url=settings.public_url, app=app, clock=clock, settings=settings)
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        Sanic._app_registry.pop(app.name, None)


@pytest.fixture
async def mail_settled(backend):
    """Queued e-mail goes out before the backend stops (a module that sends e-mail uses it:
    ``pytestmark = pytest.mark.usefixtures("mail_settled")``)."""
    yield
    await wait_for_outbox(backend.app.ctx.sessions)


@pytest.fixture
async def http(backend):
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as client:
        yield client


@pytest.fixture
def jan():
    return JAN_KOWALSKI


@pytest.fixture
def grant_for(backend):
    """Issue a verification grant straight in the database (the code flow has its own tests).

    Returns headers for a sensitive call on that account's behalf: service token + grant.
    """

    async def issue_grant(email: str) -> dict[str, str]:
        async with backend.app.ctx.sessions.begin() as session:
            account = await accounts.get_by_email(session, email)
            raw, _ = await grants.issue(session, account, backend.clock)
        return {**backend.service_headers(), GRANT_HEADER: raw}

    return issue_grant
