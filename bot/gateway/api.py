"""JSON API handlers: conversations, messages and health checks."""

from __future__ import annotations

import json
import logging

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from bot.gateway.conversations import log_prefix
from bot.gateway.errors import MAX_TEXT_LENGTH, ApiError
from bot.gateway.rasa_client import RasaUnavailable

logger = logging.getLogger("pomocnik.gateway")


def register_api_routes(app: Sanic) -> None:
    app.add_route(create_conversation, "/api/v1/conversations", methods=["POST"])
    app.add_route(
        post_message, "/api/v1/conversations/<conversation_id:str>/messages", methods=["POST"]
    )
    app.add_route(health, "/health", methods=["GET"])
    app.add_route(readiness, "/health/ready", methods=["GET"])


async def create_conversation(request: Request) -> HTTPResponse:
    conversation_id = await request.app.ctx.conversations.start()
    return json_response({"conversation_id": conversation_id}, status=201)


async def post_message(request: Request, conversation_id: str) -> HTTPResponse:
    if not await request.app.ctx.conversations.exists(conversation_id):
        raise ApiError(404, "conversation_not_found")
    text = read_message_text(request)
    try:
        # Metadata stays empty until the widget has something (e.g. login state) to pass on.
        messages = await request.app.ctx.rasa.send_message(conversation_id, text, metadata={})
    except RasaUnavailable as exc:
        logger.warning("rasa unavailable conv=%s reason=%s", log_prefix(conversation_id), exc)
        raise ApiError(503, "assistant_unavailable") from None
    return json_response({"messages": messages})


async def health(request: Request) -> HTTPResponse:
    return json_response({"status": "ok"})


async def readiness(request: Request) -> HTTPResponse:
    if await request.app.ctx.rasa.is_ready():
        return json_response({"status": "ok", "checks": {"rasa": "ok"}})
    return json_response({"status": "unavailable", "checks": {"rasa": "unavailable"}}, status=503)


def read_message_text(request: Request) -> str:
    """Validate the ``{"text": "..."}`` body and return the trimmed text."""
    if media_type(request) != "application/json":
        raise ApiError(415, "unsupported_media_type")
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json") from None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise ApiError(422, "validation_error")
    text = text.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise ApiError(422, "message_too_long")
    return text


def media_type(request: Request) -> str:
    header = request.headers.get("content-type", "")
    return header.split(";", 1)[0].strip().lower()
