"""The pure parts of scripts/bench_conversations.py (no services are started), and the
validator of the evaluation conversations in bench/conversations/: every file follows the
format, ids are unique, every tag, intent, slot and check is known (a typo fails `make test`).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from backend.cli import migrate
from backend.models import (
    Account,
    AccountState,
    Membership,
    MobileDevice,
    Organisation,
    OrganisationKind,
    OutboxMessage,
    PackageCode,
    Role,
    Subscription,
)
from bot.domain_files import load_domain

ROOT = Path(__file__).resolve().parents[2]


def _load_runner():
    spec = importlib.util.spec_from_file_location(
        "bench_conversations", ROOT / "scripts" / "bench_conversations.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bc = _load_runner()


# ------------------------------------------------------------------ the committed conversations


def test_every_conversation_file_follows_the_format():
    conversations = bc.load_conversations(bc.CONVERSATIONS_DIR)
    assert conversations, "bench/conversations/ holds no conversation"
    assert len({c.id for c in conversations}) == len(conversations)
    for conversation in conversations:
        assert all(t.expect.intent in (None, *bc.INTENTS) for t in conversation.turns)


def test_no_sentence_of_the_benchmark_is_a_training_example():
    # The benchmark measures understanding of messages the model never saw. Short everyday
    # replies ("tak", "dzięki, działa") are bound to meet the training data; a sentence of four
    # words or more found in both was copied (bench-conversations reports the share of turns
    # whose text is no example at all).
    copied = sorted(
        turn.user
        for conversation in bc.load_conversations(bc.CONVERSATIONS_DIR)
        for turn in conversation.turns
        if len(bc.fold_example(turn.user).split()) >= 4
        and bc.fold_example(turn.user) in bc.TRAINING_EXAMPLES
    )
    assert copied == []


def test_the_runners_names_exist_in_the_assistants_domain():
    domain = load_domain()
    assert set(bc.INTENTS) <= set(domain["intents"])
    assert set(bc.SLOTS) <= set(domain["slots"])


# ------------------------------------------------------------------ parsing

VALID = {
    "version": 1,
    "conversations": [{
        "id": "password_reset-01",
        "journey": "password_reset",
        "classes": ["no_diacritics"],
        "style": "informal",
        "turns": [
            {"user": "nie pamietam hasla", "expect": {"intent": "reset_password",
                                                      "bot": ["asks_email"]}},
            {"user": "jan.kowalski@majafirma.pl",
             "expect": {"slots": {"email": "jan.kowalski@majafirma.pl"},
                        "bot": ["reset_link_sent"], "not_bot": ["not_understood"]}},
        ],
        "outcome": {"mail": [{"to": "jan.kowalski@majafirma.pl", "subject_contains": "hasła"}]},
    }],
}


def _write(directory: Path, name: str, data: dict) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _variant(**changes) -> dict:
    data = yaml.safe_load(yaml.safe_dump(VALID))
    data["conversations"][0].update(changes)
    return data


def test_a_valid_file_parses_into_turns_and_an_outcome(tmp_path):
    [conversation] = bc.parse_file(_write(tmp_path, "password_reset.yml", VALID))
    assert conversation.id == "password_reset-01"
    assert conversation.turns[0].expect == bc.Expect("reset_password", {}, ("asks_email",), ())
    assert conversation.turns[1].expect.slots == {"email": "jan.kowalski@majafirma.pl"}
    assert conversation.has_outcome and not conversation.signed_in


@pytest.mark.parametrize("turn, problem", [
    ({"user": "x", "expect": {"bot": ["asks_emial"]}}, "unknown bot tag 'asks_emial'"),
    ({"user": "x", "expect": {"intent": "reset_pasword"}}, "unknown intent"),
    ({"user": "x", "expect": {"slots": {"e_mail": "a@b.pl"}}}, "unknown slot"),
    ({"user": "x", "expect": {"not_bot": ["not_understood"]}}, "at least one of"),
    ({"user": "x", "expect": {"bot": ["closing"], "nobot": ["x"]}}, "unknown keys"),
    ({"user": "", "expect": {"bot": ["closing"]}}, "user must be non-empty"),
    ({"user": "x", "expect": {"bot": ["closing"], "not_bot": ["closing"]}}, "both expected"),
])
def test_a_typo_in_a_turn_is_refused(tmp_path, turn, problem):
    path = _write(tmp_path, "password_reset.yml", _variant(turns=[turn]))
    with pytest.raises(bc.SpecError, match=problem):
        bc.parse_file(path)


@pytest.mark.parametrize("changes, problem", [
    ({"journey": "pasword_reset"}, "unknown journey"),
    ({"id": "reset-01"}, "id must be"),
    ({"classes": ["typo"]}, "unknown failure class"),
    ({"style": "casual"}, "unknown style"),
    ({"signed_in": "yes"}, "signed_in must be"),
    ({"setup": {"members": [{"name": "A B", "email": "a@b.pl", "role": "boss"}]}},
     "unknown role"),
    ({"outcome": {"backend": [{"check": "packages", "email": "a@b.pl"}]}}, "unknown check"),
    ({"outcome": {"backend": [{"check": "package", "email": "a@b.pl"}]}}, "missing keys"),
    ({"outcome": {"backend": [{"check": "device", "email": "a@b.pl", "paired": "no"}]}},
     "paired must be"),
    ({"outcome": {"mail": [{"to": "a@b.pl"}]}}, "missing keys"),
])
def test_a_typo_in_a_conversation_is_refused(tmp_path, changes, problem):
    path = _write(tmp_path, "password_reset.yml", _variant(**changes))
    with pytest.raises(bc.SpecError, match=problem):
        bc.parse_file(path)


def test_a_conversation_must_sit_in_its_journeys_file(tmp_path):
    with pytest.raises(bc.SpecError, match="in the file of journey 'login_help'"):
        bc.parse_file(_write(tmp_path, "login_help.yml", VALID))


def test_ids_are_unique_across_files(tmp_path):
    _write(tmp_path, "password_reset.yml", VALID)
    other = tmp_path / "more"
    other.mkdir()
    shutil.copy(tmp_path / "password_reset.yml", other / "password_reset.yml")
    second = _variant(id="login_help-01", journey="login_help")
    _write(other, "login_help.yml", second)
    assert len(bc.load_conversations(other)) == 2
    _write(other, "login_help.yml", _variant(journey="login_help", id="password_reset-01"))
    with pytest.raises(bc.SpecError):
        bc.load_conversations(other)


# ------------------------------------------------------------------ normalisation and tags


@pytest.mark.parametrize("value, expected", [
    ("  Jan   NOWICKI ", "jan nowicki"),
    ("Michał Zając-Źdźbło", "michal zajac-zdzblo"),
    ("ŁÓDŹ\tśląsk", "lodz slask"),
    (True, "true"),
    (68577, "68577"),
    (None, ""),
])
def test_slot_values_are_normalised(value, expected):
    assert bc.normalise(value) == expected


def _tracker(*events, slots=None, loop=None):
    return {"events": list(events), "slots": slots or {},
            "active_loop": {"name": loop} if loop else {}}


def _user(intent, confidence=0.9):
    return {"event": "user", "parse_data": {"intent": {"name": intent,
                                                       "confidence": confidence}}}


def _action(name):
    return {"event": "action", "name": name}


def _bot(utter):
    return {"event": "bot", "text": "…", "metadata": {"utter_action": utter}}


def test_only_the_events_after_the_last_user_message_count():
    tracker = _tracker(
        _user("greet"), _action("utter_greet"), _bot("utter_greet"), _action("action_listen"),
        _user("change_package", 0.81), _action("change_package_form"),
        _bot("utter_ask_change_package_form_email"),
        {"event": "slot", "name": "requested_slot", "value": "email"},
        _action("action_listen"),
    )
    obs = bc.observe(tracker, None, [])
    assert (obs.intent, obs.confidence) == ("change_package", 0.81)
    assert obs.names == ["change_package_form", "utter_ask_change_package_form_email"]
    assert bc.observed_tags(obs) == {"asks_email"}


def test_a_response_action_is_listed_once():
    obs = bc.observe(_tracker(_user("thanks"), _action("utter_you_are_welcome"),
                              _bot("utter_you_are_welcome")), None, [])
    assert obs.names == ["utter_you_are_welcome"]
    assert "closing" in bc.observed_tags(obs)


@pytest.mark.parametrize("names, intent, expected, absent", [
    (["utter_ask_rephrase"], "inform", "not_understood", None),
    (["action_default_ask_affirmation", "utter_ask_affirmation_pair_phone"], "pair_phone",
     "not_understood", None),
    # by what the visitor was told: the two-stage fallback's question, or the core fallback's
    # "nie jestem pewien"; an nlu_fallback a rule answered from the context is not one
    (["action_two_stage_fallback", "utter_ask_rephrase"], "nlu_fallback", "not_understood", None),
    (["action_default_fallback", "utter_default"], "account_status", "not_understood", None),
    (["utter_support_contact", "utter_ticket_offer"], "nlu_fallback", "contact_given",
     "not_understood"),
    (["action_default_fallback", "utter_login_help"], "login_help", "login_help",
     "not_understood"),
    (["utter_package_downgrade_cancelled"], "affirm", "package_changed", "cancelled"),
    (["utter_registration_cancelled"], "stop", "cancelled", "package_changed"),
    (["utter_ask_add_user_form_member_email"], "add_user", "asks_member_email", "asks_email"),
    (["utter_verification_code_sent"], "inform", "code_sent", None),
    (["utter_registration_summary"], "inform", "asks_confirmation", None),
])
def test_tags_are_realised_by_responses_actions_and_intents(names, intent, expected, absent):
    obs = bc.Observation(intent=intent, names=names)
    tags = bc.observed_tags(obs)
    assert expected in tags
    assert absent is None or absent not in tags


def test_the_gateways_desk_notice_realises_handoff_and_the_ticket_offer():
    notice = {"text": "Teraz żaden konsultant nie jest dostępny na czacie.",
              "custom": {"handoff": {"state": "unavailable"}, "offer": "ticket"}}
    tags = bc.observed_tags(bc.Observation(intent="human_handoff", replies=[notice]))
    assert {"handoff", "ticket_offered", "contact_given"} <= tags
    request_only = {"text": "", "custom": {"handoff": {"requested": True}}}
    assert not bc.observed_tags(bc.Observation(intent="inform", replies=[request_only]))


def test_kept_form_needs_the_same_form_active_before_and_after():
    assert "kept_form" in bc.observed_tags(
        bc.Observation(loop_before="registration_form", loop_after="registration_form"))
    assert "kept_form" not in bc.observed_tags(
        bc.Observation(loop_before="registration_form", loop_after=None))
    assert "kept_form" not in bc.observed_tags(bc.Observation(loop_after="registration_form"))


def test_every_tag_of_the_format_is_in_the_table():
    spec = (ROOT / "bench" / "conversations").exists()
    assert spec
    for tag in ("asks_email", "code_not_sent", "kept_form", "closing", "not_understood"):
        assert tag in bc.TAGS


# ------------------------------------------------------------------ turn evaluation


def test_a_turn_is_as_expected_only_when_every_expectation_holds():
    expect = bc.Expect("inform", {"verification_code": "{code}", "email": "Jan.Kowalski@majafirma.pl"},
                       ("identity_verified",), ("not_understood",))
    obs = bc.Observation(
        intent="inform", names=["change_package_form", "utter_identity_verified"],
        # the identity check clears the e-mail and the code once the code is accepted
        slots={"email": None, "verification_code": None},
        slots_set={"verification_code": ["123456", None], "email": [None]},
    )
    assert bc.evaluate_turn(expect, obs, code="123456") == ["slot email=None "
                                                             "(expected 'Jan.Kowalski@majafirma.pl')"]
    obs.slots["email"] = "jan.kowalski@majafirma.pl"
    assert bc.evaluate_turn(expect, obs, code="123456") == []
    assert bc.evaluate_turn(expect, obs, code="654321") == [
        "slot verification_code=None (expected '654321')"]
    obs.names.append("utter_ask_rephrase")
    obs.intent = "nlu_fallback"
    assert bc.evaluate_turn(expect, obs, code="123456") == [
        "intent nlu_fallback (expected inform)", "unwanted not_understood"]


def test_a_turn_without_an_answer_fails():
    failures = bc.evaluate_turn(bc.Expect(bot=("closing",)),
                                bc.Observation(error="RuntimeError: gateway 503"))
    assert failures == ["no answer: RuntimeError: gateway 503"]


def test_the_newest_verification_code_is_used():
    mails = [
        {"subject": "Kod weryfikacyjny do czatu – iKsięgowość24", "text": "kod to:\n\n111111\n",
         "received_at": "2026-12-02T09:00:01"},
        {"subject": "Ustawienie nowego hasła", "text": "222222", "received_at": "2026-12-02T09:00:03"},
        {"subject": "Kod weryfikacyjny do czatu – iKsięgowość24", "text": "kod to:\n\n333333\n",
         "received_at": "2026-12-02T09:00:02"},
    ]
    assert bc.latest_code(mails) == "333333"
    assert bc.latest_code(mails[1:2]) is None


# ------------------------------------------------------------------ outcomes on a real database


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "backend.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def db(migrated, tmp_path):
    """A migrated SQLite database with Jan Kowalski's company (green package)."""
    path = tmp_path / "backend.db"
    shutil.copy(migrated, path)
    engine = sa.create_engine(f"sqlite:///{path}")
    with Session(engine) as session, session.begin():
        jan = Account(email="jan.kowalski@majafirma.pl", name="Jan Kowalski",
                      state=AccountState.ACTIVE, cloud_login_activated=True)
        company = Organisation(name="Majama Michał Zając", kind=OrganisationKind.COMPANY)
        session.add_all([jan, company, Membership(account=jan, organisation=company,
                                                  role=Role.OWNER),
                         Subscription(organisation=company, package_code=PackageCode.GREEN,
                                      valid_until=date(2027, 8, 31))])
    yield path, engine
    engine.dispose()


