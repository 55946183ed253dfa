"""Demo page, widget files and security headers over real HTTP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from bot.gateway.pages import DEMO_EMAIL, DEMO_PASSWORD
from harness.http_stub import StubRequest, StubService

SCRIPT_TAG = '<script src="/widget/widget.js" defer data-title="Pomocnik"></script>'


async def test_demo_page_looks_like_the_platform_and_embeds_the_widget(client):
    response = await client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    html = response.text
    assert '<html lang="pl">' in html
    assert "iKsięgowość<span>24</span>" in html  # logo text
    assert '<a class="login-button" href="/demo/logowanie">Zaloguj się do Panelu Biura</a>' in html
    assert '<nav class="main-nav" aria-label="Menu główne">' in html
    assert html.count("<script") == 1 and SCRIPT_TAG in html
    assert "data-session-token" not in html


@pytest.mark.parametrize("path", ["/", "/demo/logowanie"])
async def test_demo_pages_load_nothing_from_other_origins(client, path):
    html = (await client.get(path)).text
    assert not re.search(r'(src|href|action)="(https?:)?//', html)
    assert "style=" not in html  # inline styles would violate the CSP
    assert html.count("<script") == 1  # the widget only, no inline script


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


# ---------------------------------------------------------------- demo sign-in and /panel

JAN_TOKEN = "jan-session-token-0123456789"


@dataclass
class StubBackend(StubService):
    """Stands in for the backend's public login (POST /api/v1/auth/login)."""

    logins: list[dict] = field(default_factory=list)
    name: str | None = "Jan Kowalski"

    def respond(self, request: StubRequest) -> tuple[int, dict]:
        body = request.json()
        self.logins.append(body)
        if body["email"] == "zablokowany@firma.pl":
            return 429, {"error": {"code": "too_many_login_attempts"}}
        if (body["email"], body["password"]) == (DEMO_EMAIL, DEMO_PASSWORD):
            return 200, {
                "account": {"id": 1, "email": DEMO_EMAIL, "name": self.name},
                "session": {"token": JAN_TOKEN, "expires_at": "2026-11-22T08:00:00Z"},
            }
        return 401, {"error": {"code": "invalid_credentials"}}


@pytest.fixture
async def backend() -> AsyncIterator[StubBackend]:
    async with StubBackend() as stub:
        yield stub


