"""Delivers queued e-mails over SMTP, retrying with exponential backoff while SMTP is down.

Several backend replicas may run a sender: each claims a message with a short lease
(``locked_until``) in its own transaction before sending, so a message goes out once.

At rest: the bodies may carry a one-time link or code, so they are kept only until delivery.
Delivery clears them (text and HTML; the subject never carries a secret) in a transaction with
SQLite's ``secure_delete`` on, which overwrites the freed bytes with zeros, and each round that
delivered something ends with ``PRAGMA wal_checkpoint(TRUNCATE)``: the cleared pages reach the
database file and the write-ahead log is emptied, so the link is in none of ``backend.db``,
``backend.db-wal`` and ``backend.db-shm``. A checkpoint that other readers keep from finishing
is repeated after the next round. On PostgreSQL the row is updated the same way; dead tuples
disappear with (auto)vacuum.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import aiosmtplib
from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend import metrics
from backend.models import OutboxMessage
from backend.services.clock import Clock

log = logging.getLogger("backend.mail")

BATCH_SIZE = 20
LEASE = timedelta(seconds=60)
MAX_BACKOFF_SECONDS = 300
SMTP_TIMEOUT_SECONDS = 10
# Folding long non-ASCII headers at 78 characters can drop a space ("Zając – …" -> "Zając– …");
# RFC 5322 allows 998, so headers stay whole and the bytes are sent exactly as composed here.
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)


def backoff_seconds(attempts: int) -> int:
    return min(2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)


class OutboxSender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        smtp_host: str,
        smtp_port: int,
        mail_from: str,
        poll_seconds: float,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._smtp_host = smtp_host
        self._smtp_port = smtp_port
        self._mail_from = mail_from
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._wake = asyncio.Event()
        self._stopping = False
        self._checkpoint_pending = False

    def notify(self) -> None:
        """Something was queued: deliver now instead of waiting for the next poll."""
        self._wake.set()

    async def stop(self, task: asyncio.Task, grace_seconds: float = 5.0) -> None:
        """Stop the delivery loop without ever waiting forever.

        A cancellation can be swallowed inside a send (wait_for in the SMTP client on 3.11), so the
        loop also checks a flag, and the cancel is repeated until the task ends or time runs out.
        """
        self._stopping = True
        self._wake.set()
        deadline = asyncio.get_running_loop().time() + grace_seconds
        while not task.done() and asyncio.get_running_loop().time() < deadline:
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)
        if not task.done():
            log.warning("outbox sender did not stop within %.0f s; leaving it", grace_seconds)

    async def run_forever(self) -> None:
        while not self._stopping:
            try:
                await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox delivery round failed; retrying on the next round")
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # arrives as the event fires, and the app's shutdown would then wait forever.
            try:
                async with asyncio.timeout(self._poll_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def deliver_due(self) -> int:
        """Send every message that is due; returns how many were delivered."""
        delivered = 0
        for message_id in await self._claim_due():
            if await self._deliver(message_id):
                delivered += 1
        if delivered or self._checkpoint_pending:
            await self._checkpoint()
        return delivered

    def _is_sqlite(self) -> bool:
        bind = self._sessions.kw.get("bind")
        return bind is not None and bind.dialect.name == "sqlite"

    async def _checkpoint(self) -> None:
        """Move the cleared pages into the database file and empty the WAL (SQLite only)."""
        self._checkpoint_pending = False
        if not self._is_sqlite():
            return
        engine = self._sessions.kw["bind"]

        def checkpoint(connection) -> tuple:
            # Straight on the driver connection: outside a transaction (the engine's "begin"
            # hook would start one, and a checkpoint cannot truncate from inside it).
            cursor = connection.connection.dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                return tuple(cursor.fetchone() or ())
            finally:
                cursor.close()

        async with engine.connect() as connection:
            result = await connection.run_sync(checkpoint)
        if result and result[0] != 0:  # busy: a reader holds an older snapshot
            self._checkpoint_pending = True
            log.info("outbox: WAL checkpoint busy; repeated after the next round")

    async def _claim_due(self) -> list[int]:
        now = self._clock()
        async with self._sessions.begin() as session:
            candidates = (
                await session.scalars(
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.sent_at.is_(None),
                        OutboxMessage.next_attempt_at <= now,
                        or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
                    )
                    .order_by(OutboxMessage.id)
                    .limit(BATCH_SIZE)
                )
            ).all()
            claimed = []
            for message_id in candidates:
                result = await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == message_id,
                        or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
                    )
                    .values(locked_until=now + LEASE)
                )
                if result.rowcount == 1:
                    claimed.append(message_id)
            return claimed

    async def _deliver(self, message_id: int) -> bool:
        async with self._sessions() as session:
            message = await session.get(OutboxMessage, message_id)
            if message is None or message.sent_at is not None:
                return False
            email = self._compose(message)
        try:
            await aiosmtplib.send(
                email.as_bytes(policy=MAIL_POLICY),
                sender=parseaddr(self._mail_from)[1],
                recipients=[email["To"]],
                hostname=self._smtp_host,
                port=self._smtp_port,
                timeout=SMTP_TIMEOUT_SECONDS,
                start_tls=False,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            await self._record_failure(message_id, error)
            return False
        await self._record_success(message_id)
        return True

    def _compose(self, message: OutboxMessage) -> EmailMessage:
        email = EmailMessage(policy=MAIL_POLICY)
        email["From"] = self._mail_from
        email["To"] = message.to_address
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = make_msgid(idstring=f"outbox-{message.id}", domain="iksiegowosc24.pl")
        email.set_content(message.text_body or "")
        if message.html_body:
            email.add_alternative(message.html_body, subtype="html")
        return email

    async def _record_success(self, message_id: int) -> None:
        async with self._sessions.begin() as session:
            # The bodies may hold a one-time link: once delivered, the copy here is not needed,
            # and the bytes it occupied are overwritten, not just freed.
            if self._is_sqlite():
                await session.execute(text("PRAGMA secure_delete=ON"))
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(
                    sent_at=self._clock(),
                    locked_until=None,
                    text_body=None,
                    html_body=None,
                    attempts=OutboxMessage.attempts + 1,
                )
            )
        metrics.OUTBOX_DELIVERIES.labels("sent").inc()
        log.info("outbox message %s delivered", message_id)

    async def _record_failure(self, message_id: int, error: BaseException) -> None:
        metrics.OUTBOX_DELIVERIES.labels("failed").inc()
        async with self._sessions.begin() as session:
            message = await session.get(OutboxMessage, message_id)
            if message is None:
                return
            message.attempts += 1
            message.locked_until = None
            message.next_attempt_at = self._clock() + timedelta(
                seconds=backoff_seconds(message.attempts)
            )
            message.last_error = f"{type(error).__name__}: {error}"[:500]
        log.warning(
            "outbox message %s not delivered (attempt %s): %s; retry in %ss",
            message_id,
            message.attempts,
            type(error).__name__,
            backoff_seconds(message.attempts),
        )
