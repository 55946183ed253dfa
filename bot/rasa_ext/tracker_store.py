"""Persistent Rasa tracker store that keeps the secrets typed in the chat out of the record.

`RedactingSQLTrackerStore` is Rasa 3.6's `SQLTrackerStore` (SQLite under `var/` by default,
PostgreSQL for scale-out) with one change: every event passes through `_protect` before it is
written to the database (or published to an event broker), and through `_unprotect` when the
conversation is read back.

What is protected
-----------------
* Secret slots (`SECRET_SLOTS`: `pin`, `verification_code`, `verification_grant`). The
  conversation still needs them after they were set (the PIN until the registration form is
  submitted, the 15-minute verification grant for the rest of the conversation) and Rasa re-reads
  the tracker from the store on every message, so their `SlotSet` values are *encrypted* at rest
  with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) and stored as
  ``"fernet:v1:<token>"``. `retrieve` (the live conversation path) decrypts them; a value that does
  not decrypt (the key was rotated away) becomes ``None`` and a warning is logged, never an error.
  `retrieve_full_tracker` (read-only consumers: `rasa export`, the HTTP API tracker dump, marker
  evaluation) returns them as ``None``: transcripts never carry the secrets.
* The text of every user message, irreversibly, through the secret detector shared with the
  gateway's transcript (`bot.redaction.redact`): passwords in any phrasing become
  ``"[hasło usunięte]"``, PINs, codes, Comarch IDs and NIPs near their cue words (also inside
  intent payloads such as ``/inform{"pin":"4821"}``) have every digit replaced by ``"•"``.
  In addition:
    - (a) the last `requested_slot` set before the message is a secret slot, or
    - (b) the message's entities include a secret entity (`SECRET_ENTITIES`: `pin`,
      `verification_code`):
      every digit of `text` / `parse_data.text` becomes ``"•"``; the values of secret entities
      become ``"••••"`` (`MASK`) and digits in the other entities' values are masked too;
    - (c) the message's intent is `share_password` (`PASSWORD_INTENTS`; the user typed a password
      in the chat): the whole text becomes ``"[hasło usunięte]"`` (`PASSWORD_REDACTED_TEXT`) and
      every entity value becomes `MASK`.
  Entity values that hold a value the detector masked in the text are masked the same way.
* Message metadata: keys that name a credential (``grant``, ``token``, ``password``, ``secret``,
  ``pin``, ``code``, …) are dropped from every event's ``metadata`` (and ``parse_data.metadata``)
  and from dict values of the other slots (``session_started_metadata``, where Rasa copies the
  first message's metadata), both when writing and when reading. The gateway sends a signed-in visitor's
  ``pomocnik_identity.grant`` with every message; the running turn reads it from the in-memory
  message, so the record never needs it (Rasa's tracker API cannot return it).
* Known secret values anywhere else: every value of a secret slot or secret entity seen in the
  conversation (at least `MIN_KNOWN_SECRET_LENGTH` characters) is masked with ``"•"`` in user and
  bot texts, entity values and the values of the other slots - e.g. a PIN repeated later when the
  form no longer asks for it.

The in-memory tracker of the running request is not modified: only the serialised copies are.

Once a tracker is saved, `save` hands its events to the gateway's input channel
(`bot.rasa_ext.channel.tracker_saved`), which answers the summary of the turn it ran (intents,
actions, forms: no values, no texts) with the bot's messages; nothing is kept beyond the request.

Configuration
-------------
``endpoints.yml``::

    tracker_store:
      type: bot.rasa_ext.tracker_store.RedactingSQLTrackerStore
      dialect: sqlite
      db: var/rasa-tracker.db        # relative to the working directory (the repository root)
      # optional, replace the defaults above:
      # secret_slots: [pin, verification_code, verification_grant]
      # secret_entities: [pin, verification_code]
      # password_intents: [share_password]

Environment:
    TRACKER_SECRET_KEY  Fernet key(s) (``Fernet.generate_key()``); several keys separated by
                        commas rotate: the first encrypts, all decrypt. Required unless
                        POMOCNIK_ENV is "development" (the default), which falls back to
                        `DEV_TRACKER_SECRET_KEY`; outside development the development key is
                        refused too.
    TRACKER_DB_URL      SQLAlchemy URL replacing dialect/db/url from endpoints.yml, e.g.
                        ``postgresql://rasa:…@db:5432/rasa`` (several Rasa replicas then also need
                        the Redis lock store) or ``sqlite:///var/rasa-tracker.db``.
    POMOCNIK_ENV        deployment environment (default "development").

For a SQLite database the parent directory is created when missing. The store issues no
dialect-specific SQL beyond Rasa's own, so PostgreSQL works the same way.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Text

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.rasa_ext.channel import tracker_saved
from bot.redaction import DIGIT_MASK, PASSWORD, PASSWORD_REDACTED_TEXT, redact

logger = logging.getLogger(__name__)

# Slots whose values are encrypted at rest (the single list; `secret_slots` in endpoints.yml
# replaces it).
SECRET_SLOTS: Sequence[Text] = ("pin", "verification_code", "verification_grant")
# Entities whose presence marks a user message as carrying a secret.
SECRET_ENTITIES: Sequence[Text] = ("pin", "verification_code")
# Intents meaning "the user typed a password in the chat": the whole text is dropped.
PASSWORD_INTENTS: Sequence[Text] = ("share_password",)

REQUESTED_SLOT = "requested_slot"
MASK = "••••"  # replaces the value of a secret entity
MIN_KNOWN_SECRET_LENGTH = 4  # shorter known values are not searched for in other texts

ENCRYPTED_PREFIX = "fernet:v1:"
SECRET_KEY_ENV = "TRACKER_SECRET_KEY"
DB_URL_ENV = "TRACKER_DB_URL"
DEVELOPMENT = "development"
# base64url of b"pomocnik-development-tracker-key": public, development only.
DEV_TRACKER_SECRET_KEY = "cG9tb2NuaWstZGV2ZWxvcG1lbnQtdHJhY2tlci1rZXk="

_DIGIT = re.compile(r"\d")
# Metadata keys dropped before an event is stored: the parts of a key ("pomocnik_identity" ->
# "pomocnik", "identity"; "sessionToken" -> "session", "token") are compared with these.
SECRET_METADATA_KEY_PARTS = frozenset(
    {
        "grant", "token", "password", "passwd", "secret", "pin", "code", "otp", "haslo",
        "hasło", "authorization", "cookie", "credential", "credentials", "apikey",
    }
)
_RESET_EVENTS = {"session_started", "restart", "reset_slots"}


class TrackerStoreConfigError(RuntimeError):
    """The tracker store's configuration is unusable or unsafe.

    Deliberately not an ImportError/AttributeError: Rasa silently falls back to the in-memory
    store on those when it loads a custom tracker store.
    """


def load_cipher(environ: Optional[Mapping[str, str]] = None) -> MultiFernet:
    """The Fernet cipher from TRACKER_SECRET_KEY (development key only in development)."""
    env = os.environ if environ is None else environ
    environment = (env.get("POMOCNIK_ENV") or DEVELOPMENT).strip().lower() or DEVELOPMENT
    raw = (env.get(SECRET_KEY_ENV) or "").strip()
    if not raw:
        if environment != DEVELOPMENT:
            raise TrackerStoreConfigError(
                f"POMOCNIK_ENV={environment!r}: set {SECRET_KEY_ENV} (a Fernet key, e.g. "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`); the conversation store refuses to "
                "start without it outside development"
            )
        raw = DEV_TRACKER_SECRET_KEY
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    if environment != DEVELOPMENT and DEV_TRACKER_SECRET_KEY in keys:
        raise TrackerStoreConfigError(
            f"POMOCNIK_ENV={environment!r}: {SECRET_KEY_ENV} holds the public development key"
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError):
        # the message never contains the key itself
        raise TrackerStoreConfigError(
            f"{SECRET_KEY_ENV} must be one or more comma-separated Fernet keys "
            "(32 url-safe base64-encoded bytes)"
        ) from None


def _ensure_sqlite_directory(dialect: Text, host: Optional[Text], db: Text) -> None:
    """Creates the parent directory of a SQLite database file (e.g. `var/`)."""
    if host and "://" in host:
        url = sa.engine.make_url(host)
        if url.get_backend_name() != "sqlite":
            return
        database = url.database
    elif (dialect or "").split("+")[0] == "sqlite":
        database = db
    else:
        return
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _names(values: Optional[Iterable[Text]], default: Sequence[Text]) -> frozenset:
    if values is None:
        return frozenset(default)
    if isinstance(values, str):
        values = [values]
    return frozenset(str(value) for value in values)


class RedactingSQLTrackerStore(SQLTrackerStore):
    """SQL tracker store that encrypts secret slots and redacts secret user texts."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        dialect: Text = "sqlite",
        host: Optional[Text] = None,
        port: Optional[int] = None,
        db: Text = "var/rasa-tracker.db",
        username: Optional[Text] = None,
        password: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        login_db: Optional[Text] = None,
        query: Optional[Dict] = None,
        secret_slots: Optional[Iterable[Text]] = None,
        secret_entities: Optional[Iterable[Text]] = None,
        password_intents: Optional[Iterable[Text]] = None,
        environ: Optional[Mapping[str, str]] = None,
        **kwargs: Any,
    ) -> None:
        env = os.environ if environ is None else environ
        try:
            self._cipher = load_cipher(env)
            self.secret_slots = _names(secret_slots, SECRET_SLOTS)
            self.secret_entities = _names(secret_entities, SECRET_ENTITIES)
            self.password_intents = _names(password_intents, PASSWORD_INTENTS)
            db_url = (env.get(DB_URL_ENV) or "").strip()
            if db_url:
                host = db_url  # Rasa's get_db_url takes a full URL given as host
            _ensure_sqlite_directory(dialect, host, db)
        except (AttributeError, ImportError, OSError) as exc:
            raise TrackerStoreConfigError(f"tracker store configuration: {exc}") from exc
        super().__init__(
            domain=domain,
            dialect=dialect,
            host=host,
            port=port,
            db=db,
            username=username,
            password=password,
            event_broker=event_broker,
            login_db=login_db,
            query=query,
            **kwargs,
        )

    # --- writing -------------------------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Stores the tracker's new events, protected (same bookkeeping as SQLTrackerStore)."""
        await self.stream_events(tracker)

        with self.session_scope() as session:
            # Rasa stores only the events after those already stored for this session.
            already_stored = self._event_query(
                session, tracker.sender_id, fetch_events_from_all_sessions=False
            ).count()
            for data in self.protected_event_dicts(tracker.events, start=already_stored):
                parse_data = data.get("parse_data") or {}
                intent = (parse_data.get("intent") or {}).get(INTENT_NAME_KEY)
                # noinspection PyArgumentList
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=data.get("event"),
                        timestamp=data.get("timestamp"),
                        intent_name=intent,
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()

        logger.debug(f"Tracker with sender_id '{tracker.sender_id}' stored to database")
        # The gateway's channel answers the summary of the turn just saved (bot/rasa_ext/channel.py).
        tracker_saved(tracker.sender_id, tracker.events)

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Publishes the new events to the event broker (if any) in their protected form."""
        if self.event_broker is None:
            return None
        old_tracker = await self.retrieve(tracker.sender_id)
        offset = len(old_tracker.events) if old_tracker else 0
        for data in self.protected_event_dicts(tracker.events, start=offset):
            body = {"sender_id": tracker.sender_id}
            body.update(data)
            self.event_broker.publish(body)

    def protected_event_dicts(
        self, events: Iterable[Event], start: int = 0
    ) -> List[Dict[Text, Any]]:
        """Serialised, protected copies of `events[start:]`.

        The earlier events are read too: they tell which slot was requested before a message
        and which secret values the conversation holds.
        """
        events = list(events)
        known = self._known_secrets(events)
        requested_slot: Optional[Text] = None
        protected = []
        for index, event in enumerate(events):
            if index >= start:
                protected.append(self._protect(event, requested_slot, known))
            requested_slot = _requested_slot_after(event, requested_slot)
        return protected

    def _known_secrets(self, events: Sequence[Event]) -> List[Text]:
        found: Set[Text] = set()
        for event in events:
            data = event.as_dict()
            kind = data.get("event")
            if kind == "slot" and data.get("name") in self.secret_slots:
                value = data.get("value")
                if isinstance(value, (str, int)) and not isinstance(value, bool):
                    found.add(str(value))
            elif kind in ("user", "entities"):
                entities = (
                    (data.get("parse_data") or {}).get("entities")
                    if kind == "user"
                    else data.get("entities")
                )
                for entity in entities or []:
                    if isinstance(entity, dict) and entity.get("entity") in self.secret_entities:
                        value = entity.get("value")
                        if isinstance(value, (str, int)) and not isinstance(value, bool):
                            found.add(str(value))
        return _longest_first(
            value.strip()
            for value in found
            if len(value.strip()) >= MIN_KNOWN_SECRET_LENGTH
            and not value.startswith(ENCRYPTED_PREFIX)
        )

    def _protect(
        self, event: Event, requested_slot: Optional[Text], known: Sequence[Text]
    ) -> Dict[Text, Any]:
        # A deep copy through JSON: the live event (and its parse_data) stays untouched.
        data = json.loads(json.dumps(event.as_dict()))
        kind = data.get("event")
        _drop_secret_metadata(data)
        if kind == "slot":
            if data.get("name") in self.secret_slots:
                data["value"] = self._encrypt(data.get("value"))
            else:
                # e.g. `session_started_metadata`: Rasa copies the first message's metadata
                data["value"] = _scrub(_without_secrets(data.get("value")), known)
        elif kind == "user":
            self._protect_user_message(data, requested_slot, known)
        elif kind == "entities":
            data["entities"] = self._protect_entities(data.get("entities"), None, known)
        elif kind == "bot":
            for key in ("text", "data"):
                if key in data:
                    data[key] = _scrub(data[key], known)
        return data

    def _protect_user_message(
        self, data: Dict[Text, Any], requested_slot: Optional[Text], known: Sequence[Text]
    ) -> None:
        parse_data = data.get("parse_data")
        if not isinstance(parse_data, dict):
            parse_data = {}
        original = data.get("text")
        entities = parse_data.get("entities") or []
        intent = (parse_data.get("intent") or {}).get(INTENT_NAME_KEY)

        text = original if isinstance(original, str) else ""
        expected: Optional[Text] = None
        if intent in self.password_intents:
            expected = PASSWORD  # (c): the NLU says the whole message is a password
        elif requested_slot in self.secret_slots or any(
            isinstance(entity, dict) and entity.get("entity") in self.secret_entities
            for entity in entities
        ):
            expected = "secret"  # (a), (b): every digit
        result = redact(text, expected=expected)
        redacted = _scrub(result.text, known)
        # the values masked in the text are masked in the entities too
        local_known = _longest_first(
            set(known) | {value.strip() for value in result.secrets if len(value.strip()) >= 2}
        )

        if isinstance(original, str) and redacted != original:
            # every copy of the text Rasa keeps (text, parse_data.text, ...)
            parse_data = _replace_exact(parse_data, original, redacted)
        data["text"] = redacted if isinstance(original, str) else original
        if "text" in parse_data:
            parse_data["text"] = data["text"]
        if "entities" in parse_data:
            parse_data["entities"] = self._protect_entities(
                parse_data["entities"], expected, local_known
            )
        data["parse_data"] = parse_data

    def _protect_entities(
        self, entities: Any, expected: Optional[Text], known: Sequence[Text]
    ) -> Any:
        if not isinstance(entities, list):
            return entities
        protected = []
        for entity in entities:
            if not isinstance(entity, dict):
                protected.append(entity)
                continue
            entity = dict(entity)
            secret = entity.get("entity") in self.secret_entities or expected == PASSWORD
            for key in ("value", "text"):
                if key not in entity:
                    continue
                if secret:
                    entity[key] = MASK
                elif expected is not None:
                    entity[key] = _scrub(_mask_digits(entity[key]), known)
                else:
                    entity[key] = _scrub(entity[key], known)
            if secret and "additional_info" in entity:
                entity["additional_info"] = None
            protected.append(entity)
        return protected

    def _encrypt(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str) and value.startswith(ENCRYPTED_PREFIX):
            return value  # already protected
        token = self._cipher.encrypt(json.dumps(value).encode("utf-8"))
        return ENCRYPTED_PREFIX + token.decode("ascii")

    # --- reading -------------------------------------------------------------------------

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The latest session, secret slots decrypted (the conversation continues from it)."""
        return await self._retrieve(sender_id, fetch_events_from_all_sessions=False)

    async def retrieve_full_tracker(
        self, conversation_id: Text
    ) -> Optional[DialogueStateTracker]:
        """All sessions, for read-only consumers (exports, dumps): secret slots are None."""
        return await self._retrieve_events(
            conversation_id, fetch_events_from_all_sessions=True, decrypt=False
        )

    async def _retrieve(
        self, sender_id: Text, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        return await self._retrieve_events(
            sender_id, fetch_events_from_all_sessions=fetch_events_from_all_sessions, decrypt=True
        )

    async def _retrieve_events(
        self, sender_id: Text, fetch_events_from_all_sessions: bool, decrypt: bool
    ) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            rows = self._event_query(
                session,
                sender_id,
                fetch_events_from_all_sessions=fetch_events_from_all_sessions,
            ).all()
            events = [self._unprotect(json.loads(row.data), decrypt) for row in rows]

        if self.domain and events:
            logger.debug(f"Recreating tracker from sender id '{sender_id}'")
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        logger.debug(
            f"Can't retrieve tracker matching sender id '{sender_id}' from SQL storage. "
            f"Returning `None` instead."
        )
        return None

    def _unprotect(self, data: Dict[Text, Any], decrypt: bool) -> Dict[Text, Any]:
        _drop_secret_metadata(data)  # rows written before metadata was cleaned too
        if data.get("event") == "slot" and data.get("name") in self.secret_slots:
            data["value"] = self._decrypt(data.get("name"), data.get("value")) if decrypt else None
        elif data.get("event") == "slot":
            data["value"] = _without_secrets(data.get("value"))
        return data

    def _decrypt(self, slot: Optional[Text], value: Any) -> Any:
        if not (isinstance(value, str) and value.startswith(ENCRYPTED_PREFIX)):
            return value  # None, or a value stored before this store protected it
        try:
            clear = self._cipher.decrypt(value[len(ENCRYPTED_PREFIX) :].encode("ascii"))
            return json.loads(clear.decode("utf-8"))
        except (InvalidToken, ValueError, UnicodeError):
            logger.warning(
                f"The stored value of slot '{slot}' cannot be decrypted with "
                f"{SECRET_KEY_ENV} (key rotated?); it is treated as unset."
            )
            return None


def _requested_slot_after(event: Event, requested_slot: Optional[Text]) -> Optional[Text]:
    kind = getattr(event, "type_name", None)
    if kind == "slot" and getattr(event, "key", None) == REQUESTED_SLOT:
        value = getattr(event, "value", None)
        return value if isinstance(value, str) else None
    if kind in _RESET_EVENTS:
        return None
    return requested_slot


def _longest_first(values: Iterable[Text]) -> List[Text]:
    return sorted(set(values), key=len, reverse=True)


def _secret_key(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", key).lower()
    parts = re.split(r"[^a-ząćęłńóśźż0-9]+", spaced)
    return any(part in SECRET_METADATA_KEY_PARTS for part in parts)


def _without_secrets(value: Any) -> Any:
    """`value` without the dict keys that name a credential (recursively)."""
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if not _secret_key(k)}
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value


def _drop_secret_metadata(data: Dict[Text, Any]) -> None:
    if isinstance(data.get("metadata"), dict):
        data["metadata"] = _without_secrets(data["metadata"])
    parse_data = data.get("parse_data")
    if isinstance(parse_data, dict) and isinstance(parse_data.get("metadata"), dict):
        parse_data["metadata"] = _without_secrets(parse_data["metadata"])


def _mask_digits(value: Any) -> Any:
    if isinstance(value, str):
        return _DIGIT.sub(DIGIT_MASK, value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _DIGIT.sub(DIGIT_MASK, str(value))
    return value


def _scrub(value: Any, known: Sequence[Text]) -> Any:
    """Masks every known secret value inside the strings of `value` (recursively)."""
    if not known:
        return value
    if isinstance(value, str):
        for secret in known:
            if secret in value:
                value = value.replace(secret, DIGIT_MASK * len(secret))
        return value
    if isinstance(value, list):
        return [_scrub(item, known) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, known) for key, item in value.items()}
    return value


def _replace_exact(value: Any, original: Text, replacement: Text) -> Any:
    """Replaces every string equal to `original` inside `value` (recursively)."""
    if isinstance(value, str):
        return replacement if value == original else value
    if isinstance(value, list):
        return [_replace_exact(item, original, replacement) for item in value]
    if isinstance(value, dict):
        return {key: _replace_exact(item, original, replacement) for key, item in value.items()}
    return value
