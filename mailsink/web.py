"""Web side of the sink: an HTML inbox for people and a JSON API for end-to-end tests.

The SMTP server is started by a listener of this app so both run on one event loop
in one process.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import re
from contextlib import suppress
from functools import partial
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from sanic import Request, Sanic
from sanic.exceptions import NotFound
from sanic.response import HTTPResponse, html, json, raw

from mailsink.settings import Settings
from mailsink.smtp import start_smtp_server
from mailsink.store import MailStore, MessageNotFound

TEMPLATES_DIR = Path(__file__).parent / "templates"
URL_RE = re.compile(r"https?://[^\s<>\"']+")
# Sentence punctuation right after a URL in plain text is almost never part of it.
URL_TRAILING_PUNCTUATION = ".,;:!?)]}'\""
LINK_TEMPLATE = Markup('<a href="{0}" target="_blank" rel="noopener noreferrer">{0}</a>')
SMTP_STOP_TIMEOUT_SECONDS = 5
# Readable Polish text in JSON (curl, logs) instead of \u escapes. Passed per response:
# Sanic(dumps=...) would patch a class attribute and change every app in the process.
JSON_DUMPS = partial(jsonlib.dumps, ensure_ascii=False)


def create_app(settings: Settings, name: str = "mailsink") -> Sanic:
    app = Sanic(name)
    # sanic-ext is installed for other services; the sink needs none of its extras.
    app.config.AUTO_EXTEND = False
    app.ctx.settings = settings
    app.ctx.store = MailStore(settings.mail_dir)
    app.ctx.templates = _template_environment(settings)
    _add_smtp_lifecycle(app)
    _add_html_routes(app)
    _add_api_routes(app)
    _add_error_handlers(app)
    return app


def linkify(text: str) -> Markup:
    """Escape plain text and turn http(s) URLs in it into links."""
    parts: list[str] = []
    position = 0
    for match in URL_RE.finditer(text):
        url = match.group().rstrip(URL_TRAILING_PUNCTUATION)
        parts.append(escape(text[position : match.start()]))
        parts.append(LINK_TEMPLATE.format(url))  # Markup.format escapes the URL
        position = match.start() + len(url)
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def _template_environment(settings: Settings) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True),
    )
    environment.filters["linkify"] = linkify
    environment.globals["smtp_address"] = f"{settings.host}:{settings.smtp_port}"
    return environment


def _render(app: Sanic, template: str, status: int = 200, **context: object) -> HTTPResponse:
    return html(app.ctx.templates.get_template(template).render(**context), status=status)


def _add_smtp_lifecycle(app: Sanic) -> None:
    @app.before_server_start
    async def start_smtp(app: Sanic) -> None:
        settings: Settings = app.ctx.settings
        app.ctx.smtp_server = await start_smtp_server(
            app.ctx.store, settings.host, settings.smtp_port
        )

    @app.after_server_stop
    async def stop_smtp(app: Sanic) -> None:
        server = getattr(app.ctx, "smtp_server", None)
        if server is None:
            return
        server.close()
        # Python 3.12+ waits for open client connections here; never hang shutdown on one.
        with suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), SMTP_STOP_TIMEOUT_SECONDS)


def _add_html_routes(app: Sanic) -> None:
    store: MailStore = app.ctx.store

    @app.get("/")
    async def inbox(request: Request) -> HTTPResponse:
        messages = await asyncio.to_thread(store.list_messages)
        return _render(app, "index.html", messages=messages)

    @app.get("/messages/<name:str>")
    async def message_page(request: Request, name: str) -> HTTPResponse:
        if name.endswith(".eml"):
            return await _download(store, name.removesuffix(".eml"))
        message = await asyncio.to_thread(store.get, name)
        return _render(app, "message.html", message=message)


def _json(body: object, status: int = 200) -> HTTPResponse:
    return json(body, status=status, dumps=JSON_DUMPS)


async def _download(store: MailStore, message_id: str) -> HTTPResponse:
    body = await asyncio.to_thread(store.raw, message_id)
    disposition = f'attachment; filename="{message_id}.eml"'  # id is regex-checked: no quotes
    return raw(body, content_type="message/rfc822", headers={"Content-Disposition": disposition})


def _add_api_routes(app: Sanic) -> None:
    store: MailStore = app.ctx.store

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return _json({"status": "ok"})

    @app.get("/api/messages")
    async def list_messages(request: Request) -> HTTPResponse:
        recipient = request.args.get("to")
        messages = await asyncio.to_thread(store.list_messages, recipient)
        return _json({"messages": [message.to_json() for message in messages]})

    @app.delete("/api/messages")
    async def delete_messages(request: Request) -> HTTPResponse:
        deleted = await asyncio.to_thread(store.clear)
        return _json({"deleted": deleted})

    @app.get("/api/messages/<message_id:str>")
    async def get_message(request: Request, message_id: str) -> HTTPResponse:
        message = await asyncio.to_thread(store.get, message_id)
        return _json(message.to_json())


def _add_error_handlers(app: Sanic) -> None:
    @app.exception(NotFound, MessageNotFound)
    async def not_found(request: Request, exception: Exception) -> HTTPResponse:
        # Same answer for "no such route", "invalid id" and "no such message":
        # nothing about the file system leaks out.
        if request.path.startswith("/api/"):
            return _json({"error": "not found"}, status=404)
        return _render(app, "not_found.html", status=404)
