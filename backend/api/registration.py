"""registration API (being built)."""

from __future__ import annotations

from sanic import Blueprint

bp = Blueprint("registration_v1", url_prefix="/api/v1")
