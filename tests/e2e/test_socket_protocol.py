"""A stock Python socket.io client speaking Rasa's channel protocol holds a conversation through
the real gateway (and Rasa, the actions, the backend behind it); the transcript outlives it."""

import asyncio

import httpx
import pytest
import socketio

pytestmark = pytest.mark.e2e

JAN = "jan.kowalski@majafirma.pl"


class RasaWidgetClient:
    """What an off-the-shelf Rasa web widget does on the wire, and nothing more."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.session_id: str | None = None
        self.uttered: asyncio.Queue = asyncio.Queue()
        self.confirmed = asyncio.Event()
        self.sio.on("session_confirm", self._on_confirm)
        self.sio.on("bot_uttered", self.uttered.put)

    async def _on_confirm(self, session_id) -> None:
        self.session_id = session_id
        self.confirmed.set()

    async def start(self, url: str, session_id: str | None = None) -> str:
        await self.sio.connect(url, transports=["websocket"], wait_timeout=10)
        await self.sio.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(self.confirmed.wait(), 10)
        return self.session_id

    async def say(self, text: str, quiet_for: float = 1.5) -> str:
        """Send, then collect bot_uttered texts until the bot has been quiet for a moment."""
        await self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})
        texts = [(await asyncio.wait_for(self.uttered.get(), 30)).get("text") or ""]
        while True:
            try:
                payload = await asyncio.wait_for(self.uttered.get(), quiet_for)
            except asyncio.TimeoutError:
                return "\n".join(texts)
            texts.append(payload.get("text") or "")

    async def close(self) -> None:
        await self.sio.disconnect()


async def test_stock_socketio_client_resets_a_password_through_the_gateway(stack, mailbox):
    client = RasaWidgetClient()
    session_id = await client.start(stack.url("gateway"))
    try:
        assert "e-mail" in (await client.say("nie pamiętam hasła")).lower()
        assert "link" in (await client.say(JAN)).lower()
    finally:
        await client.close()

    mails = (await mailbox.get("/api/messages", params={"to": JAN})).json()["messages"]
    for _ in range(40):
        if mails:
            break
        await asyncio.sleep(0.5)
        mails = (await mailbox.get("/api/messages", params={"to": JAN})).json()["messages"]
    assert mails and mails[0]["subject"] == "Ustawienie nowego hasła – iKsięgowość24"

    # The gateway kept the transcript; a reconnect with the same id may carry on.
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=10) as http:
        stored = (await http.get(f"/api/v1/conversations/{session_id}/messages")).json()
    visitor = [m["text"] for m in stored["messages"] if m["author"] == "visitor"]
    assert visitor == ["nie pamiętam hasła", JAN]
    assert any("link" in m["text"].lower() for m in stored["messages"] if m["author"] == "bot")

    again = RasaWidgetClient()
    assert await again.start(stack.url("gateway"), session_id) == session_id
    await again.close()
