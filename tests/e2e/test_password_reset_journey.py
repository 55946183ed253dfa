"""The skeleton's journey for real: widget API -> gateway -> Rasa -> actions -> backend -> SMTP sink
-> reset page -> login. Five processes, real HTTP, real SMTP, real SQLite."""

import re

import httpx
import pytest

from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

JAN = "jan.kowalski@majafirma.pl"
NEW_PASSWORD = "Zielony!Las7"


@pytest.fixture
async def chat(stack):
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=30) as client:
        conversation = (await client.post("/api/v1/conversations")).json()["conversation_id"]

        async def say(text: str) -> str:
            response = await client.post(
                f"/api/v1/conversations/{conversation}/messages", json={"text": text}
            )
            assert response.status_code == 200, response.text
            return "\n".join(m.get("text") or "" for m in response.json()["messages"])

        yield say


async def mails_to(mailbox, address: str) -> list[dict]:
    return (await mailbox.get("/api/messages", params={"to": address})).json()["messages"]


async def test_reset_password_from_chat_to_login(stack, chat, mailbox):
    asks = await chat("nie pamiętam hasła")
    assert "e-mail" in asks.lower()

    invalid = await chat("jan.kowalski(at)majafirma")
    assert "e-mail" in invalid.lower()

    sent = await chat(JAN)
    assert "link" in sent.lower()

    async def reset_mail():
        return await mails_to(mailbox, JAN)

    mail = (await eventually(reset_mail, timeout=20))[0]
    assert mail["subject"] == "Ustawienie nowego hasła – iKsięgowość24"
    link = re.search(r"http://\S+/reset-password\?token=\S+", mail["text"]).group(0)
    assert link.startswith(stack.url("backend"))
    token = link.split("token=", 1)[1]

    async with httpx.AsyncClient(timeout=10) as client:
        form = await client.get(link)
        assert form.status_code == 200 and "Ustaw nowe hasło" in form.text
        weak = await client.post(
            stack.url("backend") + "/reset-password",
            data={"token": token, "password": "kowalski", "password_confirm": "kowalski"},
        )
        assert weak.status_code == 422 and "trzech grup" in weak.text
        done = await client.post(
            stack.url("backend") + "/reset-password",
            data={"token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
        )
        assert done.status_code == 200

        login = stack.url("backend") + "/api/v1/auth/login"
        assert (await client.post(login, json={"email": JAN, "password": NEW_PASSWORD})).status_code == 200
        old = await client.post(login, json={"email": JAN, "password": "Faktura#2026"})
        assert old.status_code == 401

    logs = stack.all_logs()
    for secret in (token, NEW_PASSWORD, stack.service_token):
        assert secret not in logs


async def test_unknown_address_gets_the_same_answer_and_no_mail(stack, chat, mailbox):
    await chat("zapomniałem hasła")
    answer = await chat("ktos.obcy@nieistnieje.pl")
    assert "link" in answer.lower()
    await chat("nie pamietam hasla")
    await chat(JAN)  # a known address sent after it: once its mail is here, the other had its turn

    async def jan_mail():
        return await mails_to(mailbox, JAN)

    await eventually(jan_mail, timeout=20)
    assert await mails_to(mailbox, "ktos.obcy@nieistnieje.pl") == []


async def test_backend_refuses_calls_without_the_service_token(stack):
    async with httpx.AsyncClient(base_url=stack.url("backend"), timeout=10) as client:
        response = await client.post("/api/v1/auth/password-reset", json={"email": JAN})
    assert response.status_code == 401