@pytest.fixture
async def demo(stub_rasa, backend, start_gateway, make_settings) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway whose backend is the stub above; the client keeps cookies like a browser."""
    settings = make_settings(
        stub_rasa.url, backend_url=backend.url, backend_service_token="service-token"
    )
    async with start_gateway(settings) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=10) as http:
            yield http


async def csrf_of(http: httpx.AsyncClient, path: str = "/demo/logowanie") -> str:
    html = (await http.get(path)).text
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def sign_in(http: httpx.AsyncClient, email=DEMO_EMAIL, password=DEMO_PASSWORD, csrf=None):
    token = csrf if csrf is not None else await csrf_of(http)
    return await http.post(
        "/demo/logowanie", data={"email": email, "password": password, "csrf_token": token}
    )


def test_the_demo_hint_is_the_real_demo_account():
    from backend.demo_data import JAN_KOWALSKI

    assert (DEMO_EMAIL, DEMO_PASSWORD) == (JAN_KOWALSKI.email, JAN_KOWALSKI.password)


async def test_sign_in_page_is_a_labelled_form_with_the_demo_account(demo):
    response = await demo.get("/demo/logowanie")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert '<form class="auth-form" method="post" action="/demo/logowanie" novalidate>' in html
    assert '<label for="email">E-mail</label>' in html and 'id="email" name="email" type="email"' in html
    assert '<label for="password">Hasło</label>' in html and 'type="password"' in html
    assert 'autocomplete="current-password"' in html
    assert f"Konto demonstracyjne:</strong> e-mail {DEMO_EMAIL}" in html
    assert "Faktura#2026" in html
    # Double-submit token: the same random value in an HttpOnly cookie and a hidden field.
    cookie = response.cookies["pomocnik_demo_csrf"]
    assert len(cookie) >= 32 and f'name="csrf_token" value="{cookie}"' in html
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    assert "secure" not in set_cookie  # development runs on http://
    # The token stays the same while the cookie lives (several tabs, the back button).
    assert await csrf_of(demo) == cookie


async def test_signing_in_sets_the_session_cookie_and_opens_the_panel(demo, backend):
    response = await sign_in(demo)

    assert response.status_code == 303 and response.headers["location"] == "/panel"
    assert backend.logins == [{"email": DEMO_EMAIL, "password": DEMO_PASSWORD}]
    session_cookie = next(
        header for header in response.headers.get_list("set-cookie")
        if header.startswith("pomocnik_demo_session=")
    )
    assert session_cookie.startswith(f"pomocnik_demo_session={JAN_TOKEN};")
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Secure" not in session_cookie

    panel = await demo.get("/panel")
    assert panel.status_code == 200
    assert panel.headers["cache-control"] == "no-store"  # the page carries the token
    html = panel.text
    assert "Zalogowano: <strong>Jan Kowalski</strong>" in html
    assert (
        '<script src="/widget/widget.js" defer data-title="Pomocnik" '
        f'data-session-token="{JAN_TOKEN}"></script>'
    ) in html
    assert html.count("<script") == 1 and "style=" not in html
    assert '<form method="post" action="/demo/wyloguj">' in html
    assert '<button class="logout-button" type="submit">Wyloguj</button>' in html


async def test_panel_without_a_session_goes_to_the_sign_in_page(demo):
    response = await demo.get("/panel")

    assert response.status_code == 303 and response.headers["location"] == "/demo/logowanie"


async def test_signing_out_clears_the_session(demo):
    await sign_in(demo)
    csrf = await csrf_of(demo, "/panel")

    response = await demo.post("/demo/wyloguj", data={"csrf_token": csrf})

    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "pomocnik_demo_session" not in demo.cookies
    assert (await demo.get("/panel")).status_code == 303


async def test_forms_without_the_matching_token_are_refused(demo, backend):
    await csrf_of(demo)  # the browser has a token cookie; the forged form does not know it

    refused = await sign_in(demo, csrf="a-guessed-token-" + "x" * 30)
    assert refused.status_code == 403
    assert "Formularz wygasł" in refused.text
    assert backend.logins == []  # never reached the backend

    await sign_in(demo)
    logout = await demo.post("/demo/wyloguj", data={"csrf_token": "wrong"})
    assert logout.headers["location"] == "/panel"
    assert demo.cookies.get("pomocnik_demo_session") == JAN_TOKEN  # still signed in


@pytest.mark.parametrize(
    ("email", "password", "status", "message"),
    [
        (DEMO_EMAIL, "zle-haslo", 401, "Nieprawidłowy adres e-mail lub hasło."),
        ("zablokowany@firma.pl", "TajneHaslo#1", 429, "Zbyt wiele nieudanych prób logowania."),
        ("", "", 422, "Podaj adres e-mail i hasło."),
    ],
)
async def test_failed_sign_in_says_why_in_polish_and_keeps_the_address(
    demo, email, password, status, message
):
    response = await sign_in(demo, email, password)

    assert response.status_code == status
    assert message in response.text and 'role="alert"' in response.text
    assert f'value="{email}"' in response.text
    assert password not in response.text or not password
    assert "pomocnik_demo_session" not in demo.cookies


async def test_sign_in_when_the_backend_is_down(stub_rasa, start_gateway, make_settings, closed_port):
    settings = make_settings(
        stub_rasa.url,
        backend_url=f"http://127.0.0.1:{closed_port}",
        backend_service_token="service-token",
    )
    async with start_gateway(settings) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            response = await sign_in(http)

    assert response.status_code == 503
    assert "Nie udało się połączyć z systemem logowania" in response.text


async def test_sign_in_without_a_configured_backend(stub_rasa, start_gateway, make_settings):
    # No BACKEND_SERVICE_TOKEN (outside development), hence no backend client.
    async with start_gateway(make_settings(stub_rasa.url, backend_service_token=None)) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            response = await sign_in(http)

    assert response.status_code == 503
    assert "nie ma połączenia z systemem kont" in response.text


async def test_the_name_is_escaped_on_the_panel(stub_rasa, backend, start_gateway, make_settings):
    backend.name = '<img src=x onerror="alert(1)">'
    settings = make_settings(
        stub_rasa.url, backend_url=backend.url, backend_service_token="service-token"
    )
    async with start_gateway(settings) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            response = await sign_in(http)
            panel = await http.get("/panel")

    assert response.status_code == 303
    assert "<img" not in panel.text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in panel.text


async def test_an_account_without_a_name_is_shown_by_its_email(
    stub_rasa, backend, start_gateway, make_settings
):
    """Someone invited by e-mail and role only may have no name (the backend answers null)."""
    backend.name = None
    settings = make_settings(
        stub_rasa.url, backend_url=backend.url, backend_service_token="service-token"
    )
    async with start_gateway(settings) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            response = await sign_in(http)
            panel = await http.get("/panel")

    assert response.status_code == 303
    assert f"Zalogowano: <strong>{DEMO_EMAIL}</strong>" in panel.text
    assert "None" not in panel.text


async def test_the_demo_sign_in_exists_only_in_development(
    stub_rasa, backend, start_gateway, make_settings
):
    settings = make_settings(
        stub_rasa.url,
        backend_url=backend.url,
        backend_service_token="service-token",
        env="production",
        secret="s" * 48,
    )
    async with start_gateway(settings) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            home = await http.get("/")
            answers = [
                (await http.get("/demo/logowanie")).status_code,
                (await http.post("/demo/logowanie", data={"email": DEMO_EMAIL,
                                                          "password": DEMO_PASSWORD})).status_code,
                (await http.get("/panel")).status_code,
                (await http.post("/demo/wyloguj")).status_code,
            ]

    assert home.status_code == 200  # the page with the widget stays, without the sign-in button
    assert "/demo/logowanie" not in home.text
    assert answers == [404, 404, 404, 404]
    assert backend.logins == []
