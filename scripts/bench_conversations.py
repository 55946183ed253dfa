"""make bench-conversations: realistic multi-turn conversations through the whole stack.

Reads the evaluation conversations in ``bench/conversations/*.yml`` (format:
docs/benchmarks/conversations.md, section "Format"), starts all five services once
(harness/stack.py) and, for each conversation:

1. resets the backend database to the demo data (every row of every table except Alembic's is
   deleted and the rows of the freshly seeded database are put back, see `BackendDb.reset`),
   empties the mail sink and applies the conversation's ``setup`` with the backend's models;
2. talks through the gateway like a visitor: the JSON API (``POST /api/v1/conversations``,
   ``POST /api/v1/conversations/<id>/messages``), or, for ``signed_in: true``, the socket.io
   channel with the backend's session token (the JSON API cannot carry one); ``{code}`` in the
   user text becomes the 6-digit code last e-mailed to the mail sink;
3. after every turn reads Rasa's tracker (the gateway's conversation id is Rasa's sender id) and
   checks the turn's expectations: the intent, slot values, and the bot tags of that turn, each
   tag realised by the responses/actions in `TAGS`;
4. at the end checks the ``outcome``: e-mails in the sink and the backend state (direct queries
   with the backend's models).

Writes docs/benchmarks/conversations.md and var/bench-conversations.json (every turn).
``--only``/``--ids``/``--limit``/``--dir`` select conversations for a quick run that writes no
report unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import hashlib
import importlib.util
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import unicodedata
from base64 import urlsafe_b64encode
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import socketio
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain_files import load_domain  # noqa: E402
from bot.gateway.nlu_export import fold as fold_example  # noqa: E402
from bot.gateway.nlu_export import training_examples  # noqa: E402
from backend.models import (  # noqa: E402
    Account,
    AccountState,
    Membership,
    MobileDevice,
    OutboxMessage,
    Role,
    Subscription,
)

CONVERSATIONS_DIR = ROOT / "bench" / "conversations"
REPORT = ROOT / "docs" / "benchmarks" / "conversations.md"
RESULTS = ROOT / "var" / "bench-conversations.json"
PARTIAL_RESULTS = ROOT / "var" / "bench-conversations-partial.json"
MODEL = ROOT / "var" / "models" / "pomocnik.tar.gz"
DOMAIN = ROOT / "domain"
# Every intent example of the training data, folded (a turn with the same text is not unseen).
TRAINING_EXAMPLES = training_examples(ROOT / "data")

TARGET_TURNS = 0.95
TARGET_JOURNEYS = 0.95
WORST_TURNS = 25
TURN_TIMEOUT = 60.0
MAIL_WAIT = 15.0  # seconds to wait for an e-mail (the backend's outbox delivers asynchronously)

# The gateway for the run: every visitor comes from 127.0.0.1 (limits raised); business hours
# read a clock pinned to a weekday 10:00 in Warsaw (no Polish holiday), and no adviser is
# signed in, so a handoff answers that nobody is available now and offers a ticket.
CLOCK_START = "2026-12-02T10:00:00+01:00"  # Wednesday
GATEWAY_ENV = {
    "GATEWAY_SESSION_MESSAGES_PER_MINUTE": "100000",
    "GATEWAY_ADDRESS_MESSAGES_PER_MINUTE": "100000",
    "GATEWAY_HOURS_CLOCK_START": CLOCK_START,
}

DEMO_OWNER = "jan.kowalski@majafirma.pl"
DEMO_PASSWORD = "Faktura#2026"  # the demo account's published password (README, demo data)

# ------------------------------------------------------------------------------ the format

JOURNEYS = (
    "login_help", "password_reset", "password_rules", "registration", "activation_resend",
    "forgot_id_pin", "packages_info", "package_change", "account_status", "pair_phone",
    "device_status", "device_removal", "roles_info", "add_user", "change_role", "remove_user",
    "change_login_email", "contact", "handoff", "small_talk",
)
CLASSES = (
    "value_in_message", "follow_up", "acknowledgement", "read_not_change", "hesitation",
    "correction", "dead_end", "names", "formal_register", "typos", "no_diacritics",
    "topic_switch", "short",
)
STYLES = ("informal", "formal")
INTENTS = (
    "greet", "goodbye", "thanks", "affirm", "deny", "stop", "bot_challenge", "out_of_scope",
    "human_handoff", "support_contact", "inform", "share_password", "login_help",
    "reset_password", "password_requirements", "register_account", "resend_activation",
    "forgot_comarch_id", "packages_info", "change_package", "account_status", "pair_phone",
    "remove_device", "roles_info", "add_user", "change_role", "remove_user", "change_login_email",
)
# Intents of the domain the writer was not given (INTENTS above), each a refinement of an
# intent the writer knew: a turn expecting the key is also met by one of these. The turn's
# `bot` expectations still decide whether the answer was right.
#   done               thanks that also close the topic ("ok dzięki, to wszystko");
#   find_login         where the login (the e-mail address) is found: help with logging in;
#   device_limit       how many phones can be paired: a pairing question;
#   code_not_received  the e-mail just sent did not arrive ("nic nie przyszło"), which the
#                      writer labelled with the topic's request: it meets reset_password or
#                      resend_activation only when the turn really sent that link again
#                      (REFINED_ONLY_WITH);
#   check_presence     "halo": as the first message a greeting, so it meets greet only when
#                      the turn greeted;
#   leave_ticket       "zadzwońcie do mnie", "zostawię zgłoszenie": a request for a person by
#                      ticket; it meets human_handoff only when the handoff ran, and affirm (a
#                      ticket offer accepted) only when the ticket form started;
#   done               also "ok, to napiszę do was": inside a form it closes the form, so it
#                      meets stop only when the form was deactivated.
REFINED_INTENTS: dict[str, tuple[str, ...]] = {
    "thanks": ("done",),
    "login_help": ("find_login",),
    "pair_phone": ("device_limit",),
    "reset_password": ("code_not_received",),
    "resend_activation": ("code_not_received",),
    "greet": ("check_presence",),
    "human_handoff": ("leave_ticket",),
    "affirm": ("leave_ticket",),
    "stop": ("done",),
}
REFINED_ONLY_WITH: dict[tuple[str, str], str] = {
    ("reset_password", "code_not_received"): "action_request_password_reset",
    ("resend_activation", "code_not_received"): "action_resend_activation",
    ("greet", "check_presence"): "utter_greet",
    ("human_handoff", "leave_ticket"): "action_handoff",
    ("affirm", "leave_ticket"): "ticket_form",
    ("stop", "done"): "action_deactivate_loop",
}
SLOTS = (
    "email", "verification_code", "package", "role", "comarch_id", "pin", "nip", "person_name",
    "member_email", "new_email", "device_reason", "terms_accepted",
)
# Stored encrypted by the tracker store; Rasa's HTTP API returns them as null (read-only dumps
# never carry secrets), so the runner reads them from the store and decrypts them.
SECRET_SLOTS = ("pin", "verification_code")
ROLES = tuple(role.value for role in Role)
# Backend checks: the keys each takes (required, optional).
CHECKS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "package": (frozenset({"email", "package"}), frozenset()),
    "member": (frozenset({"owner", "email"}), frozenset({"role", "present"})),
    "login_email_change": (frozenset({"email", "new_email"}), frozenset()),
    "device": (frozenset({"email", "paired"}), frozenset()),
    "account": (frozenset({"email", "exists"}), frozenset()),
}
PLACEHOLDER_CODE = "{code}"

# ------------------------------------------------------------------------------ bot tags
#
# What realises each tag: patterns (fnmatch) matched against the names of the turn's bot
# messages (`utter_action` of each `bot` event: responses uttered by rules, stories, forms and
# custom actions alike) and of its executed actions (`action` events). A pattern starting with
# "!" excludes names. Three other kinds of signals:
#   "gateway:handoff"      a notice of the gateway's advisers' desk (custom.handoff.state:
#                          queued / unavailable ...) in the replies the visitor got;
#   "gateway:offer=ticket" a reply offering a ticket (custom.offer == "ticket");
#   "intent:<name>"        the turn's intent (nlu_fallback: not understood);
#   "loop:kept"            the form active before the turn is still active after it.
# Tags no pattern of which matches a name in the domain are listed in the report (the
# assistant cannot realise them yet); this table is the one place to adapt when responses are
# renamed or added.
# `action_default_fallback` itself is not among them: inside a form it also answers a question
# it understood (a fixed answer, then the form's question; actions/support.py ANSWERS_IN_FORM),
# so what it said decides - `utter_default` / `utter_default_again` when it did not understand.
FALLBACK_NAMES = (
    "action_default_ask_affirmation", "action_default_ask_rephrase",
    "action_two_stage_fallback", "utter_ask_rephrase", "utter_default", "utter_default_again",
    "utter_ask_affirmation_*",
)
TAGS: dict[str, tuple[str, ...]] = {
    # --- questions of the forms ---
    # the ticket's contact question asks for an e-mail address (or a phone number)
    "asks_email": ("utter_ask_email", "utter_ask_*_form_email", "utter_ask_ticket_contact"),
    "asks_code": ("utter_verification_code_sent", "utter_ask_verification_code",
                  "utter_ask_verification_code_to", "utter_verification_code_format",
                  "utter_verification_code_wrong*"),
    "asks_comarch_id": ("utter_ask_comarch_id", "utter_ask_*_form_comarch_id"),
    "asks_pin": ("utter_ask_pin", "utter_ask_*_form_pin"),
    "asks_nip": ("utter_ask_nip", "utter_ask_*_form_nip"),
    "asks_person_name": ("utter_ask_person_name", "utter_ask_*_form_person_name"),
    "asks_package": ("utter_ask_package", "utter_ask_*_form_package",
                     "utter_ask_*_form_package_*"),
    "asks_role": ("utter_ask_role", "utter_ask_*_form_role"),
    "asks_member_email": ("utter_ask_member_email", "utter_ask_*_form_member_email"),
    "asks_new_email": ("utter_ask_new_email", "utter_ask_*_form_new_email"),
    "asks_terms": ("utter_ask_terms_accepted", "utter_ask_*_form_terms_accepted"),
    "asks_confirmation": ("utter_ask_*_form_confirmation", "utter_ask_*_form_confirmation_*",
                          "utter_registration_summary"),
    "asks_clarification": ("utter_*clarif*", "utter_ask_which*", "utter_ask_correction"),
    # --- identity verification ---
    "code_sent": ("utter_verification_code_sent",),
    "code_not_sent": ("utter_verification_code_not_sent*", "utter_verification_code_*limit*",
                      "utter_verification_code_wait*", "utter_*code_not_sent*"),
    "identity_verified": ("utter_identity_verified",),
    # --- answers and completed operations ---
    "reset_link_sent": ("utter_password_reset_sent",),
    "password_rules": ("utter_password_requirements",),
    "login_help": ("utter_login_help", "utter_login_trouble", "utter_find_login"),
    "registration_done": ("utter_registration_account_created",
                          "utter_registration_account_created_*",
                          "utter_registration_check_mailbox",
                          "utter_registration_existing_account"),
    "activation_resent": ("utter_activation_resent",),
    "forgot_id_help": ("utter_forgot_comarch_id", "utter_registration_contact"),
    "package_prices": ("utter_packages_overview*", "utter_package_summary",
                       "utter_package_details", "utter_package_price*", "utter_packages_compare",
                       "utter_package_documents", "utter_package_invoicing",
                       "utter_package_backup", "utter_packages_trial*", "utter_packages_users",
                       "utter_registration_packages_hint"),
    "package_changed": ("utter_package_changed", "utter_package_ordered",
                        "utter_package_change_scheduled", "utter_package_downgrade_cancelled"),
    "account_status_shown": ("utter_account_status", "utter_account_status_trial",
                             "utter_account_pending_downgrade", "utter_account_usage"),
    # the pairing steps, or the one step asked about (the app's PIN, step 5)
    "pair_steps": ("utter_pair_phone_steps", "utter_app_pin"),
    # "nie jest podłączone żadne urządzenie, więc nie ma czego usuwać" tells the status too
    "device_status_shown": (
        "utter_device_not_paired", "utter_device_paired", "utter_device_none_to_remove",
    ),
    "device_removed": ("utter_device_removed", "utter_device_removed_lost"),
    "roles_listed": ("utter_roles_info_all", "utter_roles_info_one"),
    "members_listed": ("utter_list_users_listed", "utter_company_members_to_choose_from"),
    "user_added": ("utter_add_user_invited", "utter_add_user_added"),
    "role_changed": ("utter_change_role_changed",),
    "user_removed": ("utter_remove_user_removed",),
    "login_email_change_sent": ("utter_change_login_email_sent",),
    "contact_given": ("utter_support_contact", "gateway:handoff"),
    "handoff": ("action_handoff", "utter_handoff_requested", "gateway:handoff"),
    "ticket_offered": ("gateway:offer=ticket", "utter_*ticket*"),
    "cancelled": ("utter_*_cancelled", "!utter_package_downgrade_cancelled"),
    "kept_form": ("loop:kept",),
    # --- conversation ---
    "closing": ("utter_goodbye", "utter_you_are_welcome", "utter_ok", "utter_done"),
    "greeting": ("utter_greet",),
    "password_refused": ("utter_password_not_shared",),
    "out_of_scope": ("utter_out_of_scope",),
    # What the visitor was told, not the NLU's verdict: an `nlu_fallback` the dialogue answered
    # from the context ("nie wiem, czy zgłoszenie ma sens" right after a handoff: the channels and
    # the ticket) was understood; one it could not place ends in a fallback response above.
    "not_understood": FALLBACK_NAMES,
}


class SpecError(ValueError):
    """A conversation file does not follow the format."""


@dataclass(frozen=True)
class Expect:
    intent: str | None = None
    slots: dict[str, str] = field(default_factory=dict)
    bot: tuple[str, ...] = ()
    not_bot: tuple[str, ...] = ()


@dataclass(frozen=True)
class Turn:
    user: str
    expect: Expect


@dataclass(frozen=True)
class Conversation:
    id: str
    journey: str
    classes: tuple[str, ...]
    style: str
    signed_in: bool
    turns: tuple[Turn, ...]
    setup: dict[str, Any] = field(default_factory=dict)
    mail: tuple[dict[str, str], ...] = ()
    backend: tuple[dict[str, Any], ...] = ()
    file: str = ""

    @property
    def has_outcome(self) -> bool:
        return bool(self.mail or self.backend)


def _require(condition: bool, where: str, problem: str) -> None:
    if not condition:
        raise SpecError(f"{where}: {problem}")


def _keys(data: Any, where: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
    _require(isinstance(data, dict), where, "must be a mapping")
    unknown = set(data) - allowed
    _require(not unknown, where, f"unknown keys {sorted(unknown)} (allowed: {sorted(allowed)})")
    missing = required - set(data)
    _require(not missing, where, f"missing keys {sorted(missing)}")
    return data


def _names(value: Any, where: str, known: tuple[str, ...] | dict, what: str) -> tuple[str, ...]:
    _require(isinstance(value, list), where, f"{what} must be a list")
    for name in value:
        _require(name in known, where, f"unknown {what} {name!r}")
    return tuple(value)


def _scalar(value: Any) -> str:
    """A YAML scalar as text (true -> "true", 68577 -> "68577")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def parse_expect(data: Any, where: str) -> Expect:
    data = _keys(data, where, {"intent", "slots", "bot", "not_bot"})
    _require(any(k in data for k in ("intent", "slots", "bot")), where,
             "needs at least one of intent, slots, bot")
    intent = data.get("intent")
    _require(intent is None or intent in INTENTS, where, f"unknown intent {intent!r}")
    slots = data.get("slots") or {}
    _require(isinstance(slots, dict), where, "slots must be a mapping")
    for name in slots:
        _require(name in SLOTS, where, f"unknown slot {name!r}")
    bot = _names(data.get("bot", []), where, TAGS, "bot tag")
    not_bot = _names(data.get("not_bot", []), where, TAGS, "bot tag")
    clash = set(bot) & set(not_bot)
    _require(not clash, where, f"tags both expected and forbidden: {sorted(clash)}")
    return Expect(intent, {name: _scalar(value) for name, value in slots.items()}, bot, not_bot)


