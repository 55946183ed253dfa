"""File storage of received mail: one standard .eml file per message.

A message id is `<UTC yyyymmddThhmmssffffff>-<uuid4 hex>`, which is also the file
name without `.eml`, so sorting names sorts messages by arrival time. Ids coming
from outside are checked against a strict regex before any path is built, which
rules out path traversal.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path
from typing import Any

MESSAGE_ID_RE = re.compile(r"\A[0-9]{8}T[0-9]{12}-[0-9a-f]{32}\Z")
STAMP_FORMAT = "%Y%m%dT%H%M%S%f"
EML_SUFFIX = ".eml"
# Trace headers prepended to the received bytes. The envelope recipients matter
# because Bcc recipients appear nowhere else in the message.
ENVELOPE_TO_HEADER = "X-Mailsink-Envelope-To"
RETURN_PATH_HEADER = "Return-Path"


class MessageNotFound(LookupError):
    """No stored message has this id (or the id is not a valid id at all)."""


def is_valid_message_id(message_id: str) -> bool:
    if not MESSAGE_ID_RE.match(message_id):
        return False
    try:  # the shape alone would admit impossible times such as month 13
        received_at(message_id)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class StoredMessage:
    id: str
    received_at: datetime
    sender: str
    to: str
    cc: str
    subject: str
    date: str | None
    envelope_from: str
    envelope_to: tuple[str, ...]
    recipients: frozenset[str]  # lower-cased addresses from To, Cc and the envelope
    headers: tuple[tuple[str, str], ...]
    text: str | None
    html: str | None

    def is_addressed_to(self, address: str) -> bool:
        return address.strip().lower() in self.recipients

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.sender,
            "to": self.to,
            "cc": self.cc,
            "subject": self.subject,
            "date": self.date,
            "received_at": self.received_at.isoformat(),
            "envelope_from": self.envelope_from,
            "envelope_to": list(self.envelope_to),
            "text": self.text,
            "html": self.html,
        }


class MailStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def save(self, raw: bytes, envelope_from: str = "", envelope_to: Sequence[str] = ()) -> str:
        """Store one message atomically and return its id."""
        self.directory.mkdir(parents=True, exist_ok=True)
        message_id = _new_message_id()
        data = _trace_headers(raw, envelope_from, envelope_to) + raw
        _write_atomically(self._path(message_id), data)
        return message_id

    def ids(self) -> list[str]:
        """Ids of all stored messages, newest first."""
        if not self.directory.is_dir():
            return []
        stems = (path.name[: -len(EML_SUFFIX)] for path in self.directory.glob("*" + EML_SUFFIX))
        return sorted((stem for stem in stems if is_valid_message_id(stem)), reverse=True)

    def raw(self, message_id: str) -> bytes:
        if not is_valid_message_id(message_id):
            raise MessageNotFound(message_id)
        try:
            return self._path(message_id).read_bytes()
        except FileNotFoundError:
            raise MessageNotFound(message_id) from None

    def get(self, message_id: str) -> StoredMessage:
        return parse_message(message_id, self.raw(message_id))

    def list_messages(self, recipient: str | None = None) -> list[StoredMessage]:
        """Parsed messages, newest first, optionally only those sent to `recipient`."""
        messages = self._existing(self.ids())
        if recipient:
            messages = [message for message in messages if message.is_addressed_to(recipient)]
        return messages

    def clear(self) -> int:
        """Delete every stored message; return how many were deleted."""
        deleted = 0
        for message_id in self.ids():
            with suppress(FileNotFoundError):
                self._path(message_id).unlink()
                deleted += 1
        return deleted

    def _existing(self, message_ids: Iterable[str]) -> list[StoredMessage]:
        # A message may be deleted between listing and reading; skip it.
        messages = []
        for message_id in message_ids:
            with suppress(MessageNotFound):
                messages.append(self.get(message_id))
        return messages

    def _path(self, message_id: str) -> Path:
        return self.directory / f"{message_id}{EML_SUFFIX}"


def _new_message_id() -> str:
    stamp = datetime.now(timezone.utc).strftime(STAMP_FORMAT)
    return f"{stamp}-{uuid.uuid4().hex}"


def received_at(message_id: str) -> datetime:
    stamp = message_id.split("-", 1)[0]
    return datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=timezone.utc)


def _write_atomically(path: Path, data: bytes) -> None:
    # The temp file lives in the same directory so os.replace is an atomic rename;
    # its name does not end in .eml, so a half-written file is never listed.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _trace_headers(raw: bytes, envelope_from: str, envelope_to: Sequence[str]) -> bytes:
    """Return-Path and envelope recipients, like an MTA adds at final delivery."""
    newline = b"\r\n" if b"\r\n" in raw[:4096] or not raw else b"\n"
    lines = [f"{RETURN_PATH_HEADER}: <{_single_line(envelope_from)}>"]
    lines += [f"{ENVELOPE_TO_HEADER}: {_single_line(address)}" for address in envelope_to]
    return b"".join(line.encode("utf-8") + newline for line in lines)


def _single_line(value: str) -> str:
    # Envelope addresses come from SMTP command lines, but never let one break a header.
    return re.sub(r"[\r\n]+", " ", value).strip()


def parse_message(message_id: str, raw: bytes) -> StoredMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    envelope_to = tuple(_header_values(message, ENVELOPE_TO_HEADER))
    return StoredMessage(
        id=message_id,
        received_at=received_at(message_id),
        sender=_header(message, "From"),
        to=_header(message, "To"),
        cc=_header(message, "Cc"),
        subject=_header(message, "Subject"),
        date=_date(message),
        envelope_from=_header(message, RETURN_PATH_HEADER).strip("<>"),
        envelope_to=envelope_to,
        recipients=_recipients(message, envelope_to),
        headers=tuple(_all_headers(message)),
        text=_body(message, "plain"),
        html=_body(message, "html"),
    )


def _header(message: EmailMessage, name: str) -> str:
    """Decoded header value; falls back to the raw value if decoding fails."""
    try:
        return str(message.get(name, ""))
    except Exception:  # malformed headers must not hide the whole message
        return next((str(v) for k, v in message.raw_items() if k.lower() == name.lower()), "")


def _header_values(message: EmailMessage, name: str) -> list[str]:
    try:
        return [str(value).strip() for value in message.get_all(name, [])]
    except Exception:
        return []


def _all_headers(message: EmailMessage) -> list[tuple[str, str]]:
    headers = []
    for name, raw_value in message.raw_items():
        try:
            value = str(message.policy.header_fetch_parse(name, raw_value))
        except Exception:
            value = str(raw_value)
        headers.append((name, value))
    return headers


def _date(message: EmailMessage) -> str | None:
    """ISO 8601 when the Date header parses, the raw text otherwise."""
    try:
        header = message.get("Date")
        if header is None:
            return None
        parsed = getattr(header, "datetime", None)
        return parsed.isoformat() if parsed else str(header)
    except Exception:
        return _header(message, "Date") or None


def _recipients(message: EmailMessage, envelope_to: Sequence[str]) -> frozenset[str]:
    addresses = [*_addresses(message, "To"), *_addresses(message, "Cc"), *envelope_to]
    return frozenset(address.strip().lower() for address in addresses if address.strip())


def _addresses(message: EmailMessage, name: str) -> list[str]:
    try:
        return [address.addr_spec for address in getattr(message.get(name), "addresses", ())]
    except Exception:  # unparseable header: fall back to the lenient legacy parser
        return [address for _, address in getaddresses([_header(message, name)])]


def _body(message: EmailMessage, subtype: str) -> str | None:
    try:
        part = message.get_body(preferencelist=(subtype,))
    except Exception:
        return None
    if part is None:
        return None
    # SMTP delivers CRLF line ends; callers (JSON, <pre>) want plain "\n".
    return _part_content(part).replace("\r\n", "\n")


def _part_content(part: EmailMessage) -> str:
    if part.get_content_charset() is None:
        # No declared charset means ASCII by the RFCs, but undeclared 8-bit text from
        # sloppy senders is nearly always UTF-8; keep its Polish letters readable.
        with suppress(UnicodeDecodeError):
            return _payload_bytes(part).decode("utf-8")
    try:
        return part.get_content()
    except Exception:  # unknown charset or broken encoding: show what we can
        return _payload_bytes(part).decode("utf-8", errors="replace")


def _payload_bytes(part: EmailMessage) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""
