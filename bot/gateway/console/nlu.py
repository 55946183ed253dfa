"""The NLU inbox in the console (``/agent/nlu``), for advisers with the editor permission:
the page (its list is rendered on the server, nlu.js drives the labelling) and its JSON API.

| route | what |
| --- | --- |
| ``GET /agent/nlu[?status=waiting|labelled|skipped|exported|duplicate|refused|all]`` | the page |
| ``GET /agent/api/nlu[?status=…]`` | ``{"waiting", "items"}`` |
| ``POST /agent/api/nlu/<id>/label`` ``{"intent", "entities"?}`` | ``{"item", "labelled", "waiting"}`` |
| ``POST /agent/api/nlu/<id>/skip``, ``…/reopen`` | ``{"item", "waiting"}`` |
"""

from __future__ import annotations

import json as jsonlib

from sanic import Request
from sanic.response import HTTPResponse, json

from bot.gateway.api import read_json_object
from bot.gateway.console import present
from bot.gateway.console.texts import INBOX_STATUS_LABELS, entity_label, intent_label
from bot.gateway.console.web import agent_api, agent_page, console_of, editors_only, render
from bot.gateway.desk import DeskError
from bot.gateway.domain import Domain
from bot.gateway.inbox import OUT_OF_SCOPE, NluInbox, Vocabulary
from bot.gateway.models import InboxStatus

PAGE_SIZE = 50
ALL = "all"


@agent_page
@editors_only
async def page(request: Request) -> HTTPResponse:
    domain = _domain(request)
    status, shown = _status(request)
    inbox = _inbox(request)
    entries = await inbox.entries(status, PAGE_SIZE)
    items = [present.inbox_item(entry) for entry in entries]
    return render(
        request,
        "console/nlu.html",
        shown=shown,
        statuses=INBOX_STATUS_LABELS,
        waiting=await inbox.count(),
        items=[(item, jsonlib.dumps(item, ensure_ascii=False)) for item in items],
        intents=[(name, intent_label(name)) for name in domain.labels],
        entities=[(name, entity_label(name)) for name in domain.entities],
        out_of_scope=OUT_OF_SCOPE,
    )


@agent_api
@editors_only
async def items(request: Request) -> HTTPResponse:
    status, _ = _status(request)
    inbox = _inbox(request)
    entries = await inbox.entries(status, PAGE_SIZE)
    return json({"waiting": await inbox.count(),
                 "items": [present.inbox_item(entry) for entry in entries]})


@agent_api
@editors_only
async def label(request: Request, item_id: int) -> HTTPResponse:
    domain = _domain(request)
    body = read_json_object(request)
    vocabulary = Vocabulary(frozenset(domain.labels), frozenset(domain.entities))
    inbox = _inbox(request)
    labelled = await inbox.label(item_id, request.ctx.agent.agent, body.get("intent"),
                                 body.get("entities"), vocabulary)
    return await _answer(inbox, item_id, labelled=labelled)


@agent_api
@editors_only
async def skip(request: Request, item_id: int) -> HTTPResponse:
    inbox = _inbox(request)
    await inbox.skip(item_id, request.ctx.agent.agent)
    return await _answer(inbox, item_id)


@agent_api
@editors_only
async def reopen(request: Request, item_id: int) -> HTTPResponse:
    inbox = _inbox(request)
    await inbox.reopen(item_id)
    return await _answer(inbox, item_id)


async def _answer(inbox: NluInbox, item_id: int, **extra: int) -> HTTPResponse:
    return json({"item": present.inbox_item(await inbox.entry(item_id)),
                 "waiting": await inbox.count(), **extra})


def _inbox(request: Request) -> NluInbox:
    return request.app.ctx.inbox


def _domain(request: Request) -> Domain:
    domain = console_of(request).domain
    if domain is None:
        raise DeskError(503, "domain_unavailable")
    return domain


def _status(request: Request) -> tuple[InboxStatus | None, str]:
    """The ``status`` filter (unknown values: waiting)."""
    raw = request.args.get("status", InboxStatus.WAITING.value)
    if raw == ALL:
        return None, ALL
    if raw in InboxStatus._value2member_map_:
        return InboxStatus(raw), raw
    return InboxStatus.WAITING, InboxStatus.WAITING.value
