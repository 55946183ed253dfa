"""Strict-Transport-Security on every backend response outside development (JSON, pages,
errors), and not in development (plain http:// on localhost)."""

from __future__ import annotations

from dataclasses import replace

import pytest

HSTS = "max-age=31536000; includeSubDomains"
PATHS = [
    ("GET", "/health"),
    ("GET", "/reset-password?token=x"),
    ("GET", "/nie-ma-takiej-strony"),
    ("POST", "/api/v1/auth/login"),
    ("DELETE", "/health"),
]


@pytest.fixture(params=["development", "production"])
def settings(settings, request):
    return replace(settings, environment=request.param)


async def test_hsts_outside_development_only(backend, http):
    production = backend.settings.environment == "production"
    for method, path in PATHS:
        response = await http.request(method, path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        if production:
            assert response.headers["strict-transport-security"] == HSTS, (method, path)
        else:
            assert "strict-transport-security" not in response.headers, (method, path)
