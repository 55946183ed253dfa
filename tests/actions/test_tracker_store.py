"""The conversation store keeps PINs, codes, grants and passwords out of the database.

Real Rasa trackers are saved with `RedactingSQLTrackerStore` into a temporary SQLite file; the
raw rows are then read with `sqlite3`, and the trackers are read back through the store.
"""

from __future__ import annotations

import json
import sqlite3
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from cryptography.fernet import Fernet

from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    EntitiesAdded,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

from bot.rasa_ext.tracker_store import (
    DEV_TRACKER_SECRET_KEY,
    MASK,
    PASSWORD_REDACTED_TEXT,
    SECRET_SLOTS,
    RedactingSQLTrackerStore,
    TrackerStoreConfigError,
    load_cipher,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

PIN = "4821"
CODE = "739104"
GRANT = "grant-secret-xyz"
PASSWORD = "Tajne123!"
EMAIL = "jan.kowalski@firma.pl"
SECRETS = (PIN, CODE, GRANT, PASSWORD)

DEV_ENV = {"POMOCNIK_ENV": "development"}


def _domain() -> Domain:
    with warnings.catch_warnings():
        # Rasa reminds on every domain built from a dict that slot auto-fill is gone
        warnings.filterwarnings("ignore", message="Slot auto-fill", category=UserWarning)
        return Domain.from_dict(_DOMAIN_DICT)


_DOMAIN_DICT: Dict[str, Any] = {
    "version": "3.1",
    "intents": ["greet", "inform", "share_password", "reset_password"],
    "entities": ["email", "pin", "verification_code"],
    "slots": {
        name: {"type": "text", "influence_conversation": False, "mappings": [{"type": "custom"}]}
        for name in ("email", "pin", "verification_code", "verification_grant")
    },
    "forms": {"registration_form": {"required_slots": ["pin"]}},
    "responses": {
        "utter_ask_pin": [{"text": "Podaj PIN licencji."}],
        "utter_ask_verification_code": [{"text": "Podaj 6-cyfrowy kod z e-maila."}],
    },
}
DOMAIN = _domain()


def user(text: str, intent: str, entities: Optional[List[Dict[str, Any]]] = None) -> UserUttered:
    entities = entities or []
    return UserUttered(
        text,
        intent={"name": intent, "confidence": 0.98},
        entities=entities,
        parse_data={
            "text": text,
            "intent": {"name": intent, "confidence": 0.98},
            "entities": entities,
            "intent_ranking": [{"name": intent, "confidence": 0.98}],
        },
        input_channel="rest",
        message_id="0a1b2c3d4e5f",
    )


def entity(name: str, value: str, text: str) -> Dict[str, Any]:
    start = text.index(value)
    return {
        "entity": name,
        "value": value,
        "start": start,
        "end": start + len(value),
        "extractor": "RegexEntityExtractor",
    }


def session_start() -> List:
    return [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
    ]


def first_turns() -> List:
    """Registration asks for the PIN, the user gives it, then a verification code and a grant."""
    pin_text = f"mój pin to {PIN}"
    return [
        user("chcę się zarejestrować", "inform"),
        ActionExecuted("registration_form"),
        ActiveLoop("registration_form"),
        SlotSet("requested_slot", "pin"),
        BotUttered("Podaj PIN licencji."),
        ActionExecuted("action_listen"),
        user(pin_text, "inform", [entity("pin", PIN, pin_text)]),
        SlotSet("pin", PIN),
        ActionExecuted("registration_form"),
        SlotSet("requested_slot", "verification_code"),
        BotUttered("Podaj 6-cyfrowy kod z e-maila."),
        ActionExecuted("action_listen"),
        user(CODE, "inform"),  # plain number: no entity, but the form asked for the code
        SlotSet("verification_code", CODE),
        SlotSet("verification_grant", GRANT),
        ActionExecuted("registration_form"),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        ActionExecuted("action_listen"),
    ]


def later_turns() -> List:
    return [
        user(f"moje hasło to {PASSWORD}", "share_password"),
        ActionExecuted("action_listen"),
        user("nie pamiętam hasła", "reset_password"),
        SlotSet("requested_slot", "email"),
        BotUttered("Podaj adres e-mail, którym logujesz się do konta."),
        ActionExecuted("action_listen"),
        user(EMAIL, "inform", [entity("email", EMAIL, EMAIL)]),
        SlotSet("email", EMAIL),
        ActionExecuted("action_listen"),
    ]


def make_tracker(events: List, sender_id: str = "conv-1") -> DialogueStateTracker:
    return DialogueStateTracker.from_events(sender_id, events, DOMAIN.slots)


def make_store(
    db: Path, environ: Optional[Dict[str, str]] = None, **kwargs: Any
) -> RedactingSQLTrackerStore:
    return RedactingSQLTrackerStore(
        domain=DOMAIN, dialect="sqlite", db=str(db), environ=environ or DEV_ENV, **kwargs
    )


def raw_rows(db: Path) -> List[Dict[str, Any]]:
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute("SELECT * FROM events ORDER BY id")]


