"""The console's HTML pages: sign-in, the desk, tickets and statistics. Forms post back
and redirect (POST-redirect-GET); only the desk needs JavaScript (it is live)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sanic import Request
from sanic.response import HTTPResponse, redirect

from bot.gateway.clients import client_address
from bot.gateway.console.auth import COOKIE, LoginRefused, clear_session_cookie, set_session_cookie
from bot.gateway.console.canned import CANNED
from bot.gateway.console.charts import conversations_chart
from bot.gateway.console.stats import DayRange, StatsRepository
from bot.gateway.console.texts import (
    TICKET_STATUS_LABELS,
    form_label,
    intent_label,
    text_of,
)
from bot.gateway.console.web import (
    LOGIN_PATH,
    WARSAW,
    agent_page,
    console_of,
    form_value,
    private,
    render,
    same_origin,
    signed_in,
)
from bot.gateway.desk import DeskError
from bot.gateway.models import TicketStatus
from common.polish import format_day_month

STATS_DAYS = 14
DONE_NOTES = {
    "answered": "Odpowiedź wysłana e-mailem do zgłaszającego.",
    "closed": "Zgłoszenie zamknięte.",
}


# ---------------------------------------------------------------------- sign-in


async def login_form(request: Request) -> HTTPResponse:
    if await signed_in(request) is not None:
        return redirect("/agent", headers=private())
    return render(request, "console/login.html")


async def login(request: Request) -> HTTPResponse:
    email = form_value(request, "email") or ""
    if not same_origin(request):
        return render(request, "console/login.html", status=403, email=email,
                      error=text_of("csrf_failed"))
    auth = console_of(request).auth
    try:
        issued = await auth.login(email, form_value(request, "password"),
                                  client_address(request), request.cookies.get(COOKIE))
    except LoginRefused as refused:
        return render(request, "console/login.html", status=refused.status, email=email,
                      error=refused.message())
    response = redirect("/agent", status=303, headers=private())
    settings = request.app.ctx.settings
    set_session_cookie(response, issued.token, secure=settings.secure_cookies,
                       hours=settings.agent_session_hours)
    return response


@agent_page
async def logout(request: Request) -> HTTPResponse:
    await console_of(request).auth.logout(request.cookies.get(COOKIE))
    response = redirect(LOGIN_PATH, status=303, headers=private())
    clear_session_cookie(response, secure=request.app.ctx.settings.secure_cookies)
    return response


# ---------------------------------------------------------------------- the desk


@agent_page
async def desk(request: Request) -> HTTPResponse:
    return render(request, "console/desk.html", canned=CANNED)


# ---------------------------------------------------------------------- tickets


@agent_page
async def tickets(request: Request) -> HTTPResponse:
    raw = request.args.get("status", "open")
    status = TicketStatus(raw) if raw in TicketStatus._value2member_map_ else None
    rows = await request.app.ctx.tickets.list(status)
    return render(request, "console/tickets.html", tickets=rows,
                  shown=status.value if status else "all", labels=TICKET_STATUS_LABELS)


@agent_page
async def ticket(request: Request, ticket_id: int) -> HTTPResponse:
    return await _ticket_page(request, ticket_id)


@agent_page
async def answer_ticket(request: Request, ticket_id: int) -> HTTPResponse:
    text = form_value(request, "answer") or ""
    try:
        await request.app.ctx.tickets.answer(ticket_id, request.ctx.agent.agent, text)
    except DeskError as error:
        return await _ticket_page(request, ticket_id, error=error, draft=text)
    return redirect(f"/agent/tickets/{ticket_id}?done=answered", status=303,
                    headers=private())


@agent_page
async def close_ticket(request: Request, ticket_id: int) -> HTTPResponse:
    try:
        await request.app.ctx.tickets.close(ticket_id, request.ctx.agent.agent)
    except DeskError as error:
        return await _ticket_page(request, ticket_id, error=error)
    return redirect(f"/agent/tickets/{ticket_id}?done=closed", status=303, headers=private())


async def _ticket_page(
    request: Request, ticket_id: int, error: DeskError | None = None, draft: str = ""
) -> HTTPResponse:
    try:
        row = await request.app.ctx.tickets.get(ticket_id)
    except DeskError as missing:
        return render(request, "console/error.html", status=missing.status,
                      message=text_of(missing.code))
    assistant = (row.context or {}).get("assistant") or {}
    return render(
        request,
        "console/ticket.html",
        status=error.status if error else 200,
        ticket=row,
        account=(row.context or {}).get("account"),
        assistant=assistant,
        intent=intent_label(assistant.get("intent")),
        form=form_label(assistant.get("active_form")),
        labels=TICKET_STATUS_LABELS,
        error=text_of(error.code) if error else None,
        note=DONE_NOTES.get(request.args.get("done", "")) if not error else None,
        draft=draft,
    )


# ---------------------------------------------------------------------- statistics


@agent_page
async def stats(request: Request) -> HTTPResponse:
    days = last_days(request.app.ctx.clock(), STATS_DAYS)
    start, end = days[0].start, days[-1].end
    repository = StatsRepository(request.app.ctx.sessions)
    per_day = await repository.per_day(days)
    conversations = sum(day.conversations for day in per_day)
    taken = sum(day.taken for day in per_day)
    intents = await repository.top_intents(start, end)
    return render(
        request,
        "console/stats.html",
        days=per_day,
        chart=conversations_chart(per_day),
        first=days[0].label,
        last=days[-1].label,
        conversations=conversations,
        containment=(conversations - taken) / conversations if conversations else None,
        handoffs_requested=sum(day.handoffs_requested for day in per_day),
        handoffs_taken=sum(day.handoffs_taken for day in per_day),
        tickets=sum(day.tickets for day in per_day),
        ratings=await repository.ratings(start, end),
        intents=[(intent_label(name), name, count) for name, count in intents],
        fallbacks=await repository.top_fallbacks(start, end),
        inbox_waiting=await request.app.ctx.inbox.count(),
    )


def last_days(now: datetime, count: int) -> list[DayRange]:
    """The last ``count`` calendar days in Warsaw (today included), as UTC ranges."""
    today = now.astimezone(WARSAW).date()
    days = []
    for back in range(count - 1, -1, -1):
        day = today - timedelta(days=back)
        start = datetime.combine(day, time(0), tzinfo=WARSAW)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=WARSAW)
        days.append(DayRange(format_day_month(day), start, end))
    return days
