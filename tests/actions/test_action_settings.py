"""actions/config.py: environment settings."""

from __future__ import annotations

import pytest

from actions.config import (
    DEFAULT_BACKEND_URL,
    DEV_BACKEND_SERVICE_TOKEN,
    ConfigError,
    Settings,
    load_settings,
)


def test_defaults_for_development():
    assert load_settings({}) == Settings(
        backend_url=DEFAULT_BACKEND_URL,
        backend_service_token=DEV_BACKEND_SERVICE_TOKEN,
        backend_timeout_seconds=10.0,
        environment="development",
    )
    assert DEFAULT_BACKEND_URL == "http://127.0.0.1:8100"


def test_values_from_environment():
    settings = load_settings(
        {
            "BACKEND_URL": "https://backend.example.pl/",
            "BACKEND_SERVICE_TOKEN": " s3cret ",
            "BACKEND_TIMEOUT_SECONDS": "2.5",
            "POMOCNIK_ENV": "Production",
        }
    )
    assert settings == Settings("https://backend.example.pl", "s3cret", 2.5, "production")


@pytest.mark.parametrize("environment", ["production", "staging", "ci"])
def test_default_token_refused_outside_development(environment):
    with pytest.raises(ConfigError, match="BACKEND_SERVICE_TOKEN"):
        load_settings({"POMOCNIK_ENV": environment})
    with pytest.raises(ConfigError):
        load_settings(
            {"POMOCNIK_ENV": environment, "BACKEND_SERVICE_TOKEN": DEV_BACKEND_SERVICE_TOKEN}
        )


@pytest.mark.parametrize(
    "environ",
    [
        {"BACKEND_SERVICE_TOKEN": "   "},
        {"BACKEND_TIMEOUT_SECONDS": "ten"},
        {"BACKEND_TIMEOUT_SECONDS": "0"},
        {"BACKEND_TIMEOUT_SECONDS": "-1"},
        {"BACKEND_URL": "127.0.0.1:8100"},
    ],
)
def test_bad_values_are_refused(environ):
    with pytest.raises(ConfigError):
        load_settings(environ)


def test_metrics_listener_defaults_to_loopback_and_checks_its_port():
    settings = load_settings({"ACTIONS_METRICS_PORT": "19402"})
    assert (settings.metrics_host, settings.metrics_port) == ("127.0.0.1", 19402)
    assert load_settings({}).metrics_port == 9402
    for bad in ("metrics", "70000"):
        with pytest.raises(ConfigError, match="ACTIONS_METRICS_PORT"):
            load_settings({"ACTIONS_METRICS_PORT": bad})