def parse_setup(data: Any, where: str) -> dict[str, Any]:
    data = _keys(data or {}, where, {"device", "members"})
    if "device" in data:
        device = _keys(data["device"], f"{where}.device", {"name", "platform"}, {"name", "platform"})
        _require(all(isinstance(v, str) and v for v in device.values()), f"{where}.device",
                 "name and platform must be non-empty text")
    members = data.get("members") or []
    _require(isinstance(members, list), where, "members must be a list")
    for i, member in enumerate(members):
        spot = f"{where}.members[{i}]"
        _keys(member, spot, {"name", "email", "role"}, {"name", "email", "role"})
        _require(member["role"] in ROLES, spot, f"unknown role {member['role']!r}")
        _require("@" in str(member["email"]), spot, "email must be an address")
    return data


def parse_outcome(data: Any, where: str) -> tuple[tuple[dict, ...], tuple[dict, ...]]:
    data = _keys(data or {}, where, {"mail", "backend"})
    mail = data.get("mail") or []
    _require(isinstance(mail, list), where, "mail must be a list")
    for i, item in enumerate(mail):
        _keys(item, f"{where}.mail[{i}]", {"to", "subject_contains"}, {"to", "subject_contains"})
    checks = data.get("backend") or []
    _require(isinstance(checks, list), where, "backend must be a list")
    for i, item in enumerate(checks):
        spot = f"{where}.backend[{i}]"
        _require(isinstance(item, dict) and item.get("check") in CHECKS, spot,
                 f"unknown check {item.get('check') if isinstance(item, dict) else item!r}")
        required, optional = CHECKS[item["check"]]
        _keys(item, spot, {"check", *required, *optional}, {"check", *required})
        if "package" in item:
            _require(item["package"] in ("green", "silver", "gold"), spot, "unknown package")
        if "role" in item:
            _require(item["role"] in ROLES, spot, f"unknown role {item['role']!r}")
        for flag in ("present", "paired", "exists"):
            if flag in item:
                _require(isinstance(item[flag], bool), spot, f"{flag} must be true or false")
    return tuple(mail), tuple(checks)


