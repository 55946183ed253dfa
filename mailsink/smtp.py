"""SMTP side of the sink: an aiosmtpd server that stores every message it receives."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from mailsink.store import MailStore

log = logging.getLogger("mailsink.smtp")

# The HELO/EHLO name; set explicitly because aiosmtpd would otherwise call
# socket.getfqdn(), which can hang for seconds on machines without DNS.
SMTP_HOSTNAME = "mailsink.localhost"


class StoringHandler:
    """aiosmtpd handler: accepts every recipient and stores each message as .eml."""

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            # File I/O in a thread so a slow disk never stalls the shared event loop.
            message_id = await asyncio.to_thread(
                self.store.save, raw, envelope.mail_from or "", list(envelope.rcpt_tos)
            )
        except OSError:
            log.exception("could not store a message for %s", envelope.rcpt_tos)
            return "451 4.3.0 Could not store the message, try again later"
        log.info("stored %s for %s", message_id, ", ".join(envelope.rcpt_tos))
        return f"250 2.0.0 OK: stored as {message_id}"


def accept_any_login(*_args: Any) -> AuthResult:
    # A development sink: apps configured with SMTP credentials must still be able to send.
    return AuthResult(success=True)


def smtp_protocol_factory(store: MailStore) -> Callable[[], SMTP]:
    handler = StoringHandler(store)

    def create_protocol() -> SMTP:
        return SMTP(
            handler,
            decode_data=False,  # keep envelope.original_content as the exact bytes
            enable_SMTPUTF8=True,
            hostname=SMTP_HOSTNAME,
            ident="Pomocnik mail sink",
            authenticator=accept_any_login,
            auth_require_tls=False,  # plain loopback connections, no TLS in development
            loop=asyncio.get_running_loop(),
        )

    return create_protocol


async def start_smtp_server(store: MailStore, host: str, port: int) -> asyncio.Server:
    """Listen for SMTP on the running loop (the same loop that serves the web UI)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(smtp_protocol_factory(store), host=host, port=port)