def _conversation(mail=(), backend=()):
    return bc.Conversation(id="x-01", journey="add_user", classes=(), style="informal",
                           signed_in=False, turns=(), mail=tuple(mail), backend=tuple(backend))


JAN = "jan.kowalski@majafirma.pl"


def test_backend_checks_read_the_state(db):
    _, engine = db
    with Session(engine) as session:
        assert bc.check_backend(session, {"check": "package", "email": JAN, "package": "green"}) \
            is None
        assert "expected gold" in bc.check_backend(
            session, {"check": "package", "email": JAN, "package": "gold"})
        assert bc.check_backend(session, {"check": "account", "email": "JAN.Kowalski@majafirma.pl",
                                          "exists": True}) is None
        assert bc.check_backend(session, {"check": "account", "email": "nowy@firma.pl",
                                          "exists": False}) is None
        assert bc.check_backend(session, {"check": "device", "email": JAN, "paired": False}) \
            is None
        member = {"check": "member", "owner": JAN, "email": "t.wrona@majafirma.pl"}
        assert "not a member" in bc.check_backend(session, {**member, "role": "employee"})
        assert bc.check_backend(session, {**member, "present": False}) is None
        change = {"check": "login_email_change", "email": JAN, "new_email": "jan@nowa.pl"}
        assert "no e-mail change confirmation" in bc.check_backend(session, change)

    with Session(engine) as session, session.begin():
        subscription = session.scalar(sa.select(Subscription))
        subscription.pending_package_code = PackageCode.GOLD
        session.add(OutboxMessage(to_address="jan@nowa.pl", subject="Potwierdź nowy adres",
                                  kind="email_change_confirm"))
    with Session(engine) as session:
        assert bc.check_backend(session, {"check": "package", "email": JAN, "package": "gold"}) \
            is None
        assert bc.check_backend(session, change) is None


