"""The action server's only way to talk to the account backend (HTTP, never an import).

Usage from an action:

    client = get_backend_client()
    try:
        await client.request_password_reset(email)
    except BackendUnavailable: ...
    except BackendError as err: ...   # err.code, err.message, err.status

Tests point the actions at another backend with `set_backend_client_factory(...)`
and restore the default with `set_backend_client_factory(None)`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

import httpx

from actions.config import Settings, load_settings

logger = logging.getLogger(__name__)

PASSWORD_RESET_PATH = "/api/v1/auth/password-reset"
# Connecting to a loopback/LAN service should be quick; the total budget is the setting.
MAX_CONNECT_TIMEOUT_SECONDS = 3.0


class BackendClientError(Exception):
    """Base class of everything the backend client raises."""


class BackendUnavailable(BackendClientError):
    """Network error, timeout or 5xx: the backend could not answer the request."""

    def __init__(self, reason: str, status: Optional[int] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class BackendError(BackendClientError):
    """The backend answered with a 4xx error (body `{"error": {"code", "message"}}`)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class PasswordResetAccepted:
    """The backend accepted the reset request (it never says whether the account exists)."""

    status: str = "accepted"


def mask_email(email: str) -> str:
    """`jan.kowalski@firma.pl` -> `j***@firma.pl`, for logs."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


class BackendClient:
    def __init__(self, base_url: str, service_token: str, timeout_seconds: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = service_token
        self.timeout = httpx.Timeout(
            timeout_seconds, connect=min(MAX_CONNECT_TIMEOUT_SECONDS, timeout_seconds)
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "BackendClient":
        return cls(
            settings.backend_url,
            settings.backend_service_token,
            settings.backend_timeout_seconds,
        )

    async def request_password_reset(self, email: str) -> PasswordResetAccepted:
        """Asks the backend to e-mail a reset link; raises BackendUnavailable/BackendError."""
        body = await self._post_json(PASSWORD_RESET_PATH, {"email": email})
        status = body.get("status") if isinstance(body, dict) else None
        logger.info("password reset accepted for %s", mask_email(email))
        return PasswordResetAccepted(status=status if isinstance(status, str) else "accepted")

    async def _post_json(self, path: str, payload: Dict[str, Any]) -> Any:
        url = f"{self.base_url}{path}"
        try:
            # trust_env=False: the backend is an internal service, never reached via a proxy.
            async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as http:
                response = await http.post(
                    url,
                    json=payload,
                    headers={
                        "Authorization": f"Bearer {self._token}",
                        "Accept": "application/json",
                    },
                )
        except httpx.TimeoutException as exc:
            logger.warning("backend timeout: POST %s (%s)", path, type(exc).__name__)
            raise BackendUnavailable("timeout") from exc
        except httpx.HTTPError as exc:
            logger.warning("backend unreachable: POST %s (%s)", path, type(exc).__name__)
            raise BackendUnavailable("network_error") from exc

        if response.status_code >= 500:
            logger.warning("backend error: POST %s -> %s", path, response.status_code)
            raise BackendUnavailable("server_error", status=response.status_code)

        body = _json_or_none(response)
        if 200 <= response.status_code < 300:
            return body

        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = error.get("message") if isinstance(error.get("message"), str) else ""
        code = code or f"http_{response.status_code}"
        log = logger.error if response.status_code in (401, 403) else logger.warning
        log("backend rejected POST %s -> %s %s", path, response.status_code, code)
        raise BackendError(code=code, message=message, status=response.status_code)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


ClientFactory = Callable[[], BackendClient]


def _default_factory() -> BackendClient:
    # Settings are read on every call: cheap, and env changes (tests) take effect.
    return BackendClient.from_settings(load_settings())


_client_factory: ClientFactory = _default_factory


def set_backend_client_factory(factory: Optional[ClientFactory]) -> None:
    """Replaces how actions obtain their client; `None` restores the env-based default."""
    global _client_factory
    _client_factory = factory or _default_factory


def get_backend_client() -> BackendClient:
    return _client_factory()
