"""Several backend replicas share one outbox: every e-mail leaves exactly once.

Real database (SQLite here; PostgreSQL when TEST_DATABASE_URL is set, as in CI), real SMTP
server (aiosmtpd), real sender processes where one has to die.
"""

from __future__ import annotations

import asyncio
import email
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP
from sqlalchemy import func, select

from backend.db import create_engine, create_sessionmaker
from backend.mail.builders import EmailContent
from backend.mail.sender import OutboxSender
from backend.models import OutboxMessage
from backend.services import outbox
from backend.services.clock import system_clock
from harness.stack import free_port
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
LEASE = timedelta(seconds=10)


class Sink:
    """An aiosmtpd server recording each message it received, with optional misbehaviour."""

    def __init__(self, *, drop_before_reply: int = 0, drop_on_quit: bool = False,
                 stall_rcpt: bool = False, delay: float = 0.0) -> None:
        self.port = free_port()
        self.received: list[email.message.EmailMessage] = []
        self.drop_before_reply = drop_before_reply  # this many DATAs get no answer
        self.drop_on_quit = drop_on_quit
        self.stall_rcpt = stall_rcpt
        self.delay = delay
        self.rcpt_waiting = asyncio.Event()
        self._server = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.stall_rcpt:
            self.rcpt_waiting.set()
            await asyncio.sleep(3600)  # until the client goes away
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        self.received.append(
            email.message_from_bytes(envelope.original_content, policy=default_policy)
        )
        if self.drop_before_reply:
            self.drop_before_reply -= 1
            server.transport.abort()  # the message arrived; the client never hears "250"
        return "250 OK"

    async def start(self) -> None:
        sink = self

        class Server(SMTP):
            async def smtp_QUIT(self, arg):
                if sink.drop_on_quit:
                    self.transport.abort()
                    return
                await super().smtp_QUIT(arg)

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Server(self, decode_data=False), "127.0.0.1", self.port
        )

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    def message_ids(self) -> Counter:
        return Counter(message["Message-ID"] for message in self.received)


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


def make_sender(sessions, sink: Sink, clock=system_clock) -> OutboxSender:
    return OutboxSender(
        sessions,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        mail_from="iKsięgowość24 <no-reply@iksiegowosc24.pl>",
        poll_seconds=0.1,
        clock=clock,
        lease=LEASE,
    )


async def queue(sessions, count: int) -> None:
    async with sessions.begin() as session:
        for number in range(count):
            outbox.queue(
                session,
                EmailContent("test", f"klient{number}@example.pl", f"Wiadomość {number}",
                             f"treść {number}", None),
                system_clock,
            )


async def rows(sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_two_concurrent_senders_deliver_fifty_messages_once_each(database_url, sessions):
    sink = Sink(delay=0.01)  # keeps both senders busy at the same time
    await sink.start()
    # Two replicas: separate engines (connection pools), as two processes would have.
    other_engine = create_engine(database_url)
    try:
        await queue(sessions, 50)
        first = make_sender(sessions, sink)
        second = make_sender(create_sessionmaker(other_engine), sink)
        counts = await asyncio.gather(first.deliver_due(), second.deliver_due())
    finally:
        await other_engine.dispose()
        await sink.stop()

    assert sum(counts) == 50 and min(counts) > 0, counts
    subjects = Counter(message["Subject"] for message in sink.received)
    assert len(sink.received) == 50 and set(subjects.values()) == {1}
    assert set(sink.message_ids().values()) == {1}
    stored = await rows(sessions)
    assert all(row.sent_at is not None and row.attempts == 1 for row in stored)
    assert all(row.lease_token is None and row.text_body is None for row in stored)
    assert sorted(sink.message_ids()) == sorted(row.message_id for row in stored)


async def test_a_sender_killed_mid_send_leaves_the_message_to_the_other_after_its_lease(
    database_url, sessions
):
    sink = Sink(stall_rcpt=True)
    await sink.start()
    await queue(sessions, 1)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.outbox_sender", database_url, str(sink.port),
         str(LEASE.total_seconds())],
        cwd=ROOT, env=env, start_new_session=True,
    )
    try:
        await asyncio.wait_for(sink.rcpt_waiting.wait(), timeout=60)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    sink.stall_rcpt = False
    try:
        (row,) = await rows(sessions)
        assert row.sent_at is None and row.lease_token and row.locked_until is not None
        survivor_now = system_clock()
        # While the dead sender's lease runs, the survivor leaves the message alone.
        assert await make_sender(sessions, sink, clock=lambda: survivor_now).deliver_due() == 0
        later = row.locked_until + timedelta(seconds=1)
        survivor = make_sender(sessions, sink, clock=lambda: later)
        assert await survivor.deliver_due() == 1
        assert await survivor.deliver_due() == 0
    finally:
        await sink.stop()

    assert len(sink.received) == 1
    (row,) = await rows(sessions)
    assert row.sent_at is not None and row.attempts == 1
    assert sink.received[0]["Message-ID"] == row.message_id


async def test_a_connection_dropped_after_the_server_accepted_data_sends_nothing_twice(sessions):
    sink = Sink(drop_on_quit=True)
    await sink.start()
    try:
        await queue(sessions, 1)
        sender = make_sender(sessions, sink)
        assert await sender.deliver_due() == 1
        assert await sender.deliver_due() == 0
    finally:
        await sink.stop()
    assert len(sink.received) == 1
    (row,) = await rows(sessions)
    assert row.sent_at is not None and row.attempts == 1 and row.last_error is None


async def test_no_answer_to_data_is_retried_with_the_same_message_id(sessions):
    """The one case SMTP cannot settle: the server got the message, the client never heard.

    The sender must retry (it cannot know), and the resend carries the same Message-ID so a
    receiver can drop the copy: at-least-once, de-duplicable.
    """
    sink = Sink(drop_before_reply=1)
    await sink.start()
    try:
        await queue(sessions, 1)
        now = system_clock()
        clock = lambda: now  # noqa: E731
        sender = make_sender(sessions, sink, clock=clock)
        assert await sender.deliver_due() == 0
        (row,) = await rows(sessions)
        assert row.sent_at is None and row.attempts == 1 and row.lease_token is None
        now = row.next_attempt_at + timedelta(seconds=1)
        assert await sender.deliver_due() == 1
    finally:
        await sink.stop()
    assert len(sink.received) == 2
    assert list(sink.message_ids().values()) == [2]
    (row,) = await rows(sessions)
    assert row.sent_at is not None and row.attempts == 2


async def test_a_late_failure_does_not_undo_another_senders_claim(sessions):
    sink = Sink()
    await sink.start()
    try:
        await queue(sessions, 1)
        stale = make_sender(sessions, sink)
        claim = await stale._claim_next()
        later = system_clock() + LEASE + timedelta(seconds=1)
        fresh = make_sender(sessions, sink, clock=lambda: later)
        fresh_claim = await fresh._claim_next()
        assert fresh_claim is not None and fresh_claim.token != claim.token
        # The stale sender's failure arrives now: it must not release the fresh claim.
        await stale._record_failure(claim, OSError("late"))
        (row,) = await rows(sessions)
        assert row.lease_token == fresh_claim.token and row.attempts == 0
        assert await fresh._deliver(fresh_claim)
        # The stale sender cannot send a message whose lease it lost.
        assert not await stale._deliver(claim)
    finally:
        await sink.stop()
    assert len(sink.received) == 1


