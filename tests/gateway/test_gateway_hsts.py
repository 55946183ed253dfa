"""Strict-Transport-Security on every gateway response outside development (API, pages,
assets, errors, the console), and not in development (plain http:// on localhost)."""

from __future__ import annotations

import httpx
import pytest

HSTS = "max-age=31536000; includeSubDomains"
PATHS = [
    ("GET", "/health"),
    ("POST", "/api/v1/conversations"),
    ("GET", "/"),
    ("GET", "/static/widget.js"),
    ("GET", "/agent/login"),
    ("GET", "/nie-ma-takiej-strony"),
    ("DELETE", "/health"),
    ("POST", "/api/v1/conversations/zly-identyfikator/messages"),
]


@pytest.mark.parametrize("env", ["development", "production"])
async def test_hsts_outside_development_only(stub_rasa, make_settings, start_gateway, env):
    async with start_gateway(make_settings(stub_rasa.url, env=env)) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            for method, path in PATHS:
                response = await http.request(method, path, json={"text": "x"})
                assert response.headers["x-content-type-options"] == "nosniff", path
                if env == "production":
                    assert response.headers["strict-transport-security"] == HSTS, (method, path)
                else:
                    assert "strict-transport-security" not in response.headers, (method, path)
