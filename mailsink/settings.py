"""Configuration of the development mail sink, read from environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """Raised when an environment variable holds a value the sink cannot use."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    smtp_port: int = 1025
    web_port: int = 8025
    mail_dir: Path = Path("var/mail")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            host=_read_host(env, "MAILSINK_HOST", cls.host),
            smtp_port=_read_port(env, "MAILSINK_SMTP_PORT", cls.smtp_port),
            web_port=_read_port(env, "MAILSINK_WEB_PORT", cls.web_port),
            mail_dir=_read_dir(env, "MAILSINK_DIR", cls.mail_dir),
        )


def _read_host(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def _read_port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer port number, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise SettingsError(f"{name} must be between 1 and 65535, got {port}")
    return port


def _read_dir(env: Mapping[str, str], name: str, default: Path) -> Path:
    raw = env.get(name, "").strip()
    return Path(raw) if raw else default
