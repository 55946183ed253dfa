"""Demo page and the widget's static files, served from memory with ETags."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sanic import Request, Sanic
from sanic.response import HTTPResponse

PACKAGE_DIR = Path(__file__).parent
# Short max-age: the widget URL is not versioned, so updates must reach browsers soon.
ASSET_CACHE = "public, max-age=300"
PAGE_CACHE = "no-cache"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    cache_control: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'


ASSETS = {
    "/": ("templates/demo.html", "text/html; charset=utf-8", PAGE_CACHE),
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


def register_page_routes(app: Sanic) -> None:
    for uri, (relative_path, content_type, cache_control) in ASSETS.items():
        asset = Asset((PACKAGE_DIR / relative_path).read_bytes(), content_type, cache_control)
        name = "asset_" + relative_path.replace("/", "_").replace(".", "_")
        app.add_route(serve_asset(asset), uri, methods=["GET", "HEAD"], name=name)


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
