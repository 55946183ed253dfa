"""A delivered e-mail's one-time link is gone from every file of the SQLite database.

Real backend, real SMTP sink: a password-reset e-mail is sent; afterwards the raw bytes of
backend.db, backend.db-wal and backend.db-shm must not contain the link's token, neither as
written into the e-mail nor URL-encoded. Clearing the body column is not enough on its own: the
row's old page stays in the write-ahead log and in freed space of the database file.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from backend.models import OutboxMessage
from tests.support.smtp import body_text
from tests.support.waiting import eventually

RESET = "/api/v1/auth/password-reset"


def database_files(database_url: str) -> dict[str, bytes]:
    path = Path(database_url.split(":///", 1)[1])
    return {
        suffix: (Path(f"{path}{suffix}").read_bytes() if Path(f"{path}{suffix}").exists() else b"")
        for suffix in ("", "-wal", "-shm")
    }


async def test_the_reset_link_is_in_no_database_file_after_delivery(
    http, backend, smtp, jan, database_url
):
    if not database_url.startswith("sqlite"):
        pytest.skip("raw database files exist on SQLite only")
    # Several messages, so the freed space really is reused / overwritten, not just appended.
    for _ in range(3):
        response = await http.post(
            RESET, json={"email": jan.email}, headers=backend.service_headers()
        )
        assert response.status_code == 202
    messages = await smtp.wait_for(3)

    async def all_sent():
        async with backend.app.ctx.sessions() as session:
            rows = (await session.scalars(select(OutboxMessage))).all()
        return rows if rows and all(row.sent_at for row in rows) else None

    rows = await eventually(all_sent)
    assert all(row.text_body is None and row.html_body is None for row in rows)
    await backend.app.ctx.sender.deliver_due()  # a round that found a busy checkpoint repeats it

    tokens = {
        match
        for message in messages
        for match in re.findall(r"token=([\w\-]+)", body_text(message))
    }
    assert len(tokens) == 3
    files = database_files(database_url)
    assert files[""]  # the database is really there
    for token in tokens:
        for suffix, raw in files.items():
            assert token.encode() not in raw, f"token in backend.db{suffix}"
            assert quote(token).encode() not in raw, f"token in backend.db{suffix}"
    # the links themselves neither
    for suffix, raw in files.items():
        assert b"/reset-password?token=" not in raw, f"link in backend.db{suffix}"
