"""Action-server settings, read from the environment in one place.

Variables:
    BACKEND_URL              base URL of the account backend (default http://127.0.0.1:8100)
    BACKEND_SERVICE_TOKEN    bearer token the action server presents to the backend
    BACKEND_TIMEOUT_SECONDS  total timeout of one backend request (default 10)
    POMOCNIK_ENV             deployment environment (default "development"); any other value
                             refuses the well-known development token
    ACTIONS_METRICS_HOST     address of the Prometheus metrics listener (default 127.0.0.1)
    ACTIONS_METRICS_PORT     its port (default 9402; 0 turns the metrics off), never the
                             action server's own port (docs/operations.md)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional

DEFAULT_BACKEND_URL = "http://127.0.0.1:8100"
DEV_BACKEND_SERVICE_TOKEN = "dev-backend-service-token-change-me"
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_METRICS_HOST = "127.0.0.1"
DEFAULT_METRICS_PORT = 9402
DEVELOPMENT = "development"


class ConfigError(RuntimeError):
    """The environment holds an unusable or unsafe configuration."""


@dataclass(frozen=True)
class Settings:
    backend_url: str
    backend_service_token: str
    backend_timeout_seconds: float
    environment: str
    metrics_host: str = DEFAULT_METRICS_HOST
    metrics_port: int = DEFAULT_METRICS_PORT


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

    metrics_host = (env.get("ACTIONS_METRICS_HOST") or "").strip() or DEFAULT_METRICS_HOST
    raw_port = (env.get("ACTIONS_METRICS_PORT") or "").strip()
    try:
        metrics_port = int(raw_port) if raw_port else DEFAULT_METRICS_PORT
    except ValueError as exc:
        raise ConfigError(f"ACTIONS_METRICS_PORT is not a number: {raw_port!r}") from exc
    if not 0 <= metrics_port <= 65535:
        raise ConfigError(f"ACTIONS_METRICS_PORT must be between 0 and 65535, got {metrics_port}")

    return Settings(
        backend_url=backend_url,
        backend_service_token=token,
        backend_timeout_seconds=timeout,
        environment=environment,
        metrics_host=metrics_host,
        metrics_port=metrics_port,
    )
