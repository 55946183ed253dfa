"""JSON API handlers: conversations, messages, the transcript and health checks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from bot.gateway import jsonsafe
from bot.gateway.chat import ChatService, Rejected
from bot.gateway.clients import client_address, client_metadata
from bot.gateway.desk import DeskError
from bot.gateway.errors import ApiError, desk_error_message
from bot.gateway.models import Delivery
from bot.gateway.rasa_client import RasaUnavailable
from bot.gateway.tickets import TicketRequest


def register_api_routes(app: Sanic) -> None:
    app.add_route(create_conversation, "/api/v1/conversations", methods=["POST"])
    # One route for both methods, so a 405 on it lists them in its Allow header.
    app.add_route(
        messages, "/api/v1/conversations/<conversation_id:str>/messages", methods=["GET", "POST"]
    )
    conversation = "/api/v1/conversations/<conversation_id:str>"
    app.add_route(cancel_handoff, f"{conversation}/handoff/cancel", methods=["POST"])
    app.add_route(create_ticket, f"{conversation}/tickets", methods=["POST"])
    app.add_route(rate_conversation, f"{conversation}/rating", methods=["POST"])
    app.add_route(health, "/health", methods=["GET"])
    app.add_route(readiness, "/health/ready", methods=["GET"])


async def create_conversation(request: Request) -> HTTPResponse:
    conversation_id = await request.app.ctx.conversations.start()
    return json_response({"conversation_id": conversation_id}, status=201)


async def messages(request: Request, conversation_id: str) -> HTTPResponse:
    if request.method == "GET":
        return await list_messages(request, conversation_id)
    return await post_message(request, conversation_id)


async def post_message(request: Request, conversation_id: str) -> HTTPResponse:
    """Store the visitor's message, relay it to Rasa, return (and store) the replies.

    Optional body fields: ``client_message_id`` (a retry with the same id is not stored or
    relayed twice: it gets the stored replies) and ``title`` (a quick reply's label).
    """
    if not await request.app.ctx.conversations.exists(conversation_id):
        raise ApiError(404, "conversation_not_found")
    body = read_json_object(request)
    service: ChatService = request.app.ctx.service
    address = client_address(request)
    try:
        submitted = await service.submit(
            conversation_id,
            body.get("text"),
            address=address,
            client_message_id=body.get("client_message_id"),
            title=body.get("title"),
        )
    except Rejected as rejected:
        raise as_api_error(rejected) from None
    if submitted.relay:
        try:
            replies = await service.relay(
                conversation_id, submitted, body["text"], client_metadata(address)
            )
        except RasaUnavailable:
            raise ApiError(503, "assistant_unavailable") from None
    elif submitted.message.delivery is Delivery.FAILED:
        raise ApiError(503, "assistant_unavailable")
    else:  # already answered (or still being answered): the replies stored so far
        replies = await service.replies_to(submitted.message)
    return json_response({"messages": [reply.reply() for reply in replies]})


async def list_messages(request: Request, conversation_id: str) -> HTTPResponse:
    """The stored transcript, oldest first: ``?after=<seq>`` for what came after a message."""
    if not await request.app.ctx.conversations.exists(conversation_id):
        raise ApiError(404, "conversation_not_found")
    raw_after = request.args.get("after", "0")
    if not raw_after.isdigit() or len(raw_after) > 9:
        raise ApiError(422, "invalid_after")
    messages = await request.app.ctx.service.history(conversation_id, int(raw_after))
    return json_response({"messages": [message.wire() for message in messages]})


async def cancel_handoff(request: Request, conversation_id: str) -> HTTPResponse:
    """The visitor stops waiting for an adviser."""
    await _existing(request, conversation_id)
    with desk_errors():
        await request.app.ctx.desk.cancel_handoff(conversation_id)
    return json_response({"status": "cancelled"})


async def create_ticket(request: Request, conversation_id: str) -> HTTPResponse:
    """A question for the advisers: ``{"email"?, "phone"?, "question"}`` → the ticket number.

    Only where the desk offered a ticket in this conversation, within the limits of
    ``tickets.TicketService`` (409 ``ticket_not_offered``, 429 ``too_many_tickets*``)."""
    await _existing(request, conversation_id)
    body = read_json_object(request)
    with desk_errors():
        ticket, _ = await request.app.ctx.tickets.create(
            conversation_id, TicketRequest.parse(body), client_address(request)
        )
    return json_response({"ticket": {"number": ticket.number}}, status=201)


async def rate_conversation(request: Request, conversation_id: str) -> HTTPResponse:
    """The visitor's rating: ``{"score": 1..5, "comment"?}``."""
    await _existing(request, conversation_id)
    body = read_json_object(request)
    with desk_errors():
        await request.app.ctx.desk.rate(conversation_id, body.get("score"), body.get("comment"))
    return json_response({"status": "rated"}, status=201)


async def _existing(request: Request, conversation_id: str) -> None:
    if not await request.app.ctx.conversations.exists(conversation_id):
        raise ApiError(404, "conversation_not_found")


@contextlib.contextmanager
def desk_errors() -> Iterator[None]:
    """A desk refusal leaves as an API error with its stable code and Polish message."""
    try:
        yield
    except DeskError as error:
        headers = None
        if error.retry_after is not None:
            headers = {"Retry-After": str(error.retry_after)}
        raise ApiError(error.status, error.code, desk_error_message(error), headers) from None


async def health(request: Request) -> HTTPResponse:
    return json_response({"status": "ok"})


async def readiness(request: Request) -> HTTPResponse:
    if await request.app.ctx.rasa.is_ready():
        return json_response({"status": "ok", "checks": {"rasa": "ok"}})
    return json_response({"status": "unavailable", "checks": {"rasa": "unavailable"}}, status=503)


def read_json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; a non-object body counts as a missing ``text``.

    Every JSON endpoint reads its body here: nesting deeper than ``jsonsafe.MAX_DEPTH`` is
    400 ``invalid_json``, NUL or a lone surrogate anywhere 400 ``invalid_characters``."""
    if media_type(request) != "application/json":
        raise ApiError(415, "unsupported_media_type")
    try:
        body = jsonsafe.loads(request.body)
    except jsonsafe.UnsafeJson as refused:
        raise ApiError(400, refused.code) from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json") from None
    return body if isinstance(body, dict) else {}


def as_api_error(rejected: Rejected) -> ApiError:
    headers = {"Retry-After": str(rejected.retry_after)} if rejected.retry_after else None
    return ApiError(rejected.status, rejected.code, rejected.message, headers)


def media_type(request: Request) -> str:
    header = request.headers.get("content-type", "")
    return header.split(";", 1)[0].strip().lower()