def parse_conversation(data: Any, file: str) -> Conversation:
    where = f"{file}: conversation {data.get('id') if isinstance(data, dict) else '?'}"
    data = _keys(data, where, {"id", "journey", "classes", "style", "setup", "signed_in", "turns",
                               "outcome"}, {"id", "journey", "turns"})
    _require(data["journey"] in JOURNEYS, where, f"unknown journey {data['journey']!r}")
    _require(isinstance(data["id"], str) and data["id"].startswith(f"{data['journey']}-"), where,
             "id must be <journey>-<nn>")
    classes = _names(data.get("classes", []), where, CLASSES, "failure class")
    style = data.get("style", "informal")
    _require(style in STYLES, where, f"unknown style {style!r}")
    signed_in = data.get("signed_in", False)
    _require(isinstance(signed_in, bool), where, "signed_in must be true or false")
    turns = data["turns"]
    _require(isinstance(turns, list) and turns, where, "turns must be a non-empty list")
    parsed = []
    for i, turn in enumerate(turns, 1):
        spot = f"{where} turn {i}"
        turn = _keys(turn, spot, {"user", "expect"}, {"user", "expect"})
        _require(isinstance(turn["user"], str) and turn["user"].strip(), spot,
                 "user must be non-empty text")
        parsed.append(Turn(turn["user"], parse_expect(turn["expect"], spot)))
    mail, backend = parse_outcome(data.get("outcome"), f"{where} outcome")
    return Conversation(
        id=data["id"], journey=data["journey"], classes=classes, style=style,
        signed_in=signed_in, turns=tuple(parsed), setup=parse_setup(data.get("setup"), where),
        mail=mail, backend=backend, file=file,
    )


def parse_file(path: Path) -> list[Conversation]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{path.name}: not valid YAML: {exc}") from None
    data = _keys(data, path.name, {"version", "conversations"}, {"version", "conversations"})
    _require(data["version"] == 1, path.name, "version must be 1")
    _require(isinstance(data["conversations"], list), path.name, "conversations must be a list")
    conversations = [parse_conversation(item, path.name) for item in data["conversations"]]
    for conversation in conversations:
        _require(conversation.journey == path.stem, f"{path.name}: {conversation.id}",
                 f"journey {conversation.journey!r} in the file of journey {path.stem!r}")
    return conversations


def load_conversations(directory: Path) -> list[Conversation]:
    """Every conversation of the directory's files; ids must be unique across files."""
    conversations: list[Conversation] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yml")):
        for conversation in parse_file(path):
            _require(conversation.id not in seen, path.name,
                     f"id {conversation.id} also in {seen.get(conversation.id)}")
            seen[conversation.id] = path.name
            conversations.append(conversation)
    return conversations


# ------------------------------------------------------------------------------ matching

_FOLD = str.maketrans({"ł": "l", "Ł": "L"})  # the one Polish letter NFKD does not decompose
POLISH_LETTERS = set("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ")


def normalise(value: Any) -> str:
    """For comparing slot values: lower case, Polish diacritics folded, whitespace collapsed."""
    text = _scalar(value).translate(_FOLD)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.lower().split())


def has_diacritics(text: str) -> bool:
    return any(c in POLISH_LETTERS for c in text)


def domain_names(domain_dir: Path = DOMAIN) -> set[str]:
    """Every response, action and form name of the domain (the names bot tags can match)."""
    domain = load_domain(domain_dir)
    names = set(domain.get("responses") or {}) | set(domain.get("actions") or [])
    names |= set(domain.get("forms") or {})
    return names | {name for name in FALLBACK_NAMES if "*" not in name}


def unrealised_tags(names: set[str]) -> list[str]:
    """The tags nothing in the domain can realise (no pattern matches a name, no signal)."""
    missing = []
    for tag, patterns in TAGS.items():
        if any(p.startswith(("gateway:", "intent:", "loop:")) for p in patterns):
            continue
        if not any(fnmatch.filter(names, p) for p in patterns if not p.startswith("!")):
            missing.append(tag)
    return missing


