"""Gateway configuration read from environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

DEV_SECRET = "dev-gateway-secret-change-me"
# The development defaults of the backend (backend/settings.py) and of Rasa's API (Procfile).
DEV_BACKEND_SERVICE_TOKEN = "dev-backend-service-token-change-me"
DEV_RASA_API_TOKEN = "dev-rasa-api-token-change-me"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'var' / 'gateway.db'}"
MIN_SECRET_LENGTH = 32
DEVELOPMENT = "development"


class SettingsError(ValueError):
    """Configuration is invalid; the gateway must not start."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Prometheus metrics on a port of their own, never the public one (docs/operations.md);
    # port 0 turns them off.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9400
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_seconds: float = 15.0
    secret: str = DEV_SECRET
    env: str = DEVELOPMENT
    database_url: str = DEFAULT_DATABASE_URL
    # Live fan-out between gateway processes; None = in-process (one gateway process).
    redis_url: str | None = None
    # Fixed one-minute windows, counted in the database so every gateway process shares them.
    session_messages_per_minute: int = 20
    address_messages_per_minute: int = 60
    # Origins (scheme://host[:port]) of other sites allowed to open the socket; the gateway's
    # own origin is always allowed.
    allowed_origins: tuple[str, ...] = ()
    # The account backend (verifying signed-in visitors, ticket e-mails): the same variables
    # as the action server. Without a token those features are off.
    backend_url: str = "http://127.0.0.1:8100"
    backend_service_token: str | None = DEV_BACKEND_SERVICE_TOKEN
    # Rasa's HTTP API (rasa run --enable-api --auth-token ...): what the assistant understood,
    # for the advisers and the statistics. Without a token that is not shown.
    rasa_api_token: str | None = DEV_RASA_API_TOKEN
    # Advisers' console sessions.
    agent_session_hours: int = 8
    # The NLU inbox takes a visitor message whose best intent had a lower confidence than this
    # (the fallback, below 0.4 in config.yml, always goes there). By make bench-nlu's numbers
    # (wrong predictions: median 0.73; right ones: 10th percentile 0.76) 0.7 takes about half
    # of the wrong answers and fewer than one right answer in ten.
    nlu_inbox_confidence: float = 0.7
    # Development only: business hours read a clock that starts at this moment (ISO 8601) and
    # runs on, so end-to-end tests can be "after hours" at any real time.
    hours_clock_start: datetime | None = None

    def __post_init__(self) -> None:
        # Validate here so settings built directly (tests, scripts) are checked too.
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"GATEWAY_PORT must be between 0 and 65535, got {self.port}")
        if not 0 <= self.metrics_port <= 65535:
            raise SettingsError(
                f"GATEWAY_METRICS_PORT must be between 0 and 65535, got {self.metrics_port}"
            )
        if self.metrics_port and self.metrics_port == self.port:
            raise SettingsError("GATEWAY_METRICS_PORT must differ from GATEWAY_PORT")
        if not self.metrics_host.strip():
            raise SettingsError("GATEWAY_METRICS_HOST must not be empty")
        if self.rasa_timeout_seconds <= 0:
            raise SettingsError("RASA_TIMEOUT_SECONDS must be greater than 0")
        if not self.rasa_url.startswith(("http://", "https://")):
            raise SettingsError(
                f"RASA_URL must start with http:// or https://, got {self.rasa_url!r}"
            )
        object.__setattr__(self, "rasa_url", self.rasa_url.rstrip("/"))
        if not self.database_url.strip():
            raise SettingsError("GATEWAY_DATABASE_URL must not be empty")
        if self.redis_url is not None and not self.redis_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise SettingsError(
                f"REDIS_URL must start with redis://, rediss:// or unix://, got {self.redis_url!r}"
            )
        for name, value in (
            ("GATEWAY_SESSION_MESSAGES_PER_MINUTE", self.session_messages_per_minute),
            ("GATEWAY_ADDRESS_MESSAGES_PER_MINUTE", self.address_messages_per_minute),
        ):
            if value < 1:
                raise SettingsError(f"{name} must be at least 1, got {value}")
        for origin in self.allowed_origins:
            if not origin.startswith(("http://", "https://")) or origin.endswith("/"):
                raise SettingsError(
                    "GATEWAY_ALLOWED_ORIGINS must list origins like https://www.example.pl "
                    f"(scheme and host, no path), got {origin!r}"
                )
        if self.hours_clock_start is not None and not self.is_development:
            raise SettingsError("GATEWAY_HOURS_CLOCK_START is for development and tests only")
        if self.agent_session_hours < 1:
            raise SettingsError("GATEWAY_AGENT_SESSION_HOURS must be at least 1")
        if not 0 <= self.nlu_inbox_confidence <= 1:
            raise SettingsError("GATEWAY_NLU_INBOX_CONFIDENCE must be between 0 and 1")
        self._check_secret()

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry Secure outside development (local http:// has no TLS)."""
        return not self.is_development

    @property
    def is_development(self) -> bool:
        return self.env == DEVELOPMENT

    def _check_secret(self) -> None:
        if not self.secret:
            raise SettingsError("GATEWAY_SECRET must not be empty")
        if self.is_development:
            return
        # Outside development a known or short secret would let anyone forge conversation ids.
        if self.secret == DEV_SECRET:
            raise SettingsError(
                f"GATEWAY_SECRET is the development default but POMOCNIK_ENV={self.env!r}; "
                "set a random secret, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        if len(self.secret) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"GATEWAY_SECRET must be at least {MIN_SECRET_LENGTH} characters "
                f"when POMOCNIK_ENV={self.env!r} (got {len(self.secret)})"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls.__dataclass_fields__
        return cls(
            host=env.get("GATEWAY_HOST", defaults["host"].default),
            port=_parse(env, "GATEWAY_PORT", int, defaults["port"].default),
            metrics_host=env.get("GATEWAY_METRICS_HOST", "").strip()
            or defaults["metrics_host"].default,
            metrics_port=_parse(env, "GATEWAY_METRICS_PORT", int, defaults["metrics_port"].default),
            rasa_url=env.get("RASA_URL", defaults["rasa_url"].default),
            rasa_timeout_seconds=_parse(
                env, "RASA_TIMEOUT_SECONDS", float, defaults["rasa_timeout_seconds"].default
            ),
            secret=env.get("GATEWAY_SECRET", DEV_SECRET),
            env=env.get("POMOCNIK_ENV", DEVELOPMENT).strip().lower() or DEVELOPMENT,
            database_url=env.get("GATEWAY_DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL,
            redis_url=env.get("REDIS_URL", "").strip() or None,
            session_messages_per_minute=_parse(
                env,
                "GATEWAY_SESSION_MESSAGES_PER_MINUTE",
                int,
                defaults["session_messages_per_minute"].default,
            ),
            address_messages_per_minute=_parse(
                env,
                "GATEWAY_ADDRESS_MESSAGES_PER_MINUTE",
                int,
                defaults["address_messages_per_minute"].default,
            ),
            allowed_origins=tuple(
                origin.strip().rstrip("/")
                for origin in env.get("GATEWAY_ALLOWED_ORIGINS", "").split(",")
                if origin.strip()
            ),
            backend_url=env.get("BACKEND_URL", "").strip() or defaults["backend_url"].default,
            backend_service_token=_token(env, "BACKEND_SERVICE_TOKEN", DEV_BACKEND_SERVICE_TOKEN),
            rasa_api_token=_token(env, "RASA_API_TOKEN", DEV_RASA_API_TOKEN),
            agent_session_hours=_parse(
                env, "GATEWAY_AGENT_SESSION_HOURS", int, defaults["agent_session_hours"].default
            ),
            nlu_inbox_confidence=_parse(
                env, "GATEWAY_NLU_INBOX_CONFIDENCE", float, defaults["nlu_inbox_confidence"].default
            ),
            hours_clock_start=_parse(
                env, "GATEWAY_HOURS_CLOCK_START", datetime.fromisoformat, None
            ),
        )


def _token(env: Mapping[str, str], name: str, development_default: str) -> str | None:
    """A service token; in development the other services' public default is assumed."""
    value = env.get(name, "").strip()
    if value:
        return value
    development = env.get("POMOCNIK_ENV", DEVELOPMENT).strip().lower() in ("", DEVELOPMENT)
    return development_default if development else None


def _parse(env: Mapping[str, str], name: str, kind: type, default):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        expected = "a number" if kind in (int, float) else "an ISO 8601 date and time"
        raise SettingsError(f"{name} must be {expected}, got {raw!r}") from None