def raw_dump(db: Path) -> str:
    """Everything stored, both as written (JSON-escaped) and decoded."""
    rows = raw_rows(db)
    decoded = [json.dumps(json.loads(row["data"]), ensure_ascii=False) for row in rows]
    return "\n".join([repr(rows), *decoded])


def stored_user_texts(db: Path) -> List[str]:
    return [json.loads(row["data"])["text"] for row in raw_rows(db) if row["type_name"] == "user"]


def user_texts(tracker: DialogueStateTracker) -> List[str]:
    return [event.text for event in tracker.events if isinstance(event, UserUttered)]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "var" / "rasa-tracker.db"  # `var/` does not exist yet


async def test_secrets_never_reach_the_database_in_clear(db: Path) -> None:
    store = make_store(db)
    await store.save(make_tracker(session_start() + first_turns() + later_turns()))

    dump = raw_dump(db)
    for secret in SECRETS:
        assert secret not in dump
    # the 6-digit code, whatever its value, is nowhere
    for row in raw_rows(db):
        data = json.loads(row["data"])
        if data["event"] == "user":
            assert not any(ch.isdigit() for ch in data["text"]) or data["text"] == EMAIL
    assert db.parent.is_dir()


async def test_secret_slots_are_encrypted_and_user_texts_redacted_in_the_rows(db: Path) -> None:
    store = make_store(db)
    await store.save(make_tracker(session_start() + first_turns() + later_turns()))

    rows = [json.loads(row["data"]) for row in raw_rows(db)]
    secret_slot_values = [
        row["value"] for row in rows if row["event"] == "slot" and row["name"] in SECRET_SLOTS
    ]
    assert len(secret_slot_values) == 3
    assert all(value.startswith("fernet:v1:") for value in secret_slot_values)

    users = [row for row in rows if row["event"] == "user"]
    by_intent = {row["parse_data"]["intent"]["name"]: row for row in users}
    pin_message = users[1]
    assert pin_message["text"] == "mój pin to ••••"
    assert pin_message["parse_data"]["text"] == "mój pin to ••••"
    assert pin_message["parse_data"]["entities"][0]["value"] == MASK
    assert users[2]["text"] == "••••••"  # the plain code, asked for by the form
    assert by_intent["share_password"]["text"] == PASSWORD_REDACTED_TEXT
    assert by_intent["share_password"]["parse_data"]["text"] == PASSWORD_REDACTED_TEXT
    # the intent column still tells what happened
    assert "share_password" in [row["intent_name"] for row in raw_rows(db)]


async def test_retrieve_gives_the_conversation_back_with_decrypted_slots(db: Path) -> None:
    store = make_store(db)
    await store.save(make_tracker(session_start() + first_turns()))

    tracker = await make_store(db).retrieve("conv-1")  # a fresh process reading the store

    assert tracker is not None
    assert tracker.get_slot("pin") == PIN
    assert tracker.get_slot("verification_code") == CODE
    assert tracker.get_slot("verification_grant") == GRANT
    assert tracker.get_slot("requested_slot") is None
    assert user_texts(tracker) == ["chcę się zarejestrować", "mój pin to ••••", "••••••"]