@dataclass
class Observation:
    """What happened in one turn (from the tracker's events after the last user event)."""

    intent: str | None = None
    confidence: float | None = None
    names: list[str] = field(default_factory=list)  # executed actions and uttered responses
    replies: list[dict[str, Any]] = field(default_factory=list)  # what the gateway answered
    slots: dict[str, Any] = field(default_factory=dict)  # values at the end of the turn
    slots_set: dict[str, list[Any]] = field(default_factory=dict)  # values set in the turn
    loop_before: str | None = None
    loop_after: str | None = None
    error: str | None = None


def observe(tracker: dict[str, Any], loop_before: str | None,
            replies: list[dict[str, Any]]) -> Observation:
    events = tracker.get("events") or []
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    obs = Observation(loop_before=loop_before, replies=replies)
    if last_user >= 0:
        intent = (events[last_user].get("parse_data") or {}).get("intent") or {}
        obs.intent, obs.confidence = intent.get("name"), intent.get("confidence")
    last_action = None
    for event in events[last_user + 1:]:
        kind = event.get("event")
        if kind == "action" and event.get("name") != "action_listen":
            obs.names.append(event["name"])
            last_action = event["name"]
        elif kind == "bot":
            utter = (event.get("metadata") or {}).get("utter_action")
            if utter and utter != last_action:  # not the response action just listed
                obs.names.append(utter)
        elif kind == "slot":
            obs.slots_set.setdefault(event.get("name"), []).append(event.get("value"))
    obs.slots = dict(tracker.get("slots") or {})
    obs.loop_after = (tracker.get("active_loop") or {}).get("name")
    return obs


def _signal_holds(signal: str, obs: Observation) -> bool:
    if signal == "gateway:handoff":
        return any(isinstance((r.get("custom") or {}).get("handoff"), dict)
                   and "state" in r["custom"]["handoff"] for r in obs.replies)
    if signal.startswith("gateway:offer="):
        return any((r.get("custom") or {}).get("offer") == signal.split("=", 1)[1]
                   for r in obs.replies)
    if signal.startswith("intent:"):
        return obs.intent == signal.split(":", 1)[1]
    if signal == "loop:kept":
        return obs.loop_before is not None and obs.loop_after == obs.loop_before
    return False


def observed_tags(obs: Observation) -> set[str]:
    tags = set()
    for tag, patterns in TAGS.items():
        excluded = [p[1:] for p in patterns if p.startswith("!")]
        names = [n for n in obs.names if not any(fnmatch.fnmatchcase(n, p) for p in excluded)]
        for pattern in patterns:
            if pattern.startswith("!"):
                continue
            if ":" in pattern:
                hit = _signal_holds(pattern, obs)
            else:
                hit = any(fnmatch.fnmatchcase(name, pattern) for name in names)
            if hit:
                tags.add(tag)
                break
    return tags


def slot_holds(name: str, expected: str, obs: Observation) -> bool:
    """The slot has the value after the turn, or was set to it during the turn (the identity
    check clears e-mail and code once the code is accepted; a form may clear a value it has
    used)."""
    want = normalise(expected)
    values = [obs.slots.get(name), *obs.slots_set.get(name, [])]
    return any(value is not None and normalise(value) == want for value in values)


def intent_meets(expected: str, obs: Observation) -> bool:
    """The turn's intent is the expected one, or a refinement of it (REFINED_INTENTS)."""
    if obs.intent == expected:
        return True
    if obs.intent not in REFINED_INTENTS.get(expected, ()):
        return False
    needed = REFINED_ONLY_WITH.get((expected, obs.intent))
    return needed is None or needed in obs.names


def evaluate_turn(expect: Expect, obs: Observation, code: str | None = None) -> list[str]:
    """The expectations that do not hold (empty: the turn went as expected)."""
    if obs.error:
        return [f"no answer: {obs.error}"]
    failures = []
    if expect.intent and not intent_meets(expect.intent, obs):
        failures.append(f"intent {obs.intent} (expected {expect.intent})")
    for name, value in expect.slots.items():
        if code is not None:
            value = value.replace(PLACEHOLDER_CODE, code)
        if not slot_holds(name, value, obs):
            got = obs.slots.get(name)
            failures.append(f"slot {name}={got!r} (expected {value!r})")
    tags = observed_tags(obs)
    for tag in expect.bot:
        if tag not in tags:
            failures.append(f"missing {tag}")
    for tag in expect.not_bot:
        if tag in tags:
            failures.append(f"unwanted {tag}")
    return failures


# ------------------------------------------------------------------------------ outcomes


def _account(session: Session, email: str) -> Account | None:
    return session.scalar(sa.select(Account).where(Account.email == email.strip().lower()))


def _owned_organisation(session: Session, email: str) -> int | None:
    return session.scalar(
        sa.select(Membership.organisation_id)
        .join(Account, Account.id == Membership.account_id)
        .where(Account.email == email.strip().lower(), Membership.role == Role.OWNER)
    )


def check_backend(session: Session, check: dict[str, Any]) -> str | None:
    """None when the check holds, else what is wrong."""
    kind = check["check"]
    email = str(check["email"]).strip().lower()
    if kind == "account":
        exists = _account(session, email) is not None
        return None if exists == check["exists"] else f"account {email} exists={exists}"
    if kind == "package":
        organisation = _owned_organisation(session, email)
        subscription = session.scalar(
            sa.select(Subscription).where(Subscription.organisation_id == organisation)
        ) if organisation else None
        if subscription is None:
            return f"no subscription for {email}"
        codes = {subscription.package_code, subscription.pending_package_code}
        if check["package"] in codes:
            return None
        return (f"package {subscription.package_code} (pending "
                f"{subscription.pending_package_code}), expected {check['package']}")
    if kind == "member":
        organisation = _owned_organisation(session, str(check["owner"]))
        role = session.scalar(
            sa.select(Membership.role)
            .join(Account, Account.id == Membership.account_id)
            .where(Membership.organisation_id == organisation, Account.email == email)
        ) if organisation else None
        if not check.get("present", True):
            return None if role is None else f"{email} is still a member ({role})"
        if role is None:
            return f"{email} is not a member of {check['owner']}'s company"
        if "role" in check and role != check["role"]:
            return f"{email} has role {role}, expected {check['role']}"
        return None
    if kind == "login_email_change":
        new_email = str(check["new_email"]).strip().lower()
        sent = session.scalar(
            sa.select(sa.func.count()).select_from(OutboxMessage).where(
                OutboxMessage.to_address == new_email,
                OutboxMessage.kind == "email_change_confirm",
            )
        )
        if _account(session, email) is None:
            return f"no account {email}"
        return None if sent else f"no e-mail change confirmation sent to {new_email}"
    if kind == "device":
        account = _account(session, email)
        if account is None:
            return f"no account {email}"
        paired = session.scalar(
            sa.select(sa.func.count()).select_from(MobileDevice)
            .where(MobileDevice.account_id == account.id)
        ) > 0
        return None if paired == check["paired"] else f"{email} paired={paired}"
    raise SpecError(f"unknown check {kind}")


def check_mail(mails: list[dict[str, Any]], expected: dict[str, str]) -> str | None:
    to = str(expected["to"]).strip().lower()
    fragment = str(expected["subject_contains"]).lower()
    for mail in mails:
        recipients = {str(a).lower() for a in [*mail.get("envelope_to", []), mail.get("to", "")]}
        if any(to in r for r in recipients) and fragment in str(mail.get("subject", "")).lower():
            return None
    return f"no e-mail to {to} with {expected['subject_contains']!r} in the subject"


