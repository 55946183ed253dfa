"""E-mails about support tickets the chat opened outside advisers' hours (pure builders).

They never quote what the customer wrote: the recipient address came from a chat visitor and
nobody verified it, so a quoted question would let anyone mail any text to any inbox from the
platform's address. The confirmation says only the ticket's number; the answer carries the
adviser's text."""

from __future__ import annotations

from backend.mail.builders import EmailContent, render

def ticket_received(*, to_address: str, ticket_number: str) -> EmailContent:
    return render(
        "ticket_received",
        to_address=to_address,
        subject=f"Przyjęliśmy Twoje zgłoszenie nr {ticket_number}",
        ticket_number=ticket_number,
    )


def ticket_answered(*, to_address: str, ticket_number: str, answer: str) -> EmailContent:
    return render(
        "ticket_answered",
        to_address=to_address,
        subject=f"Odpowiedź na zgłoszenie nr {ticket_number}",
        ticket_number=ticket_number,
        answer=answer,
    )
