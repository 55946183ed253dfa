"""verification API (being built)."""

from __future__ import annotations

from sanic import Blueprint

bp = Blueprint("verification_v1", url_prefix="/api/v1/verification")