def evaluate_outcome(session: Session, mails: list[dict[str, Any]],
                     conversation: Conversation) -> list[str]:
    failures = [check_mail(mails, item) for item in conversation.mail]
    failures += [check_backend(session, item) for item in conversation.backend]
    return [failure for failure in failures if failure]


CODE_PATTERN = re.compile(r"(?<!\d)(\d{6})(?!\d)")
CODE_SUBJECT = "kod weryfikacyjny"


def latest_code(mails: list[dict[str, Any]]) -> str | None:
    """The code of the newest verification e-mail."""
    for mail in sorted(mails, key=lambda m: m.get("received_at", ""), reverse=True):
        if CODE_SUBJECT in str(mail.get("subject", "")).lower():
            found = CODE_PATTERN.search(mail.get("text") or "")
            if found:
                return found.group(1)
    return None


# ------------------------------------------------------------------------------ the stack


class BackendDb:
    """The stack's backend database, straight through SQLAlchemy (sqlite file)."""

    def __init__(self, path: Path) -> None:
        self.engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
        self.metadata = sa.MetaData()
        self.metadata.reflect(self.engine)
        self.tables = [t for t in self.metadata.sorted_tables if t.name != "alembic_version"]
        with self.engine.connect() as connection:  # the freshly seeded demo data
            self.snapshot = {t.name: [dict(r) for r in connection.execute(sa.select(t)).mappings()]
                             for t in self.tables}

    def reset(self) -> None:
        """Every row of every table (except Alembic's) deleted, the seeded rows put back.

        The same rows `backend.cli seed` writes (they are its output, read once at start-up),
        in milliseconds instead of a process start plus four argon2 hashes (~1.5 s)."""
        with self.engine.begin() as connection:
            for table in reversed(self.tables):
                connection.execute(table.delete())
            for table in self.tables:
                if self.snapshot[table.name]:
                    connection.execute(table.insert(), self.snapshot[table.name])

    def apply_setup(self, setup: dict[str, Any]) -> None:
        with Session(self.engine) as session, session.begin():
            owner = _account(session, DEMO_OWNER)
            organisation = _owned_organisation(session, DEMO_OWNER)
            if "device" in setup:
                session.add(MobileDevice(
                    account_id=owner.id, name=setup["device"]["name"],
                    platform=setup["device"]["platform"],
                    device_token_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
                ))
            for member in setup.get("members") or []:
                account = Account(email=member["email"].strip().lower(), name=member["name"],
                                  state=AccountState.ACTIVE, cloud_login_activated=True)
                session.add_all([account, Membership(account=account,
                                                     organisation_id=organisation,
                                                     role=Role(member["role"]))])

    def outbox_drained(self) -> bool:
        with self.engine.connect() as connection:
            return not connection.scalar(
                sa.select(sa.func.count()).select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
            )


class SecretSlots:
    """The secret slots of a conversation, read from the tracker store (where they are stored
    encrypted) and decrypted with the stack's key by a small helper in the Rasa environment
    (the app environment has no `cryptography`)."""

    PREFIX = "fernet:v1:"
    HELPER = (
        "import json, os, sys\n"
        "from cryptography.fernet import Fernet, MultiFernet\n"
        "f = MultiFernet([Fernet(k.strip()) for k in os.environ['TRACKER_SECRET_KEY'].split(',')])\n"
        "for line in sys.stdin:\n"
        "    try:\n"
        "        out = json.loads(f.decrypt(json.loads(line).encode()).decode())\n"
        "    except Exception:\n"
        "        out = None\n"
        "    print(json.dumps(out), flush=True)\n"
    )

    def __init__(self, database: Path, key: str, python: str) -> None:
        self.database = database
        self.helper = subprocess.Popen(
            [python, "-c", self.HELPER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env={**os.environ, "TRACKER_SECRET_KEY": key},
        )

    def events(self, sender: str) -> list[tuple[str, Any]]:
        """(slot, value) of every secret slot event of the conversation, in order."""
        engine = sa.create_engine(f"sqlite:///{self.database}")
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    sa.text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'slot' "
                            "ORDER BY id"), {"s": sender},
                ).scalars().all()
        finally:
            engine.dispose()
        found = []
        for row in rows:
            event = json.loads(row)
            if event.get("name") in SECRET_SLOTS:
                found.append((event["name"], self._decrypt(event.get("value"))))
        return found

    def _decrypt(self, value: Any) -> Any:
        if not (isinstance(value, str) and value.startswith(self.PREFIX)):
            return value
        self.helper.stdin.write(json.dumps(value[len(self.PREFIX):]) + "\n")
        self.helper.stdin.flush()
        return json.loads(self.helper.stdout.readline())

    def close(self) -> None:
        self.helper.stdin.close()
        self.helper.wait(timeout=10)


