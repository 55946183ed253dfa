"""The PIN and the verification code typed in the chat are persisted nowhere in clear.

Two real conversations through the gateway (registration with a licence PIN, identity
verification with an e-mailed code), then every place that keeps something is read raw: the
Rasa tracker store (SQLite), the gateway's transcript database and the logs of all five services.
The journeys must have really happened (account created, package reported), so the test cannot
pass by never seeing the secrets.

`test_planted_secrets_are_in_no_store` plants everything at once - passwords in three phrasings,
an ID and a PIN nobody asked for, a verification code, a signed-in visitor whose grant the
assistant uses (and who reaches a response with entity buttons, which once made Rasa log the
slot values) - and then reads every store raw: both SQLite databases of the backend and the
gateway and Rasa's tracker database with their -wal/-shm files, every service log, the transcript
API, Rasa's tracker API and the outbox rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import socketio

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


def occurrences(secret: str, text: str) -> list[str]:
    """The secret as a number of its own, each with the text around it (for the failure message).

    Not inside a longer number, a timestamp, or a random identifier: the tracker's sender ids,
    message ids and encrypted slots are base64 or hex, and "…b4821f…" inside one of them is no
    leak (it made this test fail by chance once).
    """
    pattern = rf"(?<![0-9A-Za-z.+/$]){re.escape(secret)}(?![0-9A-Za-z])"
    return [text[max(0, m.start() - 80) : m.end() + 80] for m in re.finditer(pattern, text)]


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
    await conversation(NEW_OWNER)
    await conversation("68577")
    await conversation(PIN)
    await conversation("5260250274")
    await conversation("Jan Nowicki")
    await conversation('/inform{"package":"green"}')
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
    assert not occurrences(PIN, stored)


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
    assert not occurrences(code, stored)


# ---------------------------------------------------------------- everything at once

PASSWORDS = ("Zima2026!xq", "Kasztan#77Lato", "Wiosna2025!pk")
PLANTED_PIN = "4821"
VOLUNTEERED = "ID 68577 PIN 4821"
# The password the signed-in visitor logs in with, set by the test through a reset link: earlier
# tests on the shared stack may have changed the demo password.
JAN_PASSWORD = "Grab#Sekwoja2031"
# secrets.token_urlsafe(32): grants and session tokens
TOKEN = re.compile(rb"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{43}(?![A-Za-z0-9_\-])")


def strictly_appears(secret: str, raw: bytes) -> bool:
    """The digits as a value of their own: not inside a hash, a base64 string or a number."""
    return re.search(
        rb"(?<![0-9A-Za-z.+/$])" + re.escape(secret.encode()) + rb"(?![0-9A-Za-z])", raw
    ) is not None


def raw_files(workdir: Path, name: str) -> dict[str, bytes]:
    files = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = workdir / f"{name}{suffix}"
        if path.exists():
            files[path.name] = path.read_bytes()
    assert name in files, f"{name} missing"
    return files


class SignedInVisitor:
    """The widget on the platform's page: a socket.io client handing over the session token."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.session_id: str | None = None
        self.uttered: asyncio.Queue = asyncio.Queue()
        self.identity: asyncio.Queue = asyncio.Queue()
        self.confirmed = asyncio.Event()
        self.sio.on("session_confirm", self._on_confirm)
        self.sio.on("bot_uttered", self.uttered.put)
        self.sio.on("pomocnik_identity", self.identity.put)

    async def _on_confirm(self, session_id) -> None:
        self.session_id = session_id
        self.confirmed.set()

    async def start(self, url: str, session_token: str) -> dict:
        await self.sio.connect(url, transports=["websocket"], wait_timeout=10)
        await self.sio.emit("session_request", {"session_token": session_token})
        await asyncio.wait_for(self.confirmed.wait(), 10)
        return await asyncio.wait_for(self.identity.get(), 10)

    async def say(self, text: str, quiet_for: float = 2.0) -> str:
        await self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})
        payloads = [await asyncio.wait_for(self.uttered.get(), 60)]
        while True:
            try:
                payloads.append(await asyncio.wait_for(self.uttered.get(), quiet_for))
            except asyncio.TimeoutError:
                break
        # the texts and the button payloads, as a person (and Rasa) would read them
        parts = []
        for payload in payloads:
            parts.append(payload.get("text") or "")
            for button in payload.get("quick_replies") or payload.get("buttons") or []:
                parts.append(button.get("payload") or "")
        return "\n".join(parts)

    async def close(self) -> None:
        await self.sio.disconnect()