def test_setup_and_reset_restore_the_seeded_rows(db):
    path, engine = db
    engine.dispose()
    backend = bc.BackendDb(path)
    setup = {"device": {"name": "Samsung Galaxy A54", "platform": "android"},
             "members": [{"name": "Tomasz Wrona", "email": "Tomasz.Wrona@majafirma.pl",
                          "role": "employee"}]}
    backend.apply_setup(setup)
    member = {"check": "member", "owner": JAN, "email": "tomasz.wrona@majafirma.pl"}
    with Session(backend.engine) as session:
        assert bc.check_backend(session, {**member, "role": "employee"}) is None
        assert "has role employee" in bc.check_backend(session, {**member, "role": "warehouse"})
        assert bc.check_backend(session, {"check": "device", "email": JAN, "paired": True}) is None
    backend.reset()
    with Session(backend.engine) as session:
        assert bc.check_backend(session, {**member, "present": False}) is None
        assert bc.check_backend(session, {"check": "device", "email": JAN, "paired": False}) \
            is None
        assert session.scalar(sa.select(sa.func.count()).select_from(Account)) == 1
        assert session.scalar(sa.text("SELECT count(*) FROM packages")) == 3
        assert session.scalar(sa.text("SELECT count(*) FROM alembic_version")) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(MobileDevice)) == 0
    backend.engine.dispose()