class JsonChannel:
    """A visitor on the gateway's JSON API."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.conversation_id = ""

    async def open(self) -> None:
        response = await self.http.post("/api/v1/conversations")
        response.raise_for_status()
        self.conversation_id = response.json()["conversation_id"]

    async def say(self, text: str) -> list[dict[str, Any]]:
        response = await self.http.post(
            f"/api/v1/conversations/{self.conversation_id}/messages", json={"text": text}
        )
        if response.status_code != 200:
            raise RuntimeError(f"gateway {response.status_code}: {response.text[:200]}")
        return response.json().get("messages", [])

    async def close(self) -> None:
        pass


class SocketChannel:
    """A signed-in visitor on the gateway's socket.io channel (stock python-socketio client):
    ``session_request`` carries the backend's session token, as the website's widget does."""

    def __init__(self, url: str, session_token: str) -> None:
        self.url = url
        self.token = session_token
        self.conversation_id = ""
        self.sio = socketio.AsyncClient(reconnection=False)
        self.messages: list[dict[str, Any]] = []
        self.statuses: dict[str, str] = {}
        self.identity: asyncio.Future | None = None
        self.sio.on("session_confirm", self._confirm)
        self.sio.on("pomocnik_identity", self._identity)
        self.sio.on("pomocnik_message", self._message)
        self.sio.on("pomocnik_status", self._status)

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.identity = loop.create_future()
        await self.sio.connect(self.url, transports=["websocket"], wait_timeout=10)
        await self.sio.emit("session_request", {"session_id": None, "session_token": self.token})
        identity = await asyncio.wait_for(self.identity, 15)
        if not identity.get("verified"):
            raise RuntimeError("the gateway did not verify the session token")

    async def say(self, text: str) -> list[dict[str, Any]]:
        cid = secrets.token_hex(8)
        start = len(self.messages)
        ack = await self.sio.call("user_uttered", {"message": text, "session_id":
                                                   self.conversation_id, "cid": cid}, timeout=15)
        if not ack.get("ok"):
            raise RuntimeError(f"gateway refused: {ack.get('error')}")
        deadline = time.monotonic() + TURN_TIMEOUT
        while self.statuses.get(cid) in (None, "pending") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        status = self.statuses.get(cid)
        if status != "answered":
            raise RuntimeError(f"gateway status {status}")
        replies = lambda: [m for m in self.messages[start:] if m.get("author") != "visitor"]  # noqa: E731
        # The desk's notice is stored right after the status of a handoff request.
        if any(((m.get("custom") or {}).get("handoff") or {}).get("requested") for m in replies()):
            until = time.monotonic() + 5
            while not any(m.get("author") == "system" for m in replies()) and \
                    time.monotonic() < until:
                await asyncio.sleep(0.05)
        return replies()

    async def close(self) -> None:
        await self.sio.disconnect()

    def _confirm(self, session_id: str) -> None:
        self.conversation_id = session_id

    def _identity(self, data: dict) -> None:
        if self.identity and not self.identity.done():
            self.identity.set_result(data)

    def _message(self, data: dict) -> None:
        self.messages.append(data)  # the stored message as clients get it (wire format)

    def _status(self, data: dict) -> None:
        if data.get("cid"):
            self.statuses[data["cid"]] = data.get("status")


# ------------------------------------------------------------------------------ running


@dataclass
class TurnResult:
    conversation: str
    journey: str
    number: int
    user: str
    expected: dict[str, Any]
    ok: bool
    failures: list[str]
    intent: str | None
    confidence: float | None
    actions: list[str]
    texts: list[str]
    diacritics: bool
    classes: list[str]
    # the turn's text, folded, is also an example of data/nlu (the writers work blind to each
    # other, but short everyday messages - "tak", "dzięki, działa" - are bound to meet)
    in_training: bool = False


@dataclass
class ConversationResult:
    id: str
    journey: str
    classes: list[str]
    signed_in: bool
    turns: list[TurnResult] = field(default_factory=list)
    outcome_checked: bool = False
    outcome_failures: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def completed(self) -> bool:
        return self.outcome_checked and not self.outcome_failures and self.error is None


class Runner:
    def __init__(self, stack: Any, key: str) -> None:
        from harness.stack import RASA_PY

        self.stack = stack
        self.db = BackendDb(stack.workdir / "backend.db")
        self.secrets = SecretSlots(stack.workdir / "rasa-tracker.db", key, RASA_PY)
        self.token = stack.service_token

    async def run(self, conversations: list[Conversation]) -> list[ConversationResult]:
        results = []
        async with httpx.AsyncClient(timeout=TURN_TIMEOUT) as http:
            self.http = http
            for number, conversation in enumerate(conversations, 1):
                started = time.monotonic()
                result = await self.conversation(conversation)
                passed = sum(t.ok for t in result.turns)
                state = ("error: " + result.error) if result.error else (
                    "completed" if result.completed else
                    ("outcome missed" if result.outcome_checked else "no outcome"))
                print(f"[{number}/{len(conversations)}] {conversation.id}: {passed}/"
                      f"{len(conversation.turns)} turns, {state} "
                      f"({time.monotonic() - started:.1f} s)", flush=True)
                results.append(result)
        return results

    async def mails(self) -> list[dict[str, Any]]:
        response = await self.http.get(self.stack.url("mailsink") + "/api/messages")
        response.raise_for_status()
        return response.json()["messages"]

    async def wait_outbox(self) -> None:
        deadline = time.monotonic() + MAIL_WAIT
        while not self.db.outbox_drained() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    async def code(self) -> str | None:
        deadline = time.monotonic() + MAIL_WAIT
        while True:
            await self.wait_outbox()
            code = latest_code(await self.mails())
            if code or time.monotonic() > deadline:
                return code
            await asyncio.sleep(0.2)

    async def tracker(self, sender: str) -> dict[str, Any]:
        response = await self.http.get(
            f"{self.stack.url('rasa')}/conversations/{sender}/tracker",
            params={"token": self.token},
        )
        response.raise_for_status()
        return response.json()

    async def sign_in(self) -> str:
        response = await self.http.post(
            self.stack.url("backend") + "/api/v1/auth/login",
            json={"email": DEMO_OWNER, "password": DEMO_PASSWORD},
        )
        response.raise_for_status()
        return response.json()["session"]["token"]

    async def conversation(self, conversation: Conversation) -> ConversationResult:
        result = ConversationResult(conversation.id, conversation.journey,
                                    list(conversation.classes), conversation.signed_in)
        await self.wait_outbox()  # the previous conversation's e-mails are out
        self.db.reset()
        (await self.http.delete(self.stack.url("mailsink") + "/api/messages")).raise_for_status()
        self.db.apply_setup(conversation.setup)
        if conversation.signed_in:
            channel: JsonChannel | SocketChannel = SocketChannel(
                self.stack.url("gateway"), await self.sign_in())
        else:
            channel = JsonChannel(httpx.AsyncClient(base_url=self.stack.url("gateway"),
                                                    timeout=TURN_TIMEOUT))
        try:
            await channel.open()
        except Exception as exc:  # noqa: BLE001 - reported as the conversation's error
            result.error = f"{type(exc).__name__}: {exc}"
            return result
        loop_before: str | None = None
        secrets_seen = 0
        try:
            for number, turn in enumerate(conversation.turns, 1):
                code = None
                text = turn.user
                if PLACEHOLDER_CODE in text or any(PLACEHOLDER_CODE in v
                                                   for v in turn.expect.slots.values()):
                    code = await self.code() or "000000"  # no code e-mailed: a wrong one
                    text = text.replace(PLACEHOLDER_CODE, code)
                try:
                    replies = await channel.say(text)
                    tracker = await self.tracker(channel.conversation_id)
                    obs = observe(tracker, loop_before, replies)
                    secret_events = self.secrets.events(channel.conversation_id)
                    for name, value in secret_events[secrets_seen:]:
                        obs.slots_set.setdefault(name, []).append(value)
                    for name, value in secret_events:
                        obs.slots[name] = value
                    secrets_seen = len(secret_events)
                    loop_before = obs.loop_after
                except Exception as exc:  # noqa: BLE001 - a turn without an answer
                    obs = Observation(error=f"{type(exc).__name__}: {exc}")
                failures = evaluate_turn(turn.expect, obs, code)
                result.turns.append(TurnResult(
                    conversation=conversation.id, journey=conversation.journey, number=number,
                    user=turn.user, expected=_expect_dict(turn.expect), ok=not failures,
                    failures=failures, intent=obs.intent, confidence=obs.confidence,
                    actions=obs.names, texts=[r.get("text") or "" for r in obs.replies],
                    diacritics=has_diacritics(turn.user), classes=list(conversation.classes),
                    in_training=fold_example(turn.user) in TRAINING_EXAMPLES,
                ))
                if obs.error:
                    result.error = obs.error
                    break
        finally:
            await channel.close()
            if isinstance(channel, JsonChannel):
                await channel.http.aclose()
        if conversation.has_outcome and result.error is None:
            await self.wait_outbox()
            await asyncio.sleep(0.3)  # the sink stores a delivered message right after SMTP
            with Session(self.db.engine) as session:
                result.outcome_failures = evaluate_outcome(session, await self.mails(),
                                                           conversation)
            result.outcome_checked = True
        elif conversation.has_outcome:
            result.outcome_checked = True
            result.outcome_failures = ["conversation broken off"]
        return result

    def close(self) -> None:
        self.secrets.close()
        self.db.engine.dispose()


def _expect_dict(expect: Expect) -> dict[str, Any]:
    return {k: v for k, v in asdict(expect).items() if v}


# ------------------------------------------------------------------------------ the report


def share(passed: int, total: int) -> str:
    return f"{passed / total:.1%} ({passed}/{total})" if total else "–"


@dataclass
class Tally:
    turns_ok: int = 0
    turns: int = 0
    journeys_ok: int = 0
    journeys: int = 0

    def add(self, result: ConversationResult, turns: list[TurnResult] | None = None) -> None:
        turns = result.turns if turns is None else turns
        self.turns += len(turns)
        self.turns_ok += sum(t.ok for t in turns)
        if result.outcome_checked:
            self.journeys += 1
            self.journeys_ok += result.completed


def tallies(results: list[ConversationResult]) -> dict[str, dict[str, Tally]]:
    by: dict[str, dict[str, Tally]] = {"all": defaultdict(Tally), "journey": defaultdict(Tally),
                                       "class": defaultdict(Tally)}
    for result in results:
        by["all"]["all"].add(result)
        by["journey"][result.journey].add(result)
        for name in result.classes:
            by["class"][name].add(result)
    return by


def per_conversation_counts(results: list[ConversationResult]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for result in results:
        counts[result.journey] += 1
        for name in result.classes:
            counts[name] += 1
    return counts


def breakdown(results: list[ConversationResult], key: str) -> str:
    counts = per_conversation_counts(results)
    rows = tallies(results)[key]
    lines = [f"| {key} | conversations | turns as expected | journeys completed |",
             "|---|---|---|---|"]
    for name in sorted(rows):
        t = rows[name]
        lines.append(f"| {name} | {counts[name]} | {share(t.turns_ok, t.turns)} | "
                     f"{share(t.journeys_ok, t.journeys)} |")
    return "\n".join(lines)


def worst_turns(results: list[ConversationResult], count: int = WORST_TURNS) -> list[TurnResult]:
    failed = [t for r in results for t in r.turns if not t.ok]
    return sorted(failed, key=lambda t: (-len(t.failures), t.confidence or 0.0))[:count]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def worst_table(results: list[ConversationResult]) -> str:
    lines = ["| conversation | user | expected | what happened |", "|---|---|---|---|"]
    for t in worst_turns(results):
        expected = "; ".join(
            f"{k}: " + (", ".join(f"{n}={x}" for n, x in v.items()) if isinstance(v, dict)
                        else ", ".join(v) if isinstance(v, (list, tuple)) else str(v))
            for k, v in t.expected.items())
        confidence = f" {t.confidence:.2f}" if t.confidence is not None else ""
        happened = (f"intent {t.intent}{confidence}; actions: {', '.join(t.actions) or '–'}; "
                    f"failed: {'; '.join(t.failures)}")
        lines.append(f"| {t.conversation} #{t.number} | {_cell(t.user)} | {_cell(expected)} | "
                     f"{_cell(happened)} |")
    return "\n".join(lines)


def failure_kind(failure: str) -> str:
    """"missing asks_email" stays; "slot email=None (expected …)" becomes "slot email"."""
    if failure.startswith("intent "):
        return "wrong intent"
    if failure.startswith("slot "):
        return failure.split("=", 1)[0]
    if failure.startswith("no answer"):
        return "no answer"
    return failure


def failure_kinds_table(results: list[ConversationResult], rows: int = 15) -> str:
    counts: dict[str, int] = defaultdict(int)
    for t in (t for r in results for t in r.turns):
        for failure in t.failures:
            counts[failure_kind(failure)] += 1
    lines = ["| failed expectation | turns |", "|---|---|"]
    for kind, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:rows]:
        lines.append(f"| {kind} | {count} |")
    return "\n".join(lines)


def after_first_failure(results: list[ConversationResult]) -> int:
    """Failed turns that follow an earlier failed turn of their conversation."""
    count = 0
    for result in results:
        failed_before = False
        for t in result.turns:
            count += failed_before and not t.ok
            failed_before = failed_before or not t.ok
    return count


def model_staleness() -> str:
    """Whether the model is older than its sources (the run uses it as it is)."""
    sources = [ROOT / "config.yml", *(ROOT / "domain").glob("*.yml"), *(ROOT / "data").rglob("*.yml")]
    newer = sorted(str(p.relative_to(ROOT)) for p in sources
                   if p.stat().st_mtime > MODEL.stat().st_mtime)
    if not newer:
        return "trained from the current `data/`, `domain/` and `config.yml`"
    return (f"older than {', '.join(f'`{n}`' for n in newer[:5])}"
            f"{' …' if len(newer) > 5 else ''} (used as it is, not retrained)")


def model_hash() -> str:
    digest = hashlib.sha256()
    with open(MODEL, "rb") as model:
        for chunk in iter(lambda: model.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _bench_module():
    """scripts/bench.py (machine and commit descriptions shared with `make bench`)."""
    spec = importlib.util.spec_from_file_location("gateway_bench", ROOT / "scripts" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def verdict(value: float, target: float) -> str:
    return "met" if value >= target else "**missed**"


def render_report(results: list[ConversationResult], *, elapsed_s: float,
                  unrealised: list[str], selection: str) -> str:
    bench = _bench_module()
    overall = tallies(results)["all"]["all"]
    turns_share = overall.turns_ok / overall.turns if overall.turns else 0.0
    journeys_share = overall.journeys_ok / overall.journeys if overall.journeys else 0.0
    with_d = [t for r in results for t in r.turns if t.diacritics]
    unseen = [t for r in results for t in r.turns if not t.in_training]
    without_d = [t for r in results for t in r.turns if not t.diacritics]
    errors = [f"{r.id} ({r.error})" for r in results if r.error]
    failed_turns = overall.turns - overall.turns_ok
    clean = sum(all(t.ok for t in r.turns) for r in results)
    unrealised_lines = ", ".join(f"`{tag}`" for tag in unrealised) or "none"
    tag_lines = "\n".join(f"| `{tag}` | {', '.join(f'`{p}`' for p in patterns)} |"
                          for tag, patterns in TAGS.items())
    refined_lines = "; ".join(
        f"`{refined}` for `{expected}`"
        + (f" (only when the turn ran `{REFINED_ONLY_WITH[expected, refined]}`)"
           if (expected, refined) in REFINED_ONLY_WITH else "")
        for expected, refinements in REFINED_INTENTS.items()
        for refined in refinements
    )
    return f"""# Conversation benchmark

