"""Hostile JSON never becomes a 500 on the backend: nesting far too deep is 400
``invalid_json``; a lone UTF-16 surrogate or NUL is refused like any invalid value (422
``validation_error``). Every route that takes a body is tried (walked from the app's routes,
so a new endpoint is covered without editing this test), with the service token and a
verification grant so the body is actually read."""

from __future__ import annotations

import re

import httpx
import pytest

DEEP = '{"email": ' + "[" * 7000 + "]" * 7000 + "}"  # ~14 KB, thousands of levels
BARELY_TOO_DEEP = '{"email": "a@b.pl", "x": ' + "[" * 32 + "]" * 32 + "}"
LONE_SURROGATE = '{"email": "jan\\ud800@majafirma.pl", "password": "x", "to": "a@b.pl"}'
SURROGATE_KEY = '{"\\udfff": "x"}'
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
PARAMETER = re.compile(r"<([a-z_]+)(?::([a-z]+))?>")


def error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def changing_routes(app) -> list[tuple[str, str]]:
    def fill(match: re.Match) -> str:
        return "1" if match.group(2) == "int" else "owner"

    found = set()
    for route in app.router.routes:
        for method in sorted(set(route.methods) & CHANGING):
            found.add((method, "/" + PARAMETER.sub(fill, route.path).lstrip("/")))
    return sorted(found)


@pytest.fixture
async def headers(grant_for, jan):
    return {**(await grant_for(jan.email)), "Content-Type": "application/json"}


async def send(http, headers, method: str, path: str, body: str) -> httpx.Response:
    return await http.request(method, path, content=body.encode("utf-8"), headers=headers)


async def test_every_json_route_refuses_deep_json_and_bad_characters(backend, http, headers):
    json_routes = []
    for method, path in changing_routes(backend.app):
        malformed = await send(http, headers, method, path, "{")
        assert malformed.status_code < 500, (method, path, malformed.text)
        if error_code(malformed) == "malformed_json":
            json_routes.append((method, path))

    reached = {path for _, path in json_routes}
    assert {"/api/v1/support/ticket-emails", "/api/v1/auth/login", "/api/v1/registrations",
            "/api/v1/organisation/members"} <= reached, reached
    for method, path in json_routes:
        for body in (DEEP, BARELY_TOO_DEEP):
            response = await send(http, headers, method, path, body)
            assert response.status_code == 400, (method, path, response.text)
            error = response.json()["error"]
            assert error["code"] == "invalid_json"
            assert "zagnieżdżony zbyt głęboko" in error["message"]
        for body in (LONE_SURROGATE, SURROGATE_KEY):
            response = await send(http, headers, method, path, body)
            assert response.status_code == 422, (method, path, response.text)
            assert error_code(response) == "validation_error"
            assert "niesparowany znak zastępczy" in response.json()["error"]["message"]


async def test_no_route_answers_hostile_json_with_a_500(backend, http, headers):
    for method, path in changing_routes(backend.app):
        for body in (DEEP, LONE_SURROGATE, '{"email": "a\\u0000b"}'):
            response = await send(http, headers, method, path, body)
            assert response.status_code < 500, (method, path, body[:20], response.text)
            assert "Traceback" not in response.text
    assert (await http.get("/health")).status_code == 200