async def set_password(stack, mailbox, email: str, password: str) -> None:
    """Gives the account a password this test knows, through the backend's reset link."""
    async with httpx.AsyncClient(timeout=30) as client:
        requested = await client.post(
            stack.url("backend") + "/api/v1/auth/password-reset",
            json={"email": email},
            headers={"Authorization": f"Bearer {stack.service_token}"},
        )
        assert requested.status_code < 300, requested.text

        async def reset_link():
            messages = (await mailbox.get("/api/messages", params={"to": email})).json()
            return [
                m for m in messages["messages"] if "/reset-password?token=" in (m["text"] or "")
            ]

        mail = (await eventually(reset_link, timeout=30))[-1]
        token = re.search(r"/reset-password\?token=(\S+)", mail["text"]).group(1)
        done = await client.post(
            stack.url("backend") + "/reset-password",
            data={"token": token, "password": password, "password_confirm": password},
        )
        assert done.status_code == 200, done.text
    await mailbox.delete("/api/messages")


async def test_planted_secrets_are_in_no_store(stack, mailbox):
    await set_password(stack, mailbox, JAN, JAN_PASSWORD)
    gateway = stack.url("gateway")
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as http:

        async def new_conversation():
            conversation_id = (await http.post("/api/v1/conversations")).json()["conversation_id"]

            async def say(text: str) -> str:
                response = await http.post(
                    f"/api/v1/conversations/{conversation_id}/messages", json={"text": text}
                )
                assert response.status_code == 200, response.text
                return "\n".join(m.get("text") or "" for m in response.json()["messages"])

            return conversation_id, say

        # 1. Passwords in three phrasings, then an ID and a PIN nobody asked for.
        volunteer_id, say = await new_conversation()
        await say(f"moje hasło to {PASSWORDS[0]}")
        await say(PASSWORDS[1])
        await say(f"loguję się {JAN} i hasłem {PASSWORDS[2]} i nie działa")
        await say(VOLUNTEERED)

        # 2. A verification code, typed with its cue word.
        code_id, say = await new_conversation()
        assert "e-mail" in (await say("jaki mam pakiet?")).lower()
        await say(JAN)

        async def code_mail():
            messages = (await mailbox.get("/api/messages", params={"to": JAN})).json()["messages"]
            return [m for m in messages if re.search(r"\b\d{6}\b", m["text"])]

        [code] = re.findall(r"\b\d{6}\b", (await eventually(code_mail, timeout=30))[-1]["text"])[:1]
        assert "zielony" in (await say(f"kod: {code}")).lower()  # verified: the code was used

        # 3. A signed-in visitor: the gateway sends the grant with every message.
        async with httpx.AsyncClient(base_url=stack.url("backend"), timeout=30) as backend:
            login = await backend.post(
                "/api/v1/auth/login", json={"email": JAN, "password": JAN_PASSWORD}
            )
        assert login.status_code == 200, login.text
        session_token = login.json()["session"]["token"]
        visitor = SignedInVisitor()
        try:
            identity = await visitor.start(gateway, session_token)
            assert identity.get("verified") is True
            assert "zielony" in (await visitor.say("jaki mam pakiet?")).lower()  # grant used
            # a form whose role question has entity buttons (/inform{"role":...}), grant set
            await visitor.say("chcę dodać użytkownika")
            await visitor.say("anna.kowalczyk@majafirma.pl")
            role_question = await visitor.say("Anna Kowalczyk")
            assert '/inform{"role":"employee"}' in role_question
            await visitor.say("anuluj")
        finally:
            await visitor.close()
        signed_in_id = visitor.session_id

        # Every e-mail went out, so the outbox has nothing left to keep.
        def outbox_pending():
            return backend_rows(stack, "SELECT count(*) FROM outbox_messages WHERE sent_at IS NULL")

        async def outbox_done():
            return outbox_pending() == [(0,)]

        await eventually(outbox_done, timeout=30)
        await asyncio.sleep(1)  # the delivering round ends with its WAL checkpoint

        # ---- what the stores hold
        transcripts = {}
        for conversation_id in (volunteer_id, code_id, signed_in_id):
            response = await http.get(f"/api/v1/conversations/{conversation_id}/messages")
            assert response.status_code == 200
            transcripts[conversation_id] = response.json()["messages"]

    def visitor_texts(conversation_id):
        return [m["text"] for m in transcripts[conversation_id] if m["author"] == "visitor"]

    # The transcript shows what was masked (the journeys really happened, nothing was dropped).
    assert visitor_texts(volunteer_id) == [
        "moje hasło to [hasło usunięte]",
        "[hasło usunięte]",
        f"loguję się {JAN} i hasłem [hasło usunięte] i nie działa",
        "ID ••••• PIN ••••",
    ]
    # asked for the code: stored as the mask (or, had it not been asked, with its digits masked)
    assert visitor_texts(code_id)[-1] in ("••••", "kod: ••••••")

    senders = [
        row[0]
        for row in sqlite3.connect(stack.workdir / "rasa-tracker.db").execute(
            "SELECT DISTINCT sender_id FROM events"
        )
    ]
    assert len(senders) >= 3
    async with httpx.AsyncClient(base_url=stack.url("rasa"), timeout=30) as rasa:
        tracker_api = []
        for sender in senders:
            response = await rasa.get(
                f"/conversations/{sender}/tracker", params={"token": stack.service_token}
            )
            assert response.status_code == 200, response.text
            tracker_api.append(response.text)

    outbox_bodies = backend_rows(
        stack,
        "SELECT count(*) FROM outbox_messages WHERE text_body IS NOT NULL OR html_body IS NOT NULL",
    )
    assert outbox_bodies == [(0,)]

    stores: dict[str, bytes] = {}
    for name in ("backend.db", "gateway.db", "rasa-tracker.db"):
        stores.update(raw_files(stack.workdir, name))
    for service in stack.processes:
        stores[f"{service}.log"] = stack.log(service).encode()
    stores["transcript API"] = json.dumps(transcripts, ensure_ascii=False).encode()
    stores["Rasa tracker API"] = "\n".join(tracker_api).encode()

    for where, raw in stores.items():
        for password in (*PASSWORDS, JAN_PASSWORD):
            assert password.encode() not in raw, f"a password in {where}"
        assert not strictly_appears(PLANTED_PIN, raw), f"the PIN in {where}"
        assert not strictly_appears(code, raw), f"the verification code in {where}"
        assert session_token.encode() not in raw, f"the platform session token in {where}"
        # no slot value printed by a failed interpolation, no grant in any metadata
        slot_value = rb"verification_grant['\x22]?\s*[:=]\s*['\x22](?!fernet:)\w"
        assert not re.search(slot_value, raw), f"the grant slot's value in {where}"
        assert not re.search(rb"['\x22]grant['\x22]\s*:\s*['\x22]", raw), f"a grant key in {where}"

    # The grants the backend issued (it keeps only their SHA-256): no 43-character token in any
    # store hashes to one of them.
    grant_hashes = {
        row[0] for row in backend_rows(stack, "SELECT grant_hash FROM verification_grants")
    }
    assert len(grant_hashes) >= 2  # the code's grant and the signed-in visitor's
    for where, raw in stores.items():
        leaked = {
            token for token in set(TOKEN.findall(raw))
            if hashlib.sha256(token).hexdigest() in grant_hashes
        }
        assert not leaked, f"a grant in {where}"