async def test_incremental_save_appends_only_new_events_and_keeps_them_protected(db: Path) -> None:
    store = make_store(db)
    await store.save(make_tracker(session_start() + first_turns()))
    first_count = len(raw_rows(db))

    # Rasa's next turn: read the tracker back, add events, save again.
    tracker = await store.retrieve("conv-1")
    for event in later_turns():
        tracker.update(event)
    await store.save(tracker)

    rows = raw_rows(db)
    assert len(rows) == first_count + len(later_turns())
    dump = raw_dump(db)
    for secret in SECRETS:
        assert secret not in dump

    again = await store.retrieve("conv-1")
    assert again.get_slot("verification_grant") == GRANT
    assert again.get_slot("email") == EMAIL
    assert user_texts(again)[-3:] == [PASSWORD_REDACTED_TEXT, "nie pamiętam hasła", EMAIL]


async def test_non_secret_text_is_stored_unchanged(db: Path) -> None:
    store = make_store(db)
    await store.save(make_tracker(session_start() + later_turns()))

    texts = stored_user_texts(db)
    assert "nie pamiętam hasła" in texts
    assert EMAIL in texts
    email_row = next(
        json.loads(row["data"]) for row in raw_rows(db) if row["type_name"] == "slot"
        and json.loads(row["data"])["name"] == "email"
    )
    assert email_row["value"] == EMAIL


async def test_a_pin_repeated_later_without_a_prompt_is_masked_too(db: Path) -> None:
    events = session_start() + first_turns() + [
        user(f"przecież podałem już {PIN}, prawda?", "inform"),
        BotUttered(f"echo {GRANT}"),  # even if a response ever interpolated a secret
        ActionExecuted("action_listen"),
    ]
    await make_store(db).save(make_tracker(events))

    dump = raw_dump(db)
    assert PIN not in dump and GRANT not in dump
    assert "przecież podałem już ••••, prawda?" in stored_user_texts(db)


@pytest.mark.parametrize(
    "text, intent, stored",
    [
        (f"mój PIN to {PIN}", "out_of_scope", "mój PIN to ••••"),
        (f"kod: {CODE}", "inform", "kod: ••••••"),
        (f"moje haslo to {PASSWORD}", "inform", f"moje haslo to {PASSWORD_REDACTED_TEXT}"),
        (
            f"loguję się {EMAIL} i hasłem {PASSWORD} i nie działa",
            "login_problem",
            f"loguję się {EMAIL} i hasłem {PASSWORD_REDACTED_TEXT} i nie działa",
        ),
        (PASSWORD, "nlu_fallback", PASSWORD_REDACTED_TEXT),
        (f"ID 68577 PIN {PIN}", "out_of_scope", "ID ••••• PIN ••••"),
        (f'/inform{{"pin":"{PIN}"}}', "inform", '/inform{"pin":"••••"}'),
        ("chcę zmienić pakiet na złoty", "change_package", "chcę zmienić pakiet na złoty"),
        ("ile kosztuje 799 zł z VAT 23%", "packages_info", "ile kosztuje 799 zł z VAT 23%"),
        ("NIP mam gdzieś w papierach", "inform", "NIP mam gdzieś w papierach"),
        ("hasło jest za krótkie", "password_requirements", "hasło jest za krótkie"),
        ("pinezka 3 razy", "out_of_scope", "pinezka 3 razy"),
    ],
)
async def test_secrets_the_nlu_missed_are_caught_by_the_safety_net(
    db: Path, text: str, intent: str, stored: str
) -> None:
    events = session_start() + [user(text, intent), ActionExecuted("action_listen")]
    await make_store(db).save(make_tracker(events))
    assert stored_user_texts(db) == [stored]


async def test_entities_added_events_are_masked(db: Path) -> None:
    text = f"pin {PIN}"
    events = session_start() + [
        user(text, "inform"),
        EntitiesAdded([entity("pin", PIN, text)]),
        ActionExecuted("action_listen"),
    ]
    await make_store(db).save(make_tracker(events))
    assert PIN not in raw_dump(db)


async def test_the_running_conversation_keeps_its_clear_values(db: Path) -> None:
    tracker = make_tracker(session_start() + first_turns())
    await make_store(db).save(tracker)

    # only the stored copies are redacted; the in-memory tracker of the request is untouched
    assert f"mój pin to {PIN}" in user_texts(tracker)
    assert tracker.get_slot("pin") == PIN


