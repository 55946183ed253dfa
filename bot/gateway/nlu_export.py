"""``make nlu-inbox-export``: the NLU inbox's labelled messages as Rasa training data.

Writes ``data/nlu/inbox/<date>.yml`` (``<date>-2.yml``, … when that exists) in Rasa's YAML
format, entities in its ``[value](entity)`` syntax, and marks each message:

- ``exported`` — written;
- ``duplicate`` — the same text is already a training example anywhere under ``data/``
  (or earlier in this export); compared case- and diacritics-folded, punctuation ignored
  ("Nie mogę się zalogować!" = "nie moge sie zalogowac"). One labelled with another intent
  is reported as a conflict, never written (``rasa data validate`` would refuse it);
- ``refused`` — the secret detector (``bot/redaction.py``) still finds a password, PIN or code
  in it, or it holds a masked value or square brackets: never written;
- left ``labelled`` — its intent or an entity is no longer in the domain (relabel it).

The file is written before the rows are marked, in the rows' transaction: if marking fails,
the next export finds those texts in the file and marks them duplicates. Review the file
(``git diff``) before committing it; nothing here commits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.gateway.domain import Domain
from bot.gateway.inbox import learnable
from bot.gateway.models import InboxItem, InboxStatus, Message
from bot.redaction import redact

_LETTER_FOLD = str.maketrans("łŁ", "lL")  # the one Polish letter Unicode does not decompose
_WORD = re.compile(r"\w+(?:[@.+\-]\w+)*")
# An annotated example's entity: [text](entity), [text]{"entity": …}, [text][{…}]
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\}|\[[^\]]*\])")
_WHITESPACE = re.compile(r"\s+")
HEADER = """version: "3.1"

# Exported from the NLU inbox on {day} by `make nlu-inbox-export`: visitor messages the
# assistant misunderstood, labelled by editors in the advisers' console (/agent/nlu).
# Review before committing.

nlu:
"""


def fold(text: str) -> str:
    """What two examples must share to count as the same."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTER_FOLD))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(_WORD.findall(plain))


def training_examples(data_dir: Path) -> dict[str, str]:
    """Every intent example under ``data_dir`` (folded, without annotations) → its intent."""
    known: dict[str, str] = {}
    for path in sorted(data_dir.rglob("*.yml")):
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
        blocks = content.get("nlu") if isinstance(content, dict) else None
        for block in blocks or []:
            if not isinstance(block, dict) or not isinstance(block.get("examples"), str):
                continue
            if not isinstance(block.get("intent"), str):
                continue  # synonyms, regexes, lookup tables
            for line in block["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    known.setdefault(fold(_ANNOTATION.sub(r"\1", line[2:])), block["intent"])
    return known


def example_line(text: str, entities: list[dict[str, Any]]) -> str:
    """The example in Rasa's syntax on one line: ``mój mail to [jan@firma.pl](email)``."""
    pieces, position = [], 0
    for span in sorted(entities, key=lambda span: span["start"]):
        pieces.append(text[position:span["start"]])
        value = _WHITESPACE.sub(" ", text[span["start"]:span["end"]])
        pieces.append(f"[{value}]({span['entity']})")
        position = span["end"]
    pieces.append(text[position:])
    return _WHITESPACE.sub(" ", "".join(pieces)).strip()


def render(day: date, examples: dict[str, list[str]], order: tuple[str, ...]) -> str:
    out = [HEADER.format(day=day.isoformat())]
    for intent in sorted(examples, key=order.index):
        out.append(f"  - intent: {intent}\n    examples: |\n")
        out.extend(f"      - {line}\n" for line in examples[intent])
    return "".join(out)


def refusal(text: str) -> str | None:
    """Why a labelled text must never be written (None: it may)."""
    if redact(text).found:
        return "the secret detector found a password, PIN or code"
    if not learnable(text, secret=False):
        return "holds a masked value"
    if "[" in text or "]" in text:
        return "square brackets (Rasa's entity syntax)"
    return None


@dataclass
class ExportReport:
    path: Path | None = None
    written: int = 0
    duplicates: int = 0
    refused: int = 0
    kept: int = 0  # intent or entity no longer in the domain
    conflicts: list[str] = field(default_factory=list)  # "text: intent here / there"


async def export_inbox(
    sessions: async_sessionmaker[AsyncSession],
    data_dir: Path,
    out_dir: Path,
    domain: Domain,
    day: date,
    clock: Callable[[], datetime],
) -> ExportReport:
    """Write the labelled messages and mark them (see the module's docstring)."""
    known = training_examples(data_dir)
    report = ExportReport()
    async with sessions.begin() as session:
        rows = (
            await session.execute(
                select(InboxItem, Message.text)
                .join(Message, Message.id == InboxItem.message_id)
                .where(InboxItem.status == InboxStatus.LABELLED)
                .order_by(InboxItem.id)
                .with_for_update(of=InboxItem)
            )
        ).all()
        examples: dict[str, list[str]] = {}
        written: list[InboxItem] = []
        for item, text in rows:
            status, note = _verdict(item, text, known, domain, report)
            if status is InboxStatus.EXPORTED:
                examples.setdefault(item.intent, []).append(example_line(text, item.entities))
                known[fold(text)] = item.intent
                written.append(item)
            elif status is not None:
                _mark(item, status, note, clock())
        if written:
            report.path = _free_path(out_dir, day)
            report.path.parent.mkdir(parents=True, exist_ok=True)
            report.path.write_text(render(day, examples, domain.intents), encoding="utf-8")
            note = _relative(report.path)
            for item in written:
                _mark(item, InboxStatus.EXPORTED, note, clock())
        report.written = len(written)
    return report


def _verdict(
    item: InboxItem, text: str, known: dict[str, str], domain: Domain, report: ExportReport
) -> tuple[InboxStatus | None, str | None]:
    reason = refusal(text)
    if reason is not None:
        report.refused += 1
        return InboxStatus.REFUSED, reason
    if item.intent not in domain.labels or any(
        span["entity"] not in domain.entities for span in item.entities
    ):
        report.kept += 1
        item.export_note = "intent or entity no longer in the domain: label it again"
        return None, None
    there = known.get(fold(text))
    if there is None:
        return InboxStatus.EXPORTED, None
    report.duplicates += 1
    if there != item.intent:
        report.conflicts.append(f"{text!r}: labelled {item.intent}, training data has {there}")
        return InboxStatus.DUPLICATE, f"already a training example of {there}"[:200]
    return InboxStatus.DUPLICATE, "already a training example"


def _mark(item: InboxItem, status: InboxStatus, note: str | None, now: datetime) -> None:
    item.status = status
    item.export_note = note
    item.exported_at = now


def _free_path(out_dir: Path, day: date) -> Path:
    path, number = out_dir / f"{day.isoformat()}.yml", 2
    while path.exists():
        path, number = out_dir / f"{day.isoformat()}-{number}.yml", number + 1
    return path


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))[:200]
    except ValueError:
        return str(path)[-200:]
