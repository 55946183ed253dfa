"""Client for the Rasa server's REST channel, the gateway's one outside service."""

from __future__ import annotations

from typing import Any

import httpx

from bot.gateway.messages import normalise_bot_messages

READY_CHECK_TIMEOUT_SECONDS = 3.0


class RasaUnavailable(Exception):
    """Rasa could not be reached, timed out or answered with an error."""


class RasaClient:
    def __init__(self, base_url: str, timeout_seconds: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout_seconds
        self._http: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._http = httpx.AsyncClient(
            base_url=self._base_url,
            timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 5.0)),
            # Rasa sits on the internal network: never route it through an env-configured proxy.
            trust_env=False,
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def send_message(
        self, sender: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        body = {"sender": sender, "message": text, "metadata": metadata}
        try:
            response = await self._client.post("/webhooks/rest/webhook", json=body)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"status {response.status_code}")
        try:
            raw = response.json()
        except ValueError as exc:
            raise RasaUnavailable("invalid JSON") from exc
        if not isinstance(raw, list):
            raise RasaUnavailable("unexpected reply shape")
        return normalise_bot_messages(raw)

    async def is_ready(self) -> bool:
        try:
            timeout = min(self._timeout, READY_CHECK_TIMEOUT_SECONDS)
            response = await self._client.get("/", timeout=timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    @property
    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            raise RuntimeError("RasaClient.start() was not awaited (server not started)")
        return self._http
