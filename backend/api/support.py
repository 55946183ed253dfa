"""/api/v1/support: e-mails about the chat gateway's support tickets (service token only)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sanic import Blueprint, Request

from backend.api.context import services
from backend.api.idempotency import idempotent
from backend.api.openapi import answer, json_body, raises, responds
from backend.api.requests import parse_json
from backend.api.schemas import _checked_email
from backend.api.service_auth import require_service_token
from backend.errors import ValidationFailed
from backend.services.support import TicketEmailKind, TicketEmailLimit

bp = Blueprint("support_v1", url_prefix="/api/v1/support")


class TicketEmailRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["ticket_received", "ticket_answered"]
    to: str = Field(min_length=3, max_length=254, description="The customer's e-mail address.")
    ticket_number: str = Field(
        min_length=1, max_length=32, pattern=r"^[A-Z0-9-]+$", examples=["PM-000123"]
    )
    # No "question": the e-mails never quote the customer (see mail/support_emails.py); a
    # body that still sends one is refused (extra="forbid").
    answer: str | None = Field(
        default=None,
        min_length=1,
        max_length=5000,
        description="Required for ticket_answered, not allowed for ticket_received.",
    )

    _to = field_validator("to")(_checked_email)

    @field_validator("answer")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("blank")
        return value


class QueuedOut(BaseModel):
    status: Literal["queued"]


def _parse(request: Request) -> TicketEmailRequest:
    """The body, with the answer present exactly when the e-mail is the answer."""
    body = parse_json(request, TicketEmailRequest)
    if body.kind == "ticket_answered" and body.answer is None:
        raise ValidationFailed(details=[{
            "field": "answer", "code": "missing",
            "message": "Odpowiedź jest wymagana dla wiadomości ticket_answered.",
        }])
    if body.kind == "ticket_received" and body.answer is not None:
        raise ValidationFailed(details=[{
            "field": "answer", "code": "extra_forbidden",
            "message": "Odpowiedź można podać tylko dla wiadomości ticket_answered.",
        }])
    return body


@bp.post("/ticket-emails")
@require_service_token
@idempotent("support_ticket_email")
@responds(202, QueuedOut, description="The e-mail is queued in the outbox.")
@json_body(TicketEmailRequest, parser=_parse)
@raises(TicketEmailLimit)
async def send_ticket_email(request: Request, body: TicketEmailRequest):
    """Queue an e-mail about a support ticket: received (after hours) or answered."""
    await services(request).support.send_ticket_email(
        TicketEmailKind(body.kind),
        to_address=body.to,
        ticket_number=body.ticket_number,
        answer=body.answer,
    )
    return answer(QueuedOut(status="queued"), status=202)
