"""Schemathesis against the live backend: no 5xx, and every answer matches the OpenAPI document.

The CLI runs in a subprocess (awaited without blocking the event loop the backend serves on),
with a fixed seed and bounded examples so the run is reproducible and takes well under a minute.
It authenticates as the action server (service token) with a live verification grant of Jan
Kowalski, the demo owner, so the sensitive endpoints are exercised past their guards.
"""

import asyncio
import json
import sys

from backend.api.openapi import OPENAPI_PATH
from backend.api.service_auth import GRANT_HEADER
from backend.demo_data import JAN_KOWALSKI
from tests.support.waiting import eventually

RUN_TIMEOUT_SECONDS = 150


async def run_schemathesis(backend, headers: dict[str, str], tmp_path, *extra: str):
    report = tmp_path / "schemathesis.json"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{backend.url}{OPENAPI_PATH}",
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "12",
        "--seed",
        "20261123",
        "--workers",
        "2",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--no-shrink",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        *extra,
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode, output.decode(errors="replace"), report


async def test_the_live_api_has_no_server_errors_and_matches_its_schema(
    backend, grant_for, tmp_path
):
    grant = (await grant_for(JAN_KOWALSKI.email))[GRANT_HEADER]
    headers = {**backend.service_headers(), "X-Verification-Grant": grant}

    code, output, report = await run_schemathesis(backend, headers, tmp_path)

    assert code == 0, output[-12000:]
    summary = json.loads(report.read_text())
    assert summary["failures"] == [] and summary["errors"] == [], output[-12000:]
    # It really exercised the API: every operation but the one serving the document itself
    # (which schemathesis leaves out by design) was tested, with a fair number of cases.
    document = backend.app.ctx.openapi_document
    operations = sum(len(methods) for methods in document["paths"].values())
    assert summary["operations"]["tested"] == operations - 1, summary["operations"]
    assert summary["test_cases"]["generated"] >= 20 * operations, summary["test_cases"]
    await _sender_idle(backend)


async def test_schemathesis_would_catch_a_response_that_breaks_the_document(backend, tmp_path):
    """The check is live: make the catalogue answer off-schema and the run must fail."""
    document = backend.app.ctx.openapi_document = _document_of(backend)
    catalogue = document["paths"]["/api/v1/packages"]["get"]["responses"]["200"]
    catalogue["content"]["application/json"]["schema"] = {
        "type": "object",
        "required": ["packages"],
        "properties": {"packages": {"type": "array", "maxItems": 2}},
    }

    code, output, report = await run_schemathesis(
        backend,
        backend.service_headers(),
        tmp_path,
        "--include-path",
        "/api/v1/packages",
    )

    assert code != 0, output[-4000:]
    failures = json.loads(report.read_text())["failures"]
    assert [(f["title"], f["operations"]) for f in failures] == [
        ("Response violates schema", ["GET /api/v1/packages"])
    ], failures


def _document_of(backend):
    from backend.api.openapi import build_document

    return build_document(backend.app)


async def _sender_idle(backend):
    from sqlalchemy import func, select

    from backend.models import OutboxMessage

    async def idle():
        async with backend.app.ctx.sessions() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
            )
        return waiting == 0

    # Stopping the app while the sender has just been woken can hang on Python 3.11 (see
    # OutboxSender.run_forever); let it finish what the run queued first.
    await eventually(idle, timeout=30)
    await asyncio.sleep(0.1)
