"""The console's JSON API (``/agent/api/…``), used by console.js.

Every call needs the session cookie (401 ``agent_unauthorized``); every change also needs
the session's CSRF token in ``X-CSRF-Token`` (403 ``csrf_failed``). Desk refusals keep their
status and code (e.g. 409 ``conversation_already_taken``) with the Polish message.
"""

from __future__ import annotations

from sanic import Request
from sanic.response import HTTPResponse, json

from bot.gateway.api import read_json_object
from bot.gateway.console import present, queries
from bot.gateway.console.texts import MAX_REPLY_LENGTH
from bot.gateway.console.web import agent_api, api_error, console_of
from bot.gateway.desk import DeskError

OK = {"ok": True}


@agent_api
async def queue(request: Request) -> HTTPResponse:
    entries = await request.app.ctx.desk.queue()
    return json({"now": present.iso(request.app.ctx.clock()),
                 "queue": [present.queue_entry(entry) for entry in entries]})


@agent_api
async def mine(request: Request) -> HTTPResponse:
    held = await queries.held_by(request.app.ctx.sessions, request.ctx.agent.agent.id)
    return json({"now": present.iso(request.app.ctx.clock()),
                 "conversations": [present.held(entry) for entry in held]})


@agent_api
async def detail(request: Request, conversation: int) -> HTTPResponse:
    ctx = request.app.ctx
    card = await queries.card(ctx.sessions, conversation)
    if card is None:
        raise DeskError(404, "conversation_not_found")
    messages = await ctx.transcript.messages_of(conversation)
    insight = await ctx.rasa.insight(card.row.session_id)
    return json(present.conversation(card, messages, insight, request.ctx.agent.agent.id))


@agent_api
async def take(request: Request, conversation: int) -> HTTPResponse:
    await request.app.ctx.desk.take(conversation, request.ctx.agent.agent)
    return json(OK)


@agent_api
async def reply(request: Request, conversation: int) -> HTTPResponse:
    text = read_json_object(request).get("text")
    if not isinstance(text, str) or not text.strip():
        return api_error(422, "reply_missing")
    if len(text.strip()) > MAX_REPLY_LENGTH:
        return api_error(422, "reply_too_long")
    message = await request.app.ctx.desk.reply(
        conversation, request.ctx.agent.agent, text.strip()
    )
    return json({"message": message.wire()}, status=201)


@agent_api
async def hand_back(request: Request, conversation: int) -> HTTPResponse:
    await request.app.ctx.desk.hand_back(conversation, request.ctx.agent.agent)
    return json(OK)


@agent_api
async def close(request: Request, conversation: int) -> HTTPResponse:
    await request.app.ctx.desk.close(conversation, request.ctx.agent.agent)
    return json(OK)


@agent_api
async def heartbeat(request: Request) -> HTTPResponse:
    await console_of(request).auth.heartbeat(request.ctx.agent)
    return json(OK)