`make bench-conversations` (`scripts/bench_conversations.py`) — written by the script; re-run
it to refresh.

- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC
- machine: {bench.machine()}
- commit: {bench.commit()}
- model: `var/models/pomocnik.tar.gz`, sha256 `{model_hash()}…`, {model_staleness()}; the
  action server, backend and gateway run from the working tree
- conversations: {len(results)} ({selection}); {overall.turns} turns; {overall.journeys}
  with an outcome; run time {elapsed_s / 60:.1f} min
- broken off (a turn without an answer): {', '.join(errors) or 'none'}
- intents the writer did not have, accepted for the one they refine: {refined_lines}

## Verdict

| target | measured | |
|---|---|---|
| turns handled as expected ≥ {TARGET_TURNS:.0%} | {share(overall.turns_ok, overall.turns)} | {verdict(turns_share, TARGET_TURNS)} |
| journeys completed ≥ {TARGET_JOURNEYS:.0%} | {share(overall.journeys_ok, overall.journeys)} | {verdict(journeys_share, TARGET_JOURNEYS)} |

| user text | turns as expected |
|---|---|
| with Polish diacritics | {share(sum(t.ok for t in with_d), len(with_d))} |
| without any (also "tak", addresses, numbers) | {share(sum(t.ok for t in without_d), len(without_d))} |
| not an example of `data/nlu` (folded text) | {share(sum(t.ok for t in unseen), len(unseen))} |

Conversations with every turn as expected: {share(clean, len(results))}. Of the
{failed_turns} failed turns, {after_first_failure(results)} follow an earlier failed turn of the
same conversation.

