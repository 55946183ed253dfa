"""bot/rasa_ext/action_check.py: Rasa's check of the action server's answers with its validator
built once. The answers Rasa accepted are accepted, the answers it rejected are rejected with
the same error, and the schema is no longer checked on every call."""

from __future__ import annotations

import logging

import jsonschema
import pytest
import rasa
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_ext import action_check


VALID = [
    {},
    {"events": [], "responses": []},
    # as our action server answers: slots, a form deactivated, a reply with buttons
    {
        "events": [
            {"event": "slot", "timestamp": None, "name": "email", "value": "jan@majafirma.pl"},
            {"event": "slot", "timestamp": 1764790000.5, "name": "pin", "value": None},
            {"event": "active_loop", "timestamp": None, "name": None},
            {"event": "followup", "timestamp": None, "name": "action_listen"},
        ],
        "responses": [{"text": "Gotowe.", "buttons": [{"title": "Tak", "payload": "/affirm"}]}],
    },
    {"events": [{"event": "restart"}, {"event": "bot", "text": "Cześć", "data": {}}]},
]

INVALID = [
    None,  # an empty body
    [],
    "events",
    {"events": "not a list"},
    {"events": [{"name": "email", "value": "x"}]},  # no "event"
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot", "name": 3}]},
    {"events": [{"event": "slot", "name": "x", "value": 1, "timestamp": "yesterday"}]},
    {"events": [{"event": "user", "text": 5, "parse_data": []}]},
    {"responses": "Gotowe."},
    {"responses": [1, "a"]},
    # Two errors: jsonschema.validate raises the best match ("responses"), a validator's own
    # .validate() the first one found ("events"): this answer tells the two apart.
    {"events": [{"event": 1}], "responses": 3},
]


def error_fields(error: ValidationError) -> tuple:
    return (type(error), error.message, list(error.path), list(error.schema_path),
            error.validator, error.validator_value, error.instance)


@pytest.fixture
def rasa_check(monkeypatch):
    """Rasa 3.6's own method (also when an earlier test has already installed ours); the
    attribute and the module's cache are restored afterwards."""
    monkeypatch.setattr(RemoteAction, "_validate_action_result",
                        RemoteAction._validate_action_result)
    monkeypatch.setattr(action_check, "_validators", {})
    monkeypatch.setattr(action_check, "rasa_validate_action_result",
                        action_check.rasa_validate_action_result)
    original = RemoteAction._validate_action_result
    if original is action_check.validate_action_result:
        original = action_check.rasa_validate_action_result
    assert original.__module__ == "rasa.core.actions.action"
    assert original.__qualname__ == "RemoteAction._validate_action_result"
    return original


@pytest.fixture
def installed(rasa_check):
    assert action_check.install()
    assert RemoteAction._validate_action_result is action_check.validate_action_result
    assert action_check.rasa_validate_action_result is rasa_check
    return RemoteAction("action_test", None)


@pytest.mark.parametrize("answer", VALID)
def test_answers_rasa_accepts_are_accepted(rasa_check, installed, answer):
    assert rasa_check(installed, answer) is True
    assert installed._validate_action_result(answer) is True


@pytest.mark.parametrize("answer", INVALID)
def test_answers_rasa_rejects_are_rejected_with_the_same_error(rasa_check, installed, answer):
    with pytest.raises(ValidationError) as by_rasa:
        rasa_check(installed, answer)
    with pytest.raises(ValidationError) as ours:
        installed._validate_action_result(answer)
    assert error_fields(ours.value) == error_fields(by_rasa.value)
    assert "Failed to validate Action server response from API" in ours.value.message


def test_the_corpus_tells_best_match_from_first_error():
    """Otherwise the comparison above could not catch a check that raises the first error."""
    schema = RemoteAction.action_response_format_spec()
    validator = validator_for(schema)(schema)
    differing = []
    for answer in INVALID:
        with pytest.raises(ValidationError) as best:
            jsonschema.validate(answer, schema)
        with pytest.raises(ValidationError) as first:
            validator.validate(answer)
        if error_fields(best.value) != error_fields(first.value):
            differing.append(answer)
    assert differing == [{"events": [{"event": 1}], "responses": 3}]


def test_the_validator_is_built_and_its_schema_checked_once(rasa_check, installed, monkeypatch):
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    checks = []
    check_schema = cls.check_schema

    def counting_check_schema(schema, *args, **kwargs):
        checks.append(schema)
        return check_schema(schema, *args, **kwargs)

    monkeypatch.setattr(cls, "check_schema", staticmethod(counting_check_schema))
    answers = (VALID + INVALID) * 3

    def run(check) -> None:
        for answer in answers:
            try:
                check(installed, answer)
            except ValidationError:
                pass

    run(rasa_check)  # the counter counts: Rasa checks the schema on every call
    assert len(checks) == len(answers)
    checks.clear()
    run(RemoteAction._validate_action_result)
    assert checks == [schema]
    spec = installed.action_response_format_spec
    assert action_check.response_validator(spec) is action_check.response_validator(spec)
    assert list(action_check._validators) == [spec]


async def test_a_remote_action_runs_the_check_on_the_real_answer(installed, fake_backend):
    """RemoteAction.run, patched, against an HTTP action server: a bad answer still fails the
    action, a good one still becomes events and messages."""
    action = RemoteAction("action_test", EndpointConfig(f"{fake_backend.url}/webhook"))
    tracker = DialogueStateTracker("visitor", [])
    nlg, domain = TemplatedNaturalLanguageGenerator({}), Domain.empty()

    fake_backend.reply(200, {"events": [{"event": 1}], "responses": 3})
    with pytest.raises(ValidationError) as rejected:
        await action.run(CollectingOutputChannel(), nlg, tracker, domain)
    assert rejected.value.message.startswith("3 is not of type 'array'. Failed to validate")

    fake_backend.reply(200, {"events": [{"event": "slot", "name": "email", "value": "a@b.pl"}],
                             "responses": [{"text": "Gotowe."}]})
    events = await action.run(CollectingOutputChannel(), nlg, tracker, domain)
    assert [type(e).__name__ for e in events] == ["BotUttered", "SlotSet"]
    assert [len(fake_backend.requests)] == [2]


def test_another_rasa_keeps_its_own_check(rasa_check, monkeypatch, caplog):
    monkeypatch.setattr(rasa, "__version__", "3.7.0")
    with caplog.at_level(logging.WARNING, logger=action_check.__name__):
        assert action_check.install() is False
    assert RemoteAction._validate_action_result is rasa_check
    assert "this is Rasa 3.7.0" in caplog.text