async def test_a_value_encrypted_with_another_key_becomes_none(db: Path) -> None:
    old_key = Fernet.generate_key().decode()
    await make_store(db, {"TRACKER_SECRET_KEY": old_key}).save(
        make_tracker(session_start() + first_turns())
    )

    new_key = Fernet.generate_key().decode()
    tracker = await make_store(db, {"TRACKER_SECRET_KEY": new_key}).retrieve("conv-1")

    assert tracker is not None
    assert tracker.get_slot("pin") is None
    assert tracker.get_slot("verification_grant") is None

    # with the old key still listed (rotation), the values decrypt
    rotated = await make_store(db, {"TRACKER_SECRET_KEY": f"{new_key},{old_key}"}).retrieve(
        "conv-1"
    )
    assert rotated.get_slot("pin") == PIN


async def test_full_tracker_for_exports_carries_no_secret_values(db: Path) -> None:
    store = make_store(db)
    await store.save(make_tracker(session_start() + first_turns()))

    full = await store.retrieve_full_tracker("conv-1")

    assert full is not None
    assert all(full.get_slot(name) is None for name in SECRET_SLOTS)
    assert "mój pin to ••••" in user_texts(full)


async def test_an_event_broker_receives_the_protected_events(db: Path) -> None:
    published: List[Dict[str, Any]] = []

    class Broker:
        def publish(self, event: Dict[str, Any]) -> None:
            published.append(event)

    store = make_store(db)
    store.event_broker = Broker()
    await store.save(make_tracker(session_start() + first_turns() + later_turns()))

    assert len(published) == len(raw_rows(db))
    text = json.dumps(published, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in text


async def test_secret_slot_list_comes_from_endpoint_kwargs(db: Path) -> None:
    store = make_store(db, secret_slots=["pin"])
    await store.save(make_tracker(session_start() + first_turns()))
    assert GRANT in raw_dump(db)  # no longer secret under this configuration
    assert store.secret_slots == frozenset({"pin"})


def test_refuses_to_start_outside_development_without_a_key(db: Path) -> None:
    with pytest.raises(TrackerStoreConfigError, match="TRACKER_SECRET_KEY"):
        make_store(db, {"POMOCNIK_ENV": "production"})
    with pytest.raises(TrackerStoreConfigError, match="development key"):
        make_store(db, {"POMOCNIK_ENV": "production", "TRACKER_SECRET_KEY": DEV_TRACKER_SECRET_KEY})
    assert not db.exists()

    production_key = Fernet.generate_key().decode()
    make_store(db, {"POMOCNIK_ENV": "production", "TRACKER_SECRET_KEY": production_key})


def test_development_falls_back_to_the_development_key() -> None:
    for environ in ({}, {"POMOCNIK_ENV": ""}, {"POMOCNIK_ENV": " Development "}):
        token = load_cipher(environ).encrypt(b"x")
        assert Fernet(DEV_TRACKER_SECRET_KEY).decrypt(token) == b"x"


def test_a_malformed_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(TrackerStoreConfigError) as info:
        load_cipher({"TRACKER_SECRET_KEY": "not-a-fernet-key"})
    assert "not-a-fernet-key" not in str(info.value)


async def test_endpoints_yml_loads_this_store_with_a_relative_sqlite_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # Rasa is started from the repository root; `var/` is missing
    monkeypatch.delenv("TRACKER_DB_URL", raising=False)
    monkeypatch.delenv("TRACKER_SECRET_KEY", raising=False)
    monkeypatch.setenv("POMOCNIK_ENV", "development")
    config = read_endpoint_config(str(REPO_ROOT / "endpoints.yml"), "tracker_store")

    store = TrackerStore.create(config, domain=DOMAIN)

    assert isinstance(store, RedactingSQLTrackerStore)
    await store.save(make_tracker(session_start() + first_turns()))
    assert (tmp_path / "var" / "rasa-tracker.db").is_file()
    assert PIN not in raw_dump(tmp_path / "var" / "rasa-tracker.db")


def test_tracker_db_url_overrides_the_endpoints_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "elsewhere" / "tracker.db"
    store = RedactingSQLTrackerStore(
        domain=DOMAIN,
        dialect="sqlite",
        db=str(tmp_path / "unused.db"),
        environ={"TRACKER_DB_URL": f"sqlite:///{target}"},
    )
    assert store.engine.url.database == str(target)
    assert target.parent.is_dir()
    assert not (tmp_path / "unused.db").exists()


# ---------------------------------------------------------------- metadata (signed-in visitors)


def signed_in(text: str, intent: str) -> UserUttered:
    """A message the gateway relayed for a signed-in visitor: the grant is in its metadata."""
    event = user(text, intent)
    identity = {"pomocnik_identity": {"grant": GRANT, "name": "Jan Kowalski", "email": EMAIL}}
    event.metadata = {**identity, "pomocnik_client": {"network": "127.0.0.0/24"}}
    event.parse_data["metadata"] = json.loads(json.dumps(event.metadata))
    return event


async def test_the_grant_in_message_metadata_is_never_stored(db: Path) -> None:
    store = make_store(db)
    message = signed_in("jaki mam pakiet?", "packages_status")
    tracker = make_tracker(session_start() + [message, ActionExecuted("action_listen")])

    await store.save(tracker)

    assert GRANT not in raw_dump(db)
    [stored] = [json.loads(row["data"]) for row in raw_rows(db) if row["type_name"] == "user"]
    # the rest of the metadata stays (name, e-mail, the gateway's other keys)
    assert stored["metadata"] == {
        "pomocnik_identity": {"name": "Jan Kowalski", "email": EMAIL},
        "pomocnik_client": {"network": "127.0.0.0/24"},
    }
    assert "grant" not in stored["parse_data"]["metadata"]["pomocnik_identity"]
    # the running turn still has it (actions read the in-memory latest message)
    assert tracker.latest_message.metadata["pomocnik_identity"]["grant"] == GRANT
    # and what the tracker API would return (retrieve / retrieve_full_tracker) has none
    for read in (await store.retrieve("conv-1"), await store.retrieve_full_tracker("conv-1")):
        assert read is not None
        assert GRANT not in json.dumps(read.current_state(), default=str)
        assert GRANT not in json.dumps([e.as_dict() for e in read.events], default=str)


async def test_the_grant_copied_into_session_started_metadata_is_never_stored(db: Path) -> None:
    # Rasa's action_session_start copies the first message's metadata into this slot.
    copied = {"pomocnik_identity": {"grant": GRANT, "name": "Jan Kowalski"}}
    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("session_started_metadata", copied),
        ActionExecuted("action_listen"),
        signed_in("dzień dobry", "greet"),
    ]
    store = make_store(db)
    await store.save(make_tracker(events))

    assert GRANT not in raw_dump(db)
    assert '"grant"' not in raw_dump(db)
    full = await store.retrieve_full_tracker("conv-1")
    assert full is not None
    assert full.get_slot("session_started_metadata") == {
        "pomocnik_identity": {"name": "Jan Kowalski"}
    }


