"""The PIN and the verification code typed in the chat are persisted nowhere in clear.

Two real conversations through the gateway (registration with a licence PIN, identity
verification with an e-mailed code), then every place that keeps something is read raw: the
Rasa tracker store (SQLite), the gateway's transcript database and the logs of all five services.
The journeys must have really happened (account created, package reported), so the test cannot
pass by never seeing the secrets.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

PIN = "4821"  # the free demo licence 68577 / 4821 / 5260250274
NEW_OWNER = "jan.nowicki@biuro-nowicki.pl"
JAN = "jan.kowalski@majafirma.pl"


@pytest.fixture
async def conversation(stack):
    """A fresh conversation; `say(text)` returns the assistant's replies as one string."""
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=60) as client:
        conversation_id = (await client.post("/api/v1/conversations")).json()["conversation_id"]

        async def say(text: str) -> str:
            response = await client.post(
                f"/api/v1/conversations/{conversation_id}/messages", json={"text": text}
            )
            assert response.status_code == 200, response.text
            return "\n".join(m.get("text") or "" for m in response.json()["messages"])

        yield say


def appears(secret: str, text: str) -> bool:
    """The secret as a number of its own (not inside a longer number or a timestamp)."""
    return re.search(rf"(?<![\d.]){re.escape(secret)}(?!\d)", text) is not None


def dump_sqlite(path: Path) -> str:
    """Every value of every table, as text."""
    with closing(sqlite3.connect(path)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            repr(row) for table in tables for row in db.execute(f'SELECT * FROM "{table}"')
        )


def backend_rows(stack, sql: str, *params) -> list[tuple]:
    with closing(sqlite3.connect(stack.workdir / "backend.db")) as db:
        return db.execute(sql, params).fetchall()


def everything_stored(stack) -> str:
    return "\n".join(
        [
            dump_sqlite(stack.workdir / "rasa-tracker.db"),
            dump_sqlite(stack.workdir / "gateway.db"),
            stack.all_logs(),
        ]
    )


async def test_registration_pin_is_not_persisted(stack, conversation, mailbox):
    await conversation("chcę zarejestrować licencję Comarch")
    await conversation('/inform{"package":"green"}')
    await conversation(NEW_OWNER)
    await conversation("68577")
    await conversation(PIN)
    await conversation("5260250274")
    await conversation("Jan Nowicki")
    await conversation("/affirm")  # terms accepted
    summary = await conversation("/affirm")  # the summary is confirmed: send
    assert PIN not in summary

    async def activation_mail():
        return (await mailbox.get("/api/messages", params={"to": NEW_OWNER})).json()["messages"]

    mails = await eventually(activation_mail)
    assert [m["subject"] for m in mails] == ["Aktywacja konta Comarch Cloud"]
    assert backend_rows(stack, "SELECT count(*) FROM accounts WHERE email = ?", NEW_OWNER) == [(1,)]

    stored = everything_stored(stack)
    assert "68577" in stored  # the licence ID is not secret: the record is really there
    assert not appears(PIN, stored)


async def test_verification_code_is_not_persisted(stack, conversation, mailbox):
    asks = await conversation("jaki mam pakiet?")
    assert "e-mail" in asks.lower()
    await conversation(JAN)

    async def code_mail():
        return (await mailbox.get("/api/messages", params={"to": JAN})).json()["messages"]

    mails = await eventually(code_mail)
    [code] = re.findall(r"\b\d{6}\b", mails[-1]["text"])[:1]
    status = await conversation(code)
    assert "zielony" in status.lower()  # Jan's package: the verification really worked

    stored = everything_stored(stack)
    assert not appears(code, stored)
