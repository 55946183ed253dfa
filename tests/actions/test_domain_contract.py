"""The action server and the domain (domain/*.yml) must agree on action, slot and response names."""

from __future__ import annotations

from rasa_sdk.executor import ActionExecutor

from actions.account import (
    LAST_RESET_EMAIL_SLOT,
    PASSWORD_RESET_STATUS_SLOT,
    RESET_PASSWORD_FORM,
    PasswordResetStatus,
)
from actions.validators import EMAIL_SLOT, UTTER_INVALID_EMAIL


def test_registered_actions_match_domain(domain):
    executor = ActionExecutor()
    executor.register_package("actions")

    assert set(executor.actions) == set(domain["actions"])


def test_slots_and_form_exist(domain):
    for slot in (EMAIL_SLOT, LAST_RESET_EMAIL_SLOT, PASSWORD_RESET_STATUS_SLOT):
        assert slot in domain["slots"]
    assert domain["forms"][RESET_PASSWORD_FORM]["required_slots"] == [EMAIL_SLOT]


def test_status_values_match_categorical_slot(domain):
    values = {
        value for name, value in vars(PasswordResetStatus).items() if not name.startswith("_")
    }
    assert values == set(domain["slots"][PASSWORD_RESET_STATUS_SLOT]["values"])


def test_responses_used_by_actions_exist(domain):
    assert UTTER_INVALID_EMAIL in domain["responses"]