async def test_credential_like_metadata_keys_are_dropped_at_any_depth(db: Path) -> None:
    message = user("dzień dobry", "greet")
    message.metadata = {
        "sessionToken": "tok-123456",
        "auth": {"access_token": "tok-abcdef", "scope": "chat"},
        "widget": {"password": "Tajne123!", "lang": "pl", "pin_code": "4821"},
        "tab_title": "Panel",
    }
    await make_store(db).save(
        make_tracker(session_start() + [message, ActionExecuted("action_listen")])
    )
    [stored] = [json.loads(row["data"]) for row in raw_rows(db) if row["type_name"] == "user"]
    assert stored["metadata"] == {
        "auth": {"scope": "chat"},
        "widget": {"lang": "pl"},
        "tab_title": "Panel",
    }


async def test_rows_stored_before_the_cleaning_come_back_without_the_grant(db: Path) -> None:
    store = make_store(db)
    await store.save(make_tracker(session_start() + [user("hej", "greet")]))
    # an old row, written with the grant in its metadata
    with sqlite3.connect(db) as connection:
        row_id, data = connection.execute(
            "SELECT id, data FROM events WHERE type_name = 'user'"
        ).fetchone()
        event = json.loads(data)
        event["metadata"] = {"pomocnik_identity": {"grant": GRANT, "name": "Jan"}}
        connection.execute("UPDATE events SET data = ? WHERE id = ?", (json.dumps(event), row_id))

    full = await store.retrieve_full_tracker("conv-1")
    assert full is not None
    assert GRANT not in json.dumps([e.as_dict() for e in full.events], default=str)
