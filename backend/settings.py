"""Backend configuration, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEV_SERVICE_TOKEN = "dev-backend-service-token-change-me"
# Keys the request fingerprints stored for Idempotency-Key (HMAC-SHA256): public, development only.
DEV_HMAC_SECRET = "dev-backend-hmac-secret-change-me"
MIN_SECRET_LENGTH = 32
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(RuntimeError):
    """The environment holds a value the backend cannot start with."""


def _number(name: str, default, parse=int, what: str = "an integer"):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {what}, got {raw!r}") from None


def _int(name: str, default: int) -> int:
    return _number(name, default)


def _float(name: str, default: float) -> float:
    return _number(name, default, float, "a number")


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    host: str = "127.0.0.1"
    port: int = 8100
    # Prometheus metrics on a port of their own, never the public one (docs/operations.md);
    # port 0 turns them off.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9401
    public_url: str = "http://localhost:8100"
    database_url: str = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'var' / 'backend.db'}"
    service_token: str = DEV_SERVICE_TOKEN
    hmac_secret: str = DEV_HMAC_SECRET
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    mail_from: str = "iKsięgowość24 <no-reply@iksiegowosc24.pl>"
    reset_token_ttl_minutes: int = 60
    outbox_poll_seconds: float = 2.0
    # How often expired rate-limit hits are deleted (services/rate_limit.purge_forever).
    rate_limit_purge_seconds: float = 600.0
    # How long a sender's claim on an e-mail lasts; a sender that dies mid-send holds the
    # message this long before another replica sends it. One send is bounded to half of it.
    outbox_lease_seconds: float = 60.0
    # Argon2id cost; the defaults are OWASP's minimum for argon2id (19 MiB, t=2, p=1).
    argon2_memory_kib: int = 19456
    argon2_time_cost: int = 2

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        settings = cls(
            environment=env("POMOCNIK_ENV", cls.environment),
            host=env("BACKEND_HOST", cls.host),
            port=_int("BACKEND_PORT", cls.port),
            metrics_host=env("BACKEND_METRICS_HOST", "").strip() or cls.metrics_host,
            metrics_port=_int("BACKEND_METRICS_PORT", cls.metrics_port),
            public_url=env("BACKEND_PUBLIC_URL", cls.public_url).rstrip("/"),
            database_url=env("BACKEND_DATABASE_URL", cls.database_url),
            service_token=env("BACKEND_SERVICE_TOKEN", cls.service_token),
            hmac_secret=env("BACKEND_HMAC_SECRET", cls.hmac_secret),
            smtp_host=env("SMTP_HOST", cls.smtp_host),
            smtp_port=_int("SMTP_PORT", cls.smtp_port),
            mail_from=env("MAIL_FROM", cls.mail_from),
            rate_limit_purge_seconds=_float(
                "BACKEND_RATE_LIMIT_PURGE_SECONDS", cls.rate_limit_purge_seconds
            ),
            outbox_poll_seconds=_float("BACKEND_OUTBOX_POLL_SECONDS", cls.outbox_poll_seconds),
            outbox_lease_seconds=_float("BACKEND_OUTBOX_LEASE_SECONDS", cls.outbox_lease_seconds),
        )
        settings.check()
        return settings

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    def check(self) -> None:
        """Refuse unusable ports anywhere, and outside development the secrets that ship in
        this repository."""
        if not 0 <= self.metrics_port <= 65535:
            raise SettingsError(
                f"BACKEND_METRICS_PORT must be between 0 and 65535, got {self.metrics_port}"
            )
        if self.metrics_port and self.metrics_port == self.port:
            raise SettingsError("BACKEND_METRICS_PORT must differ from BACKEND_PORT")
        for variable, seconds in (
            ("BACKEND_RATE_LIMIT_PURGE_SECONDS", self.rate_limit_purge_seconds),
            ("BACKEND_OUTBOX_POLL_SECONDS", self.outbox_poll_seconds),
            ("BACKEND_OUTBOX_LEASE_SECONDS", self.outbox_lease_seconds),
        ):
            if not seconds > 0:
                raise SettingsError(
                    f"{variable} must be a positive number of seconds, got {seconds}"
                )
        if self.is_development:
            return
        if self.service_token == DEV_SERVICE_TOKEN or len(self.service_token) < MIN_SECRET_LENGTH:
            raise SettingsError(
                "BACKEND_SERVICE_TOKEN must be set to a random value of at least 32 characters "
                f"when POMOCNIK_ENV={self.environment!r}"
            )
        if self.hmac_secret == DEV_HMAC_SECRET or len(self.hmac_secret) < MIN_SECRET_LENGTH:
            raise SettingsError(
                "BACKEND_HMAC_SECRET must be set to a random value of at least 32 characters "
                f"when POMOCNIK_ENV={self.environment!r}"
            )
