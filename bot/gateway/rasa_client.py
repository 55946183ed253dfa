"""Client for the Rasa server: the gateway's input channel (``bot/rasa_ext/channel.py``), which
answers the bot's messages and what the turn did, and (with ``RASA_API_TOKEN``) the tracker of a
conversation, read for the advisers' console and tickets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bot.gateway.messages import normalise_bot_messages
from bot.understanding import TurnRecord, marked_message

WEBHOOK = "/webhooks/pomocnik/webhook"

READY_CHECK_TIMEOUT_SECONDS = 3.0
# Slots an adviser may see. An allowlist: the PIN, the codes and the grant are never shown.
VISIBLE_SLOTS = (
    "verified_name",
    "verified_email",
    "email",
    "comarch_id",
    "nip",
    "package",
    "role",
    "person_name",
    "member_email",
    "new_email",
    "device_reason",
    "account_organisation",
    "account_package",
    "account_valid_until",
    "registration_status",
    "handoff_requested",
)


class RasaUnavailable(Exception):
    """Rasa could not be reached, timed out or answered with an error."""


@dataclass(frozen=True)
class RasaAnswer:
    messages: list[dict[str, Any]]  # the bot's messages, normalised
    # What the turn of the gateway's marked message did; None when Rasa did not say (no marker,
    # a turn that failed before it was saved, an older channel): the answer stands without it.
    turn: TurnRecord | None = None


class RasaClient:
    def __init__(
        self, base_url: str, timeout_seconds: float, api_token: str | None = None
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout_seconds
        self._api_token = api_token
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
    ) -> RasaAnswer:
        """Relay a message through the gateway's channel: the bot's messages, and the summary of
        the turn of the message marked in ``metadata`` (``bot.understanding.turn_metadata``)."""
        body = {"sender": sender, "message": text, "metadata": metadata}
        try:
            response = await self._client.post(WEBHOOK, json=body)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"status {response.status_code}")
        try:
            raw = response.json()
        except ValueError as exc:
            raise RasaUnavailable("invalid JSON") from exc
        if not isinstance(raw, dict) or not isinstance(raw.get("messages"), list):
            raise RasaUnavailable("unexpected reply shape")
        message_id = marked_message(metadata)
        turn = TurnRecord.from_dict(raw.get("turn"), message_id) if message_id is not None else None
        return RasaAnswer(normalise_bot_messages(raw["messages"]), turn)

    async def insight(self, sender: str) -> dict[str, Any] | None:
        """What the assistant knows of a conversation: its latest intent, the active form and
        the visible slots. None when Rasa's HTTP API is not enabled or not reachable."""
        tracker = await self._tracker(sender)
        if tracker is None:
            return None
        latest = tracker.get("latest_message") or {}
        intent = (latest.get("intent") or {}).get("name")
        slots = tracker.get("slots") or {}
        return {
            "intent": intent if isinstance(intent, str) else None,
            "active_form": (tracker.get("active_loop") or {}).get("name"),
            "slots": {k: slots[k] for k in VISIBLE_SLOTS if slots.get(k) not in (None, "", [])},
        }

    async def _tracker(self, sender: str) -> dict[str, Any] | None:
        if not self._api_token:
            return None
        try:
            response = await self._client.get(
                f"/conversations/{sender}/tracker",
                params={"include_events": "NONE", "token": self._api_token},
            )
            tracker = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        return tracker if isinstance(tracker, dict) else None

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