def test_the_outcome_needs_every_mail_and_check(db):
    _, engine = db
    mails = [{"to": "Jan Kowalski <jan.kowalski@majafirma.pl>", "envelope_to": [JAN],
              "subject": "Ustawienie nowego hasła – iKsięgowość24"}]
    reset = _conversation(mail=[{"to": JAN, "subject_contains": "HASŁA"}])
    with Session(engine) as session:
        assert bc.evaluate_outcome(session, mails, reset) == []
        assert bc.evaluate_outcome(session, [], reset) == [
            f"no e-mail to {JAN} with 'HASŁA' in the subject"]
        both = _conversation(mail=[{"to": JAN, "subject_contains": "hasła"}],
                             backend=[{"check": "package", "email": JAN, "package": "silver"}])
        assert len(bc.evaluate_outcome(session, mails, both)) == 1


def _result(*oks):
    result = bc.ConversationResult("x-01", "add_user", [], False)
    result.turns = [bc.TurnResult("x-01", "add_user", i, "…", {}, ok, [] if ok else ["missing x"],
                                  None, None, [], [], False, []) for i, ok in enumerate(oks, 1)]
    return result


def test_failed_turns_after_an_earlier_failure_are_counted():
    assert bc.after_first_failure([_result(True, False, True, False, False), _result(False)]) == 2
    assert bc.failure_kind("slot email=None (expected 'a@b.pl')") == "slot email"
    assert bc.failure_kind("intent inform (expected add_user)") == "wrong intent"
    assert bc.failure_kind("missing asks_email") == "missing asks_email"


