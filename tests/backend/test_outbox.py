"""The outbox keeps e-mails while SMTP is down and delivers each exactly once when it returns."""

from sqlalchemy import select

from backend.mail.sender import backoff_seconds
from backend.models import OutboxMessage
from tests.support.waiting import eventually

RESET = "/api/v1/auth/password-reset"


def test_backoff_grows_and_is_capped():
    assert [backoff_seconds(n) for n in (1, 2, 3, 4, 10, 30)] == [1, 2, 4, 8, 300, 300]


async def test_smtp_down_then_up_delivers_once(http, backend, smtp, jan):
    await smtp.stop()
    response = await http.post(RESET, json={"email": jan.email}, headers=backend.service_headers())
    assert response.status_code == 202

    async def failed_attempts():
        async with backend.app.ctx.sessions() as session:
            row = (await session.scalars(select(OutboxMessage))).one()
            return row if row.attempts >= 1 else None

    row = await eventually(failed_attempts)
    assert row.sent_at is None and row.last_error.startswith("SMTP")
    assert row.next_attempt_at > backend.clock.now
    assert row.text_body  # kept until it is delivered

    await smtp.start()
    backend.clock.advance(seconds=backoff_seconds(row.attempts) + 1)
    backend.app.ctx.sender.notify()
    await smtp.wait_for(1)

    async def sent_row():
        async with backend.app.ctx.sessions() as session:
            row = (await session.scalars(select(OutboxMessage))).one()
            return row if row.sent_at else None

    await eventually(sent_row)
    for _ in range(3):  # more rounds must not send it again
        await backend.app.ctx.sender.deliver_due()
    assert len(smtp.messages) == 1
    assert smtp.messages[0]["To"] == jan.email


async def test_long_polish_subject_arrives_unchanged(backend, smtp):
    from backend.mail.builders import EmailContent
    from backend.services import outbox

    # This one loses the space before "–" when folded at 78 characters.
    subject = "Zmiana Twojej roli w firmie Majama Michał Zając – iKsięgowość24"
    async with backend.app.ctx.sessions.begin() as session:
        outbox.queue(
            session,
            EmailContent("test", "jan.kowalski@majafirma.pl", subject, "treść", "<p>treść</p>"),
            backend.clock,
        )
    backend.app.ctx.sender.notify()
    (message,) = await smtp.wait_for(1)
    assert message["Subject"] == subject


async def test_stop_ends_a_loop_that_swallows_one_cancellation(backend):
    import asyncio

    swallowed = 0

    async def swallows_first_cancel():
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # what wait_for on 3.11 can do to a cancel during a send

    task = asyncio.create_task(swallows_first_cancel())
    await asyncio.sleep(0.1)  # let it run, so the cancel lands inside the loop
    await asyncio.wait_for(backend.app.ctx.sender.stop(task, grace_seconds=3), timeout=5)
    assert swallowed == 1
    assert task.cancelled()
