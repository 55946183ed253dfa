"""Action-server settings, read from the environment in one place.

Variables:
    BACKEND_URL              base URL of the account backend (default http://127.0.0.1:8100)
    BACKEND_SERVICE_TOKEN    bearer token the action server presents to the backend
    BACKEND_TIMEOUT_SECONDS  total timeout of one backend request (default 10)
    POMOCNIK_ENV             deployment environment (default "development"); any other value
                             refuses the well-known development token
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional

DEFAULT_BACKEND_URL = "http://127.0.0.1:8100"
DEV_BACKEND_SERVICE_TOKEN = "dev-backend-service-token-change-me"
DEFAULT_TIMEOUT_SECONDS = 10.0
DEVELOPMENT = "development"


class ConfigError(RuntimeError):
    """The environment holds an unusable or unsafe configuration."""


@dataclass(frozen=True)
class Settings:
    backend_url: str
    backend_service_token: str
    backend_timeout_seconds: float
    environment: str


def load_settings(environ: Optional[Mapping[str, str]] = None) -> Settings:
    """Reads and checks the settings; raises ConfigError on a bad or unsafe value."""
    env = os.environ if environ is None else environ

    environment = (env.get("POMOCNIK_ENV") or DEVELOPMENT).strip().lower()

    backend_url = (env.get("BACKEND_URL") or DEFAULT_BACKEND_URL).strip().rstrip("/")
    if not backend_url.startswith(("http://", "https://")):
        raise ConfigError(f"BACKEND_URL must start with http:// or https:// (got {backend_url!r})")

    token = env.get("BACKEND_SERVICE_TOKEN")
    token = DEV_BACKEND_SERVICE_TOKEN if token is None else token.strip()
    if not token:
        raise ConfigError("BACKEND_SERVICE_TOKEN must not be empty")
    if environment != DEVELOPMENT and token == DEV_BACKEND_SERVICE_TOKEN:
        raise ConfigError(
            f"POMOCNIK_ENV={environment!r}: set BACKEND_SERVICE_TOKEN, "
            "the development default token is refused outside development"
        )

    raw_timeout = env.get("BACKEND_TIMEOUT_SECONDS")
    try:
        timeout = DEFAULT_TIMEOUT_SECONDS if raw_timeout in (None, "") else float(raw_timeout)
    except ValueError as exc:
        raise ConfigError(f"BACKEND_TIMEOUT_SECONDS is not a number: {raw_timeout!r}") from exc
    if not 0 < timeout <= 120:
        raise ConfigError(f"BACKEND_TIMEOUT_SECONDS must be in (0, 120], got {timeout}")

    return Settings(
        backend_url=backend_url,
        backend_service_token=token,
        backend_timeout_seconds=timeout,
        environment=environment,
    )
