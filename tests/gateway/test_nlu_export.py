"""``make nlu-inbox-export`` (``python -m bot.gateway.cli nlu-inbox-export``, a real process on
a real database): Rasa YAML with ``[value](entity)`` annotations, deduplicated against the
training data (case, diacritics and punctuation folded), never a secret, rows marked; the file
is read back by Rasa's own reader (its schema validation included)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.gateway.cli import migrate
from bot.gateway.db import create_engine, create_sessionmaker
from bot.gateway.models import Author, Conversation, InboxItem, InboxStatus, Message
from bot.gateway.nlu_export import fold, training_examples

ROOT = Path(__file__).resolve().parents[2]
RASA_PY = ROOT / ".venv" / "rasa" / "bin" / "python"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
TRAINING = """version: "3.1"
nlu:
  - intent: reset_password
    examples: |
      - Nie pamiętam hasła!
  - intent: inform
    examples: |
      - mój mail to [jan@firma.pl](email)
      - [anna@firma.pl]{"entity": "email", "role": "member"} ma dostać dostęp
  - synonym: green
    examples: |
      - zielony
"""
SECRET = "Zima2026!xq"
ZIELONY = "a ten zielony to ile kosztuje"
EURO = "czy mogę wystawić fakturę w euro"


def span(text: str, word: str, entity: str) -> dict:
    start = text.index(word)
    return {"start": start, "end": start + len(word), "entity": entity}


# (text, status, intent, entities): what the editors left in the inbox
ROWS = [
    ("nie pamietam hasla", "labelled", "reset_password", []),  # in the data, folded
    ("moj mail to jan@firma.pl", "labelled", "inform", []),  # in the data, annotated there
    (ZIELONY, "labelled", "packages_info", [span(ZIELONY, "zielony", "package")]),
    (EURO, "labelled", "out_of_scope", []),
    ("Czy mogę wystawić fakturę w EURO?", "labelled", "out_of_scope", []),  # same as above
    ("nie pamiętam hasła", "labelled", "login_help", []),  # in the data as reset_password
    (f"zmieniłem na {SECRET} i nie działa", "labelled", "login_help", []),  # slipped through
    ("nie mogę\n  się   zalogować do [panelu]", "labelled", "login_help", []),  # brackets
    ("ktoś mi\nzmienił   rolę", "labelled", "change_role", []),  # whitespace folded
    ("stara intencja", "labelled", "removed_intent", []),  # no longer in the domain
    ("jeszcze nikt nie patrzył", "waiting", None, []),
    ("to pomińmy", "skipped", None, []),
]


@pytest.fixture
async def sessions(database_url):
    await asyncio.to_thread(migrate, database_url)
    engine = create_engine(database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def seed(sessions, rows) -> list[int]:
    ids = []
    async with sessions.begin() as session:
        conversation = Conversation(session_id=uuid.uuid4().hex, created_at=NOW,
                                    last_message_at=NOW)
        session.add(conversation)
        await session.flush()
        for seq, (text, status, intent, entities) in enumerate(rows, start=1):
            message = Message(conversation_id=conversation.id, seq=seq, author=Author.VISITOR,
                              text=text, intent="nlu_fallback", created_at=NOW)
            session.add(message)
            await session.flush()
            item = InboxItem(message_id=message.id, reasons=["fallback"],
                             status=InboxStatus(status), intent=intent, entities=entities,
                             created_at=NOW)
            session.add(item)
            await session.flush()
            ids.append(item.id)
        conversation.last_seq = len(rows)
    return ids


async def statuses(sessions, ids) -> list[tuple[str, str | None]]:
    async with sessions() as session:
        items = {i.id: i for i in (await session.scalars(select(InboxItem))).all()}
    return [(items[i].status.value, items[i].export_note) for i in ids]


def export(database_url: str, data: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url, "POMOCNIK_ENV": "development"}
    return subprocess.run(
        [sys.executable, "-m", "bot.gateway.cli", "nlu-inbox-export", "--data", str(data),
         "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def data_dir(tmp_path) -> Path:
    data = tmp_path / "data"
    (data / "nlu").mkdir(parents=True)
    (data / "nlu" / "existing.yml").write_text(TRAINING, encoding="utf-8")
    return data


async def test_export_writes_new_examples_once_and_marks_every_row(sessions, database_url,
                                                                   data_dir):
    ids = await seed(sessions, ROWS)
    out = data_dir / "nlu" / "inbox"

    result = export(database_url, data_dir, out)

    assert result.returncode == 0, result.stderr
    [written] = sorted(out.glob("*.yml"))
    content = written.read_text(encoding="utf-8")
    assert SECRET not in content + result.stdout + result.stderr
    assert "3 new example(s) written" in result.stdout
    assert "4 already in the training data; 2 refused" in result.stdout
    assert "1 left to relabel" in result.stdout
    assert "conflict, not written: 'nie pamiętam hasła': labelled login_help, training data " \
           "has reset_password" in result.stdout
    parsed = yaml.safe_load(content)
    assert parsed["version"] == "3.1"
    assert {block["intent"]: block["examples"] for block in parsed["nlu"]} == {
        "out_of_scope": f"- {EURO}\n",
        "packages_info": "- a ten [zielony](package) to ile kosztuje\n",
        "change_role": "- ktoś mi zmienił rolę\n",
    }
    note = f"{written}"
    assert await statuses(sessions, ids) == [
        ("duplicate", "already a training example"),
        ("duplicate", "already a training example"),
        ("exported", note),
        ("exported", note),
        ("duplicate", "already a training example"),
        ("duplicate", "already a training example of reset_password"),
        ("refused", "the secret detector found a password, PIN or code"),
        ("refused", "square brackets (Rasa's entity syntax)"),
        ("exported", note),
        ("labelled", "intent or entity no longer in the domain: label it again"),
        ("waiting", None),
        ("skipped", None),
    ]

    again = export(database_url, data_dir, out)  # nothing new: no file
    later = (await seed(sessions, [("CZY mogę wystawić fakturę w euro", "labelled",
                                    "out_of_scope", []),
                                   ("a gdzie jest KSeF", "labelled", "out_of_scope", [])]))[1]
    third = export(database_url, data_dir, out)

    assert "0 new example(s) written;" in again.stdout
    assert {p.name for p in out.glob("*.yml")} == {written.name, written.stem + "-2.yml"}
    assert "1 new example(s) written" in third.stdout  # the first file counts as data now
    assert (await statuses(sessions, [later]))[0][0] == "exported"


@pytest.mark.skipif(not RASA_PY.exists(), reason="the Rasa environment is not installed")
async def test_rasa_reads_the_exported_file(sessions, database_url, data_dir):
    await seed(sessions, ROWS)
    out = data_dir / "nlu" / "inbox"
    assert export(database_url, data_dir, out).returncode == 0
    [written] = out.glob("*.yml")

    # Rasa's own reader (it validates the file against Rasa's YAML schema first).
    script = (
        "import json, sys\n"
        "from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader\n"
        "data = RasaYAMLReader().read(sys.argv[1])\n"
        "print(json.dumps([[m.get('text'), m.get('intent'), m.get('entities') or []]"
        " for m in data.intent_examples]))\n"
    )
    read = subprocess.run([str(RASA_PY), "-c", script, str(written)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})

    assert read.returncode == 0, read.stderr[-2000:]
    examples = json.loads(read.stdout.strip().splitlines()[-1])
    assert [ZIELONY, "packages_info",
            [{"start": 6, "end": 13, "value": "zielony", "entity": "package"}]] in examples
    assert [EURO, "out_of_scope", []] in examples
    assert len(examples) == 3


def test_fold_ignores_case_diacritics_and_punctuation():
    assert fold("Czy mogę wystawić FAKTURĘ w euro?!") == fold("czy moge wystawic fakture w euro")
    assert fold("Łódź, żółć") == "lodz zolc"
    assert fold("mój mail to jan.nowak@firma.pl.") == "moj mail to jan.nowak@firma.pl"
    assert fold("nie mogę") != fold("nie moge sie")


def test_training_examples_are_read_without_annotations_synonyms_or_regexes(data_dir):
    repository = training_examples(ROOT / "data")

    assert training_examples(data_dir) == {
        "nie pamietam hasla": "reset_password",
        "moj mail to jan@firma.pl": "inform",
        "anna@firma.pl ma dostac dostep": "inform",
    }
    assert repository[fold("jakie role mogę nadać?")] == "roles_info"
    assert repository[fold("mój mail to piotr@firma.pl")] == "inform"
