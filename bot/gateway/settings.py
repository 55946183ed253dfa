"""Gateway configuration read from environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEV_SECRET = "dev-gateway-secret-change-me"
MIN_SECRET_LENGTH = 32
DEVELOPMENT = "development"


class SettingsError(ValueError):
    """Configuration is invalid; the gateway must not start."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_seconds: float = 15.0
    secret: str = DEV_SECRET
    env: str = DEVELOPMENT

    def __post_init__(self) -> None:
        # Validate here so settings built directly (tests, scripts) are checked too.
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"GATEWAY_PORT must be between 0 and 65535, got {self.port}")
        if self.rasa_timeout_seconds <= 0:
            raise SettingsError("RASA_TIMEOUT_SECONDS must be greater than 0")
        if not self.rasa_url.startswith(("http://", "https://")):
            raise SettingsError(
                f"RASA_URL must start with http:// or https://, got {self.rasa_url!r}"
            )
        object.__setattr__(self, "rasa_url", self.rasa_url.rstrip("/"))
        self._check_secret()

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
            rasa_url=env.get("RASA_URL", defaults["rasa_url"].default),
            rasa_timeout_seconds=_parse(
                env, "RASA_TIMEOUT_SECONDS", float, defaults["rasa_timeout_seconds"].default
            ),
            secret=env.get("GATEWAY_SECRET", DEV_SECRET),
            env=env.get("POMOCNIK_ENV", DEVELOPMENT).strip().lower() or DEVELOPMENT,
        )


def _parse(env: Mapping[str, str], name: str, kind: type, default):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
