"""Delivers queued e-mails over SMTP, retrying with exponential backoff while SMTP is down.

Several backend replicas may run a sender on one database. Delivery guarantees:

- Claims: a sender claims one message at a time in its own short transaction
  (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite, and a
  conditional ``UPDATE`` on both), writing a lease (``locked_until``) and a random
  ``lease_token``. While the lease runs, no other sender takes the message. One send is bounded
  to half the lease, so a live sender finishes (or gives up) before its lease can expire.
- A sender that dies mid-send (process killed, host lost) leaves its lease behind; when it
  expires another sender delivers the message. If the death came before the SMTP server had
  accepted the message (its answer to DATA), the recipient gets it exactly once.
- Success is recorded as soon as the server accepted DATA; a connection dropped after that
  (during QUIT) is not a failure and causes no resend. Failures are recorded only by the
  sender that holds the lease, so a late failure cannot reset another sender's claim.
- What cannot be guaranteed by any SMTP client: a death (or a dropped connection) after the
  server accepted DATA but before the sender heard (or recorded) it. The message is then sent
  again; every attempt carries the same ``Message-ID`` (``outbox_messages.message_id``, fixed at
  the first claim), so receivers that de-duplicate by Message-ID (the development mail sink,
  most mail stores and clients) show it once. Delivery is at-least-once, de-duplicable.

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
import secrets
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import aiosmtplib
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend import metrics
from backend.models import OutboxMessage
from backend.services.clock import Clock

log = logging.getLogger("backend.mail")

# A round delivers at most this many messages, then checkpoints (SQLite) and polls again.
ROUND_LIMIT = 50
LEASE = timedelta(seconds=60)
MAX_BACKOFF_SECONDS = 300
SMTP_TIMEOUT_SECONDS = 10
# Folding long non-ASCII headers at 78 characters can drop a space ("Zając – …" -> "Zając– …");
# RFC 5322 allows 998, so headers stay whole and the bytes are sent exactly as composed here.
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)


def backoff_seconds(attempts: int) -> int:
    return min(2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)


@dataclass(frozen=True)
class Claim:
    message_id: int
    token: str


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
        lease: timedelta = LEASE,
    ) -> None:
        self._sessions = sessions
        self._lease = lease
        # A send must end well before the lease does, or another sender could take the message
        # while this one is still talking to the server.
        self._send_budget = lease.total_seconds() / 2
        self._smtp_timeout = min(SMTP_TIMEOUT_SECONDS, self._send_budget)
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
        """Send every message that is due (claimed one by one); returns how many were delivered."""
        delivered = 0
        for _ in range(ROUND_LIMIT):
            if self._stopping:
                break
            claim = await self._claim_next()
            if claim is None:
                break
            if await self._deliver(claim):
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

    async def _claim_next(self) -> Claim | None:
        """Lease the oldest due message to this sender, or None when nothing is due."""
        now = self._clock()
        due = (
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
        )
        token = secrets.token_hex(16)
        async with self._sessions.begin() as session:
            # PostgreSQL: rows another sender is claiming right now are skipped, not waited
            # for. SQLite ignores FOR UPDATE; its BEGIN IMMEDIATE serialises the claims instead.
            message_id = await session.scalar(
                select(OutboxMessage.id)
                .where(*due)
                .order_by(OutboxMessage.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if message_id is None:
                return None
            # Conditional, so the claim holds even where the row lock above is a no-op.
            result = await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, *due)
                .values(
                    locked_until=now + self._lease,
                    lease_token=token,
                    message_id=func.coalesce(
                        OutboxMessage.message_id,
                        make_msgid(idstring=f"outbox-{message_id}", domain="iksiegowosc24.pl"),
                    ),
                )
                .execution_options(synchronize_session=False)
            )
            return Claim(message_id, token) if result.rowcount == 1 else None

    async def _deliver(self, claim: Claim) -> bool:
        async with self._sessions() as session:
            message = await session.scalar(
                select(OutboxMessage).where(
                    OutboxMessage.id == claim.message_id,
                    OutboxMessage.lease_token == claim.token,
                    OutboxMessage.sent_at.is_(None),
                )
            )
            if message is None:  # delivered or re-claimed meanwhile
                return False
            email = self._compose(message)
        accepted = False
        client = aiosmtplib.SMTP(
            hostname=self._smtp_host,
            port=self._smtp_port,
            timeout=self._smtp_timeout,
            start_tls=False,
        )
        try:
            # Bounded as a whole: the lease must outlive the send.
            async with asyncio.timeout(self._send_budget):
                await client.connect()
                await client.sendmail(
                    parseaddr(self._mail_from)[1],
                    [email["To"]],
                    email.as_bytes(policy=MAIL_POLICY),
                )
                # The server accepted DATA: the message is delivered, whatever happens next.
                accepted = True
                await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            if not accepted:
                await self._record_failure(claim, error)
                return False
            log.info("outbox message %s: QUIT failed after delivery (%s)", claim.message_id,
                     type(error).__name__)
        finally:
            client.close()
        await self._record_success(claim.message_id)
        return True

    def _compose(self, message: OutboxMessage) -> EmailMessage:
        email = EmailMessage(policy=MAIL_POLICY)
        email["From"] = self._mail_from
        email["To"] = message.to_address
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False)
        # Fixed at the first claim: a resend carries the same id, so receivers can de-duplicate.
        email["Message-ID"] = message.message_id
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
            # Recorded whoever holds the lease now: the server has the message, so no sender
            # may send it again.
            result = await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None))
                .values(
                    sent_at=self._clock(),
                    locked_until=None,
                    lease_token=None,
                    text_body=None,
                    html_body=None,
                    attempts=OutboxMessage.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
        if result.rowcount != 1:
            log.warning("outbox message %s was already recorded as delivered", message_id)
        metrics.OUTBOX_DELIVERIES.labels("sent").inc()
        log.info("outbox message %s delivered", message_id)

    async def _record_failure(self, claim: Claim, error: BaseException) -> None:
        metrics.OUTBOX_DELIVERIES.labels("failed").inc()
        async with self._sessions.begin() as session:
            message = await session.scalar(
                select(OutboxMessage)
                .where(
                    OutboxMessage.id == claim.message_id,
                    OutboxMessage.lease_token == claim.token,
                    OutboxMessage.sent_at.is_(None),
                )
                .with_for_update()
            )
            if message is None:  # the lease passed to another sender, or it was delivered
                return
            message.attempts += 1
            message.locked_until = None
            message.lease_token = None
            message.next_attempt_at = self._clock() + timedelta(
                seconds=backoff_seconds(message.attempts)
            )
            message.last_error = f"{type(error).__name__}: {error}"[:500]
        log.warning(
            "outbox message %s not delivered (attempt %s): %s; retry in %ss",
            claim.message_id,
            message.attempts,
            type(error).__name__,
            backoff_seconds(message.attempts),
        )
