"""The action server's only way to talk to the account backend (HTTP, never an import).

Usage from an action:

    client = get_backend_client()
    try:
        await client.request_password_reset(email)
    except BackendUnavailable: ...
    except BackendError as err: ...   # err.code, err.message, err.status, err.details

One method per backend operation (see docs/backend.md). Methods return the JSON body of the
answer as a dict; operations on behalf of a verified chat user take the verification grant.

Tests point the actions at another backend with `set_backend_client_factory(...)`
and restore the default with `set_backend_client_factory(None)`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Union

import httpx

from actions.config import Settings, load_settings

logger = logging.getLogger(__name__)

PASSWORD_RESET_PATH = "/api/v1/auth/password-reset"
VERIFICATION_CODES_PATH = "/api/v1/verification/codes"
CODES_LIMITED_CODE = "verification_codes_limited"
GRANT_HEADER = "X-Verification-Grant"
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

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        details: Optional[List[Any]] = None,
        details_map: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        # e.g. [{"field": "nip", "code": "invalid_nip", "message": "..."}] for 422 answers
        self.details = details or []
        # details given as an object, e.g. {"attempts_left": 3} (invalid_code) or
        # {"retry_after_seconds": 600} (429 answers)
        self.details_map = details_map or {}


@dataclass(frozen=True)
class PasswordResetAccepted:
    """The backend accepted the reset request (it never says whether the account exists)."""

    status: str = "accepted"


@dataclass(frozen=True)
class CodeRequestAccepted:
    """The backend accepted the code request: a code is on its way if the account exists."""


@dataclass(frozen=True)
class CodeRequestLimited:
    """A limit refused the code request (429 `verification_codes_limited`): nothing was sent.

    `retry_after_seconds` is the backend's `details.retry_after_seconds` (None if missing)."""

    retry_after_seconds: Optional[int] = None

    @property
    def retry_after_minutes(self) -> Optional[int]:
        """Whole minutes to wait, rounded up (at least 1); None when the backend did not say."""
        if self.retry_after_seconds is None:
            return None
        return max(1, math.ceil(self.retry_after_seconds / 60))


CodeRequestOutcome = Union[CodeRequestAccepted, CodeRequestLimited]