def test_a_refined_intent_meets_the_intent_it_was_split_from_and_no_other():
    thanks = bc.Expect("thanks", {}, ("closing",), ())
    closed = bc.Observation(intent="done", names=["utter_done"])
    assert bc.evaluate_turn(thanks, closed) == []
    goodbye = bc.Expect("goodbye", {}, ("closing",), ())
    assert bc.evaluate_turn(goodbye, closed) == ["intent done (expected goodbye)"]
    # the bot expectation still decides: `done` answered with a question is a failure
    asked = bc.Observation(intent="done", names=["utter_you_are_welcome_question"])
    assert bc.evaluate_turn(thanks, asked) == ["missing closing"]
    assert set(bc.REFINED_INTENTS) <= set(bc.INTENTS)


def test_a_contextual_refinement_counts_only_when_the_turn_did_what_was_asked():
    resend = bc.Expect("reset_password", {}, (), ("not_understood",))
    sent_again = bc.Observation(
        intent="code_not_received",
        names=["action_mail_not_received", "reset_password_form", "action_request_password_reset"],
    )
    assert bc.evaluate_turn(resend, sent_again) == []
    only_explained = bc.Observation(
        intent="code_not_received", names=["action_mail_not_received"]
    )
    assert bc.evaluate_turn(resend, only_explained) == [
        "intent code_not_received (expected reset_password)"
    ]
    assert all(expected in bc.REFINED_INTENTS for expected, _ in bc.REFINED_ONLY_WITH)