What failed (a turn can fail several expectations):

{failure_kinds_table(results)}

## Per journey

{breakdown(results, "journey")}

## Per failure class

A conversation counts for every class it exercises (its `classes`).

{breakdown(results, "class")}

## The {WORST_TURNS} worst turns

Failed turns, most failed expectations first, then lowest intent confidence. "actions" are the
turn's executed actions and uttered responses, in order.

{worst_table(results)}

## Method

All five services run as real processes (`harness/stack.py`: a temporary directory, the
real tracker store, the model above) with the gateway's per-session and per-address message
limits raised to 100 000/min and its business-hours clock started at {CLOCK_START}
(Wednesday 10:00 in Warsaw; `GATEWAY_HOURS_CLOCK_START`); no adviser is signed in, so a
handoff gets "no adviser available now" with the contact details and a ticket offer.

Before each conversation every row of every backend table except `alembic_version` is deleted
and the rows of the freshly seeded database (`backend.cli seed` at start-up, the package
catalogue of the migrations) are inserted again — the demo data exactly, in milliseconds
instead of a seed run with four argon2 hashes; the mail sink is emptied; `setup` adds a paired
phone or company members (backend models). The visitor talks through the gateway's JSON API
(`POST /api/v1/conversations`, `POST …/messages`); a `signed_in` conversation logs in as Jan
Kowalski through the backend (`/api/v1/auth/login`) and talks through the gateway's socket.io
channel with that session token (the JSON API has no way to carry one). `{{code}}` is replaced
by the 6-digit code of the newest "Kod weryfikacyjny" e-mail in the sink.

After each turn the runner reads Rasa's tracker (`GET /conversations/<id>/tracker`; the
gateway's conversation id is Rasa's sender id) and looks at the events after the last user
event:

- **intent**: the name of the user event's intent (confidence shown for failures);
- **slots**: the value after the turn, or a value set during the turn (the identity check
  clears the e-mail and the code once the code is accepted), compared after lower-casing,
  folding Polish diacritics and collapsing whitespace. Rasa's HTTP API returns the secret slots
  (`pin`, `verification_code`) as null, so the runner reads those from the tracker store and
  decrypts them with the stack's key (`TRACKER_SECRET_KEY`, generated per run);
- **bot / not_bot**: tags realised by the turn's uttered responses (`utter_action` of each bot
  event, custom actions included), executed actions, the gateway's desk notices, and for
  `kept_form` the form still active after the turn; every fallback
  (`action_default_ask_affirmation`, `utter_ask_rephrase`, `utter_default`,
  `utter_default_again`, …) is `not_understood` — judged by what the visitor was told: the core
  fallback `action_default_fallback` by what it said (in a form it also answers questions it
  understood), and an `nlu_fallback` intent only when no rule answered it from the context.

A turn is **as expected** when every expectation holds; a turn without an answer breaks the
conversation off. A journey is **completed** when every `outcome` check holds at the end: the
e-mail in the sink (recipient, subject fragment) and the backend state through direct queries
with the backend's models. Conversations without an outcome count for turns only.

### Tags and what realises them

| tag | responses / actions / signals (fnmatch patterns; `!` excludes) |
|---|---|
{tag_lines}

Tags that nothing in the domain realises (no response or action matches; turns expecting
them fail): {unrealised_lines}.

## Format

`bench/conversations/<journey>.yml`: `version: 1` and `conversations:`, each with `id`
(`<journey>-<nn>`, unique), `journey`, `classes`, `style`, optional `setup` (`device: {{name,
platform}}`, `members: [{{name, email, role}}]`), `signed_in`, `turns` (`user`, `expect` with
`intent`, `slots`, `bot`, `not_bot`), optional `outcome` (`mail: [{{to, subject_contains}}]`,
`backend: [{{check: package|member|login_email_change|device|account, …}}]`).
`tests/bench/test_conversation_runner.py` checks every file against this format, so a typo in a
tag, intent, slot or check fails `make test`.
"""


def result_json(results: list[ConversationResult]) -> dict[str, Any]:
    return {
        "date": datetime.now(timezone.utc).isoformat(),
        "conversations": [
            {**{k: v for k, v in asdict(r).items() if k != "turns"}, "completed": r.completed,
             "turns": [asdict(t) for t in r.turns]}
            for r in results
        ],
    }


def print_summary(results: list[ConversationResult]) -> None:
    overall = tallies(results)["all"]["all"]
    print(f"\nturns as expected: {share(overall.turns_ok, overall.turns)}; journeys completed: "
          f"{share(overall.journeys_ok, overall.journeys)}")
    for t in worst_turns(results, 10):
        print(f"  {t.conversation} #{t.number} {t.user!r}: {'; '.join(t.failures)}")


# ------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=CONVERSATIONS_DIR,
                        help="conversation files (default bench/conversations)")
    parser.add_argument("--only", help="only this journey")
    parser.add_argument("--ids", help="only these conversation ids, comma-separated")
    parser.add_argument("--limit", type=int, help="only the first N conversations")
    parser.add_argument("--out", type=Path, help="write the report here")
    return parser.parse_args(argv)


def select(conversations: list[Conversation], args: argparse.Namespace) -> list[Conversation]:
    if args.only:
        if args.only not in JOURNEYS:
            raise SystemExit(f"unknown journey {args.only!r}")
        conversations = [c for c in conversations if c.journey == args.only]
    if args.ids:
        wanted = {i.strip() for i in args.ids.split(",") if i.strip()}
        unknown = wanted - {c.id for c in conversations}
        if unknown:
            raise SystemExit(f"unknown conversation ids: {', '.join(sorted(unknown))}")
        conversations = [c for c in conversations if c.id in wanted]
    if args.limit:
        conversations = conversations[: args.limit]
    return conversations


def main(argv: list[str] | None = None) -> None:
    from harness.stack import start_stack, stop_stack

    args = parse_args(argv)
    everything = load_conversations(args.dir)
    conversations = select(everything, args)
    full = (args.dir.resolve() == CONVERSATIONS_DIR.resolve() and not
            (args.only or args.ids or args.limit))
    if not conversations:
        raise SystemExit(f"no conversations in {args.dir}")
    unrealised = unrealised_tags(domain_names())
    key = urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
    with tempfile.TemporaryDirectory(prefix="pomocnik-bench-conv-") as workdir:
        started = time.monotonic()
        stack = start_stack(Path(workdir),
                            extra_env={**GATEWAY_ENV, "TRACKER_SECRET_KEY": key})
        print(f"stack up in {time.monotonic() - started:.0f} s; {len(conversations)} "
              "conversations", flush=True)
        runner = Runner(stack, key)
        try:
            results = asyncio.run(runner.run(conversations))
        finally:
            runner.close()
            stop_stack(stack)
        elapsed = time.monotonic() - started
    print_summary(results)
    out = RESULTS if full else PARTIAL_RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result_json(results), ensure_ascii=False, indent=1),
                   encoding="utf-8")
    print(f"every turn: {out.relative_to(ROOT)}")
    report = args.out or (REPORT if full else None)
    if report is not None:
        selection = "all of bench/conversations" if full else (
            f"selection of {args.dir}: only={args.only} ids={args.ids} limit={args.limit}")
        report.write_text(render_report(results, elapsed_s=elapsed,
                                        unrealised=unrealised, selection=selection),
                          encoding="utf-8")
        print(f"report: {report}")


if __name__ == "__main__":
    main()
