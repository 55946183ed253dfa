"""Shared e-mail validator and validate_reset_password_form."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ValidateResetPasswordForm
from actions.validators import BaseFormValidator, normalize_email
from tests.actions.helpers import form_answer_tracker


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("jan.kowalski@majafirma.pl", "jan.kowalski@majafirma.pl"),
        ("Jan.Kowalski@MajaFirma.PL", "jan.kowalski@majafirma.pl"),
        ("  jan@firma.pl  ", "jan@firma.pl"),
        ("jan@firma.pl.", "jan@firma.pl"),
        ("mój mail to jan.kowalski@majafirma.pl", "jan.kowalski@majafirma.pl"),
        ("moj mail: <Anna.Nowak@Firma.com.pl>, dzieki", "anna.nowak@firma.com.pl"),
        ("k.pietrzak+ksiegowosc@gmail.com", "k.pietrzak+ksiegowosc@gmail.com"),
        ("józef@firma.pl", "józef@firma.pl"),
    ],
)
def test_normalize_email_accepts_and_lowercases(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        42,
        "jan.kowalski.majafirma.pl",
        "jan@firma",
        "jan@@firma.pl",
        "@firma.pl",
        "jan@",
        "jan(at)firma.pl",
        "jan@localhost",
        "a@b.test",
        "jan@firma.pl albo anna@firma.pl",
        "anna.nowak@biuro-nowak.p",  # a cut-off domain: no top-level domain has one letter
    ],
)
def test_normalize_email_rejects(raw):
    assert normalize_email(raw) is None


def test_base_form_validator_is_abstract_and_names_from_form():
    with pytest.raises(TypeError):
        BaseFormValidator()  # type: ignore[abstract]
    validator = ValidateResetPasswordForm()
    assert validator.name() == "validate_reset_password_form"
    assert validator.form_name() == "reset_password_form"


async def test_form_accepts_valid_address_normalised(domain):
    dispatcher = CollectingDispatcher()
    tracker = form_answer_tracker("Jan.Kowalski@MajaFirma.pl", "Jan.Kowalski@MajaFirma.pl")

    events = await ValidateResetPasswordForm().run(dispatcher, tracker, domain)

    assert events == [SlotSet("email", "jan.kowalski@majafirma.pl")]
    assert dispatcher.messages == []


async def test_form_picks_address_out_of_free_text(domain):
    # from_text mapping: the whole message lands in the slot
    dispatcher = CollectingDispatcher()
    text = "moj mail to jan.kowalski@majafirma.pl"
    tracker = form_answer_tracker(text, text, intent="nlu_fallback")

    events = await ValidateResetPasswordForm().run(dispatcher, tracker, domain)

    assert events == [SlotSet("email", "jan.kowalski@majafirma.pl")]
    assert dispatcher.messages == []


async def test_form_rejects_invalid_address_with_domain_response(domain):
    dispatcher = CollectingDispatcher()
    tracker = form_answer_tracker("jan.kowalski.majafirma.pl", "jan.kowalski.majafirma.pl")

    events = await ValidateResetPasswordForm().run(dispatcher, tracker, domain)

    assert events == [SlotSet("email", None)]
    assert dispatcher.messages == [
        {
            "text": None,
            "buttons": [],
            "elements": [],
            "custom": {},
            "template": "utter_invalid_email",
            "response": "utter_invalid_email",
            "image": None,
            "attachment": None,
        }
    ]
    assert "utter_invalid_email" in domain["responses"]