# Who asks, sent with the requests the backend limits per conversation and network:
# {"conversation": <sender id>, "network": <client network, omitted when unknown>}.
Requester = Dict[str, str]


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

    # --- account access ---------------------------------------------------------------

    async def request_password_reset(self, email: str) -> PasswordResetAccepted:
        """Asks the backend to e-mail a reset link; raises BackendUnavailable/BackendError."""
        body = await self._request("POST", PASSWORD_RESET_PATH, {"email": email})
        status = body.get("status") if isinstance(body, dict) else None
        logger.info("password reset accepted for %s", mask_email(email))
        return PasswordResetAccepted(status=status if isinstance(status, str) else "accepted")

    async def register(
        self,
        registration: Dict[str, Any],
        idempotency_key: str,
        requester: Optional[Requester] = None,
    ) -> Dict[str, Any]:
        """POST /registrations: email, comarch_id, pin, nip, full_name, package, terms_accepted
        (and `requester`, who asks, when given).

        Answers `{"status": "account_created"|"existing_account"|"already_active", "message",
        "activation_email", "package", "valid_until", ...}`;
        the retry of a lost answer with the same key returns the first answer.
        """
        return await self._request(
            "POST",
            "/api/v1/registrations",
            _with_requester(registration, requester),
            idempotency_key=idempotency_key,
        )

    async def resend_activation(
        self, email: str, requester: Optional[Requester] = None
    ) -> Dict[str, Any]:
        """The same 202 for unknown, activated and over-the-limit addresses."""
        return await self._request(
            "POST",
            "/api/v1/auth/activation/resend",
            _with_requester({"email": email}, requester),
        )

    # --- identity (chat verification codes -> grant) ----------------------------------

    async def request_verification_code(
        self, email: str, requester: Optional[Requester] = None
    ) -> CodeRequestOutcome:
        """E-mails a 6-digit code if the account exists (the answer never says).

        Returns `CodeRequestLimited` when a limit refused the request (nothing was sent);
        raises BackendUnavailable / BackendError for everything else."""
        try:
            await self._request(
                "POST", VERIFICATION_CODES_PATH, _with_requester({"email": email}, requester)
            )
        except BackendError as exc:
            if exc.status == 429 or exc.code == CODES_LIMITED_CODE:
                retry = exc.details_map.get("retry_after_seconds")
                valid = isinstance(retry, (int, float)) and not isinstance(retry, bool)
                return CodeRequestLimited(
                    retry_after_seconds=int(math.ceil(retry)) if valid and retry >= 0 else None
                )
            raise
        return CodeRequestAccepted()

    async def check_verification_code(self, email: str, code: str) -> Dict[str, Any]:
        """`{"grant", "expires_at", "account": {"name", "email"}}`; 4xx `invalid_code`,
        `code_expired`, `code_format`."""
        return await self._request(
            "POST", "/api/v1/verification/codes/check", {"email": email, "code": code}
        )

    # --- packages ------------------------------------------------------------------------

    async def packages(self) -> Dict[str, Any]:
        """The public price list `{"packages": [...], "note"}`."""
        return await self._request("GET", "/api/v1/packages")

    async def subscription(self, grant: str) -> Dict[str, Any]:
        return await self._request("GET", "/api/v1/account/subscription", grant=grant)

    async def quote_package_change(self, grant: str, package: str) -> Dict[str, Any]:
        """What `change_package` would do and charge now (nothing changes): `{"change",
        "current_package", "new_package", "cancelled_package", "in_trial", "valid_until",
        "effective_from", "payment", "warnings"}`; refuses like the change."""
        return await self._request(
            "POST", "/api/v1/account/subscription/change/quote", {"package": package}, grant=grant
        )

    async def change_package(
        self, grant: str, package: str, idempotency_key: str
    ) -> Dict[str, Any]:
        return await self._request(
            "POST",
            "/api/v1/account/subscription/change",
            {"package": package},
            grant=grant,
            idempotency_key=idempotency_key,
        )

    # --- mobile device -----------------------------------------------------------------

    async def paired_device(self, grant: str) -> Dict[str, Any]:
        """`{"device": {...} | None}`."""
        return await self._request("GET", "/api/v1/account/device", grant=grant)

    async def remove_device(self, grant: str, reason: str) -> Dict[str, Any]:
        return await self._request(
            "DELETE", "/api/v1/account/device", {"reason": reason}, grant=grant
        )

    # --- company users -------------------------------------------------------------------

    async def roles(self) -> Dict[str, Any]:
        """`{"roles": [{"code", "label", "description", "permissions", "assignable", ...}]}`."""
        return await self._request("GET", "/api/v1/roles")

    async def members(self, grant: str) -> Dict[str, Any]:
        return await self._request("GET", "/api/v1/organisation/members", grant=grant)

    async def add_member(
        self, grant: str, email: str, name: Optional[str], role: str, idempotency_key: str
    ) -> Dict[str, Any]:
        """Add a user by e-mail and role; the name only when one was given (an invited person
        without one gives it on the activation page)."""
        body: Dict[str, Any] = {"email": email, "role": role}
        if name:
            body["name"] = name
        return await self._request(
            "POST",
            "/api/v1/organisation/members",
            body,
            grant=grant,
            idempotency_key=idempotency_key,
        )

    async def change_member_role(self, grant: str, member_id: int, role: str) -> Dict[str, Any]:
        return await self._request(
            "PATCH", f"/api/v1/organisation/members/{int(member_id)}", {"role": role}, grant=grant
        )

    async def remove_member(self, grant: str, member_id: int) -> Dict[str, Any]:
        return await self._request(
            "DELETE", f"/api/v1/organisation/members/{int(member_id)}", grant=grant
        )

    async def change_member_email(
        self, grant: str, member_id: Optional[int], new_email: str, idempotency_key: str
    ) -> Dict[str, Any]:
        """`member_id=None` changes the verified person's own login e-mail."""
        target = "me" if member_id is None else str(int(member_id))
        return await self._request(
            "POST",
            f"/api/v1/organisation/members/{target}/email-change",
            {"new_email": new_email},
            grant=grant,
            idempotency_key=idempotency_key,
        )

    # --- transport -----------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        payload: Optional[Dict[str, Any]] = None,
        *,
        grant: Optional[str] = None,
        idempotency_key: Optional[str] = None,
    ) -> Any:
        """Sends one request; returns the JSON body of a 2xx answer.

        Raises BackendUnavailable (network, timeout, 5xx) or BackendError (4xx with the
        backend's stable code). Neither the payload nor the grant is ever logged.
        """
        url = f"{self.base_url}{path}"
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if grant:
            headers[GRANT_HEADER] = grant
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            # trust_env=False: the backend is an internal service, never reached via a proxy.
            async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as http:
                response = await http.request(method, url, json=payload, headers=headers)
        except httpx.TimeoutException as exc:
            logger.warning("backend timeout: %s %s (%s)", method, path, type(exc).__name__)
            raise BackendUnavailable("timeout") from exc
        except httpx.HTTPError as exc:
            logger.warning("backend unreachable: %s %s (%s)", method, path, type(exc).__name__)
            raise BackendUnavailable("network_error") from exc

        if response.status_code >= 500:
            logger.warning("backend error: %s %s -> %s", method, path, response.status_code)
            raise BackendUnavailable("server_error", status=response.status_code)

        body = _json_or_none(response)
        if 200 <= response.status_code < 300:
            return body if body is not None else {}

        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = error.get("message") if isinstance(error.get("message"), str) else ""
        details = error.get("details") if isinstance(error.get("details"), list) else []
        details_map = error.get("details") if isinstance(error.get("details"), dict) else {}
        code = code or f"http_{response.status_code}"
        log = logger.error if response.status_code == 403 else logger.warning
        if code == "verification_required":
            log = logger.info  # an expired grant is routine
        log("backend rejected %s %s -> %s %s", method, path, response.status_code, code)
        raise BackendError(
            code=code,
            message=message,
            status=response.status_code,
            details=details,
            details_map=details_map,
        )


def _with_requester(body: Dict[str, Any], requester: Optional[Requester]) -> Dict[str, Any]:
    return {**body, "requester": dict(requester)} if requester else dict(body)


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
