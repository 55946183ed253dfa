"""Demo pages and the widget's static files.

Static files (and the public demo page, rendered once) are served from memory with ETags.
The demo also plays the platform's sign-in, so the widget can be tried as a signed-in user:

- ``GET /demo/logowanie``: the sign-in form (e-mail, password), with the demo account as a hint;
- ``POST /demo/logowanie``: signs in at the backend (``POST /api/v1/auth/login``); on success the
  session token goes into an HttpOnly cookie and the browser is sent to ``/panel``;
- ``GET /panel``: the page of a signed-in user; its widget tag carries ``data-session-token``
  (the widget hands it to the gateway, which verifies it with the backend);
- ``POST /demo/wyloguj``: clears the cookies.

The forms are protected against cross-site requests by a double-submit token: a random value
in a cookie and in a hidden field, compared on POST.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Request, Sanic
from sanic.response import HTTPResponse, redirect

from bot.gateway.backend_client import BackendRefused, BackendUnavailable

PACKAGE_DIR = Path(__file__).parent
# Short max-age: the widget URL is not versioned, so updates must reach browsers soon.
ASSET_CACHE = "public, max-age=300"
PAGE_CACHE = "no-cache"
# Pages with a session token or a form token in them are never stored.
PRIVATE_PAGE_CACHE = "no-store"
HTML = "text/html; charset=utf-8"

SESSION_COOKIE = "pomocnik_demo_session"
NAME_COOKIE = "pomocnik_demo_name"
CSRF_COOKIE = "pomocnik_demo_csrf"
CSRF_FIELD = "csrf_token"
MAX_TOKEN_LENGTH = 200
MAX_NAME_LENGTH = 120

# The demo account (backend/demo_data.py, JAN_KOWALSKI; a test keeps them equal). Shown on the
# sign-in page as a hint for testers.
DEMO_EMAIL = "jan.kowalski@majafirma.pl"
DEMO_PASSWORD = "Faktura#2026"

LOGIN_ERRORS = {
    "missing": "Podaj adres e-mail i hasło.",
    "invalid": "Nieprawidłowy adres e-mail lub hasło.",
    "locked": "Zbyt wiele nieudanych prób logowania. Odczekaj 15 minut i spróbuj ponownie.",
    "unavailable": "Nie udało się połączyć z systemem logowania. Spróbuj ponownie za chwilę.",
    "not_configured": (
        "Logowanie jest niedostępne: ta instalacja czatu nie ma połączenia z systemem kont "
        "(ustaw BACKEND_URL i BACKEND_SERVICE_TOKEN)."
    ),
    "csrf": "Formularz wygasł. Spróbuj ponownie – wpisz dane jeszcze raz.",
}

templates = Environment(
    loader=FileSystemLoader(PACKAGE_DIR / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    cache_control: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'


STATIC_FILES = {
    "/widget/widget.js": ("static/widget.js", "text/javascript; charset=utf-8", ASSET_CACHE),
    "/widget/widget.css": ("static/widget.css", "text/css; charset=utf-8", ASSET_CACHE),
    # The official socket.io browser client (MIT), vendored: see static/vendor/README.md.
    "/widget/socket.io.min.js": (
        "static/vendor/socket.io.min.js",
        "text/javascript; charset=utf-8",
        ASSET_CACHE,
    ),
    "/demo/demo.css": ("static/demo.css", "text/css; charset=utf-8", ASSET_CACHE),
}


def register_page_routes(app: Sanic, *, demo_sign_in: bool) -> None:
    """The demo page and static files; the demo sign-in (``/demo/logowanie``, ``/panel``,
    ``/demo/wyloguj``) only when ``demo_sign_in`` (development: it signs in as the demo account
    from a hint on the page, which a real deployment must not offer)."""
    home = Asset(render("demo.html", demo_sign_in=demo_sign_in).encode("utf-8"), HTML, PAGE_CACHE)
    app.add_route(serve_asset(home), "/", methods=["GET", "HEAD"], name="demo_home")
    for uri, (relative_path, content_type, cache_control) in STATIC_FILES.items():
        asset = Asset((PACKAGE_DIR / relative_path).read_bytes(), content_type, cache_control)
        name = "asset_" + relative_path.replace("/", "_").replace(".", "_")
        app.add_route(serve_asset(asset), uri, methods=["GET", "HEAD"], name=name)
    if not demo_sign_in:
        return
    app.add_route(login_page, "/demo/logowanie", methods=["GET", "POST"], name="demo_login")
    app.add_route(panel_page, "/panel", methods=["GET"], name="demo_panel")
    app.add_route(logout, "/demo/wyloguj", methods=["POST"], name="demo_logout")


def render(template: str, **context: Any) -> str:
    return templates.get_template(template).render(**context)


def serve_asset(asset: Asset):
    async def handler(request: Request) -> HTTPResponse:
        headers = {"ETag": asset.etag, "Cache-Control": asset.cache_control}
        if asset.etag in _if_none_match(request):
            return HTTPResponse(status=304, headers=headers)
        return HTTPResponse(asset.body, headers=headers, content_type=asset.content_type)

    return handler


def _if_none_match(request: Request) -> set[str]:
    header = request.headers.get("if-none-match", "")
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


# ---------------------------------------------------------------- demo sign-in


async def login_page(request: Request) -> HTTPResponse:
    if request.method == "GET":
        return _login_form(request)
    if not _csrf_ok(request):
        return _login_form(request, "csrf", status=403, renew_csrf=True)
    email = (request.form.get("email") or "").strip()[:320]
    password = request.form.get("password") or ""
    if not email or not password:
        return _login_form(request, "missing", email=email, status=422)
    backend = getattr(request.app.ctx, "backend", None)
    if backend is None:
        return _login_form(request, "not_configured", email=email, status=503)
    try:
        signed_in = await backend.login(email, password)
    except BackendRefused:
        return _login_form(request, "locked", email=email, status=429)
    except BackendUnavailable:
        return _login_form(request, "unavailable", email=email, status=503)
    if signed_in is None:
        return _login_form(request, "invalid", email=email, status=401)
    name, token = signed_in
    response = redirect("/panel", status=303)
    _set_cookie(request, response, SESSION_COOKIE, token)
    _set_cookie(request, response, NAME_COOKIE, quote(name[:MAX_NAME_LENGTH], safe=""))
    return response


async def panel_page(request: Request) -> HTTPResponse:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return redirect("/demo/logowanie", status=303)
    name = unquote(request.cookies.get(NAME_COOKIE, ""))[:MAX_NAME_LENGTH]
    csrf = _csrf_token(request)
    html = render("demo_panel.html", name=name, session_token=token, csrf_token=csrf)
    return _page(request, html, csrf=csrf)


async def logout(request: Request) -> HTTPResponse:
    if not _csrf_ok(request):
        return redirect("/panel", status=303)
    token = request.cookies.get(SESSION_COOKIE)
    backend = request.app.ctx.backend
    if token and backend is not None:
        with contextlib.suppress(BackendUnavailable):  # the cookie goes anyway
            await backend.logout(token)
    response = redirect("/", status=303)
    for cookie in (SESSION_COOKIE, NAME_COOKIE):
        response.delete_cookie(cookie, path="/")
    return response


def _login_form(
    request: Request,
    error: str | None = None,
    *,
    email: str = "",
    status: int = 200,
    renew_csrf: bool = False,
) -> HTTPResponse:
    csrf = _csrf_token(request, renew=renew_csrf)
    html = render(
        "demo_login.html",
        error=LOGIN_ERRORS.get(error) if error else None,
        email=email,
        csrf_token=csrf,
        demo_email=DEMO_EMAIL,
        demo_password=DEMO_PASSWORD,
    )
    return _page(request, html, status=status, csrf=csrf)


def _page(request: Request, html: str, *, status: int = 200, csrf: str) -> HTTPResponse:
    response = HTTPResponse(
        html, status=status, content_type=HTML, headers={"Cache-Control": PRIVATE_PAGE_CACHE}
    )
    if request.cookies.get(CSRF_COOKIE) != csrf:
        _set_cookie(request, response, CSRF_COOKIE, csrf, samesite="Strict")
    return response


def _csrf_token(request: Request, renew: bool = False) -> str:
    """The form token of this browser (from its cookie), or a new one."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if not renew and 32 <= len(current) <= 64:
        return current
    return secrets.token_urlsafe(32)


def _csrf_ok(request: Request) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    field = (request.form or {}).get(CSRF_FIELD) or ""
    return bool(cookie) and hmac.compare_digest(cookie.encode(), field.encode())


def _set_cookie(
    request: Request, response: HTTPResponse, name: str, value: str, samesite: str = "Lax"
) -> None:
    response.add_cookie(
        name,
        value,
        path="/",
        httponly=True,
        samesite=samesite,
        secure=request.app.ctx.settings.secure_cookies,
    )
