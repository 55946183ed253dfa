"""Settings from the environment, and the production secret guard."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.gateway.settings import DEV_SECRET, Settings, SettingsError

REPO_ROOT = Path(__file__).resolve().parents[2]
STRONG_SECRET = "k" * 32


def test_defaults_when_environment_is_empty():
    settings = Settings.from_env({})

    assert settings == Settings(
        host="127.0.0.1",
        port=8000,
        rasa_url="http://127.0.0.1:5005",
        rasa_timeout_seconds=15.0,
        secret=DEV_SECRET,
        env="development",
    )
    assert settings.secret == "dev-gateway-secret-change-me"


def test_reads_every_variable():
    settings = Settings.from_env(
        {
            "GATEWAY_HOST": "0.0.0.0",
            "GATEWAY_PORT": "8100",
            "RASA_URL": "http://rasa.internal:5005/",
            "RASA_TIMEOUT_SECONDS": "2.5",
            "GATEWAY_SECRET": STRONG_SECRET,
            "POMOCNIK_ENV": "Production",
        }
    )

    assert (settings.host, settings.port) == ("0.0.0.0", 8100)
    assert settings.rasa_url == "http://rasa.internal:5005"  # trailing slash dropped
    assert settings.rasa_timeout_seconds == 2.5
    assert settings.secret == STRONG_SECRET
    assert settings.env == "production"


def test_database_redis_limits_and_origins_from_the_environment():
    settings = Settings.from_env(
        {
            "GATEWAY_DATABASE_URL": "postgresql+asyncpg://gw@db.internal/gateway",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "GATEWAY_SESSION_MESSAGES_PER_MINUTE": "5",
            "GATEWAY_ADDRESS_MESSAGES_PER_MINUTE": "50",
            "GATEWAY_ALLOWED_ORIGINS": "https://www.iksiegowosc24.pl, https://ing.example/",
        }
    )

    assert settings.database_url == "postgresql+asyncpg://gw@db.internal/gateway"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert (settings.session_messages_per_minute, settings.address_messages_per_minute) == (5, 50)
    assert settings.allowed_origins == ("https://www.iksiegowosc24.pl", "https://ing.example")


def test_embedded_defaults_need_no_database_server_nor_redis():
    settings = Settings.from_env({"REDIS_URL": "  ", "GATEWAY_DATABASE_URL": ""})

    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("/var/gateway.db")
    assert settings.redis_url is None
    assert (settings.session_messages_per_minute, settings.address_messages_per_minute) == (20, 60)
    assert settings.allowed_origins == ()


def test_settings_are_immutable():
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize("env", ["production", "staging"])
def test_outside_development_the_default_secret_is_refused(env):
    with pytest.raises(SettingsError, match="GATEWAY_SECRET is the development default"):
        Settings.from_env({"POMOCNIK_ENV": env})


def test_outside_development_a_short_secret_is_refused():
    with pytest.raises(SettingsError, match="at least 32 characters"):
        Settings.from_env({"POMOCNIK_ENV": "production", "GATEWAY_SECRET": "k" * 31})


def test_production_accepts_a_long_secret():
    settings = Settings.from_env({"POMOCNIK_ENV": "production", "GATEWAY_SECRET": STRONG_SECRET})
    assert not settings.is_development


def test_development_accepts_the_default_secret():
    assert Settings.from_env({"POMOCNIK_ENV": "development"}).secret == DEV_SECRET


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GATEWAY_PORT", "http", "GATEWAY_PORT must be a number"),
        ("GATEWAY_PORT", "70000", "GATEWAY_PORT must be between"),
        ("RASA_TIMEOUT_SECONDS", "0", "RASA_TIMEOUT_SECONDS must be greater than 0"),
        ("RASA_URL", "rasa:5005", "RASA_URL must start with http"),
        ("GATEWAY_SECRET", "", "GATEWAY_SECRET must not be empty"),
        ("REDIS_URL", "127.0.0.1:6379", "REDIS_URL must start with redis://"),
        ("GATEWAY_SESSION_MESSAGES_PER_MINUTE", "0", "must be at least 1"),
        ("GATEWAY_ADDRESS_MESSAGES_PER_MINUTE", "many", "must be a number"),
        ("GATEWAY_ALLOWED_ORIGINS", "www.example.pl", "GATEWAY_ALLOWED_ORIGINS must list origins"),
        ("GATEWAY_NLU_INBOX_CONFIDENCE", "1.5", "must be between 0 and 1"),
        ("GATEWAY_NLU_INBOX_CONFIDENCE", "nan", "must be between 0 and 1"),
        ("GATEWAY_NLU_INBOX_CONFIDENCE", "dużo", "must be a number"),
        ("GATEWAY_METRICS_PORT", "-1", "GATEWAY_METRICS_PORT must be between"),
        ("GATEWAY_METRICS_PORT", "8000", "GATEWAY_METRICS_PORT must differ from GATEWAY_PORT"),
    ],
)
def test_invalid_values_are_reported(name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({name: value})


def test_gateway_process_refuses_to_start_in_production_with_default_secret():
    env = {**os.environ, "POMOCNIK_ENV": "production", "GATEWAY_PORT": "0"}
    env.pop("GATEWAY_SECRET", None)

    result = subprocess.run(
        [sys.executable, "-m", "bot.gateway"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert "GATEWAY_SECRET is the development default" in result.stderr
    assert "gateway: http://" not in result.stdout
