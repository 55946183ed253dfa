"""Demo page, widget files and security headers over real HTTP."""

from __future__ import annotations

import re

import pytest

SCRIPT_TAG = '<script src="/widget/widget.js" defer data-title="Pomocnik"></script>'


async def test_demo_page_looks_like_the_platform_and_embeds_the_widget(client):
    response = await client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert '<html lang="pl">' in html
    assert "iKsięgowość<span>24</span>" in html  # logo text
    assert "Zaloguj się do Panelu Biura" in html
    assert '<nav class="main-nav" aria-label="Menu główne">' in html
    assert html.count("<script") == 1 and SCRIPT_TAG in html


async def test_demo_page_loads_nothing_from_other_origins(client):
    html = (await client.get("/")).text
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "style=" not in html  # inline styles would violate the CSP


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/widget/widget.js", "text/javascript; charset=utf-8"),
        ("/widget/widget.css", "text/css; charset=utf-8"),
        ("/widget/socket.io.min.js", "text/javascript; charset=utf-8"),
        ("/demo/demo.css", "text/css; charset=utf-8"),
    ],
)
async def test_static_files_have_content_type_and_cache_headers(client, path, content_type):
    response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "public, max-age=300"
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["etag"])


async def test_unchanged_file_is_revalidated_with_304(client):
    etag = (await client.get("/widget/widget.js")).headers["etag"]

    response = await client.get("/widget/widget.js", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag


async def test_stale_etag_gets_the_full_file(client):
    response = await client.get("/widget/widget.js", headers={"If-None-Match": '"stale"'})
    assert response.status_code == 200 and response.content


async def test_head_request_sends_headers_only(client):
    response = await client.head("/widget/widget.css")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.content == b""


async def test_widget_script_is_polish_and_self_contained(client):
    script = (await client.get("/widget/widget.js")).text

    for text in [
        "Czat z Pomocnikiem",
        " – asystent iKsięgowość24",
        "Zamknij czat",
        "Twoja wiadomość",
        "Pomocnik pisze…",
        "Dzień dobry! Jestem Pomocnik, asystent iKsięgowość24. W czym mogę pomóc?",
        "Nie pamiętam hasła",
        "Jak się zalogować?",
        '"pomocnik.conversation"',
        'setAttribute("aria-live", "polite")',
        'setAttribute("role", "dialog")',
        'new URL("widget.css", scriptUrl)',  # the script injects its own stylesheet
    ]:
        assert text in script, text
    # The only absolute URL is the SVG namespace, which is an identifier, not a download.
    assert set(re.findall(r"https?://([\w.-]+)", script)) == {"www.w3.org"}


async def test_the_socket_io_client_is_vendored_and_served_by_the_gateway(client):
    script = (await client.get("/widget/socket.io.min.js")).text
    widget = (await client.get("/widget/widget.js")).text

    assert script.startswith("/*!\n * Socket.IO v4.8.4\n")
    assert "Released under the MIT License." in script[:200]
    # The widget loads it from next to itself, never from a CDN.
    assert 'var SOCKET_CLIENT = "socket.io.min.js";' in widget
    assert "new URL(SOCKET_CLIENT, scriptUrl)" in widget
    # It speaks Rasa's channel protocol.
    for event in ['"session_request"', '"session_confirm"', '"user_uttered"', '"pomocnik_history"']:
        assert event in widget


async def test_widget_stylesheet_loads_nothing_external(client):
    css = (await client.get("/widget/widget.css")).text
    assert "@import" not in css and "url(" not in css
    assert "@media (max-width: 480px)" in css  # full-screen panel on phones


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/widget/widget.js"),
        ("GET", "/health"),
        ("POST", "/api/v1/conversations"),
        ("GET", "/nie-ma-takiej-strony"),
        ("PUT", "/health"),
    ],
)
async def test_security_headers_on_every_response(client, method, path):
    response = await client.request(method, path)

    csp = response.headers["content-security-policy"]
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ]:
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"


async def test_security_headers_on_payload_too_large(client, conversation_id):
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        content=b"x" * 20_000,
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in response.headers


async def test_no_sanic_extension_routes_are_exposed(client):
    for path in ["/docs", "/docs/swagger", "/docs/openapi.json"]:
        assert (await client.get(path)).status_code == 404, path
