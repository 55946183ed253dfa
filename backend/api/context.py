"""What a handler reaches on the application: the services built at start-up."""

from __future__ import annotations

from sanic import Request

from backend.services.container import Services


def services(request: Request) -> Services:
    return request.app.ctx.services
