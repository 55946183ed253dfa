"""Pure parts of registration: the NIP validator (property-tested), plan terms, masking, e-mails."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.pl import nip as stdnum_nip

from backend.mail.registration_emails import ACTIVATION_SUBJECT, ActivationVariant, activation, hours_text
from backend.models import PackageCode
from backend.services.registration import (
    InvalidNip,
    RegistrationForm,
    add_years,
    initial_terms,
    mask_email,
    normalise_nip,
)

ten_digits = st.text(alphabet="0123456789", min_size=10, max_size=10)


def accepted(value: str) -> bool:
    try:
        normalise_nip(value)
    except InvalidNip:
        return False
    return True


@given(ten_digits)
def test_a_ten_digit_string_is_accepted_iff_stdnum_says_valid(digits):
    assert accepted(digits) == stdnum_nip.is_valid(digits)


@given(ten_digits, st.lists(st.sampled_from(["", "-", " ", "  ", " - "]), min_size=11, max_size=11))
def test_dashes_and_spaces_do_not_change_the_verdict(digits, separators):
    formatted = "".join(sep + digit for sep, digit in zip(separators, digits)) + separators[-1]
    assert accepted(formatted) == accepted(digits)
    if accepted(digits):
        assert normalise_nip(formatted) == digits


def test_the_guides_example_nip_is_invalid():
    with pytest.raises(InvalidNip) as caught:
        normalise_nip("7776665544")
    assert caught.value.code == "invalid_nip" and caught.value.status == 422
    assert "NIP jest nieprawidłowy" in caught.value.message


def test_demo_nips_are_valid():
    assert normalise_nip("526-025-02-74") == "5260250274"
    assert normalise_nip("954 123 87 69") == "9541238769"


@pytest.mark.parametrize(
    ("package", "valid_until", "trial_until", "after_trial"),
    [
        (PackageCode.GREEN, date(2027, 11, 23), date(2027, 2, 21), None),
        (PackageCode.SILVER, date(2027, 2, 21), date(2027, 2, 21), PackageCode.GREEN),
        (PackageCode.GOLD, date(2027, 2, 21), date(2027, 2, 21), PackageCode.GREEN),
    ],
)
def test_initial_terms(package, valid_until, trial_until, after_trial):
    terms = initial_terms(package, date(2026, 11, 23))
    assert (terms.valid_until, terms.trial_until, terms.after_trial) == (valid_until, trial_until, after_trial)


def test_a_year_from_29_february_ends_on_28_february():
    assert add_years(date(2028, 2, 29), 1) == date(2029, 2, 28)
    assert add_years(date(2026, 11, 23), 1) == date(2027, 11, 23)


@pytest.mark.parametrize(
    ("email", "masked"),
    [("anna.nowak@biuro-nowak.pl", "a***@biuro-nowak.pl"), ("x@y.pl", "x***@y.pl")],
)
def test_mask_email(email, masked):
    assert mask_email(email) == masked


def test_the_form_never_shows_its_pin():
    form = RegistrationForm(
        email="a@b.pl", comarch_id="68577", pin="4821", nip="5260250274", full_name="Jan Nowicki",
        package=PackageCode.GREEN, terms_accepted=True,
    )
    assert "4821" not in repr(form) and "4821" not in str(form)


@pytest.mark.parametrize(("n", "text"), [(1, "1 godzinę"), (2, "2 godziny"), (12, "12 godzin"), (24, "24 godziny"), (48, "48 godzin")])
def test_hours_text(n, text):
    assert hours_text(n) == text


@pytest.mark.parametrize("variant", list(ActivationVariant))
def test_every_activation_email_has_the_guides_subject_and_both_bodies(variant):
    link = "http://localhost:8100/activate?token=abc" if variant != ActivationVariant.EMAIL_TAKEN else None
    email = activation(
        to_address="jan@x.pl", name="Jan", variant=variant, link=link, ttl_hours=48 if link else None,
        comarch_id="68577", package_name="zielony",
    )
    assert email.subject == ACTIVATION_SUBJECT == "Aktywacja konta Comarch Cloud"
    assert email.text_body.startswith("Dzień dobry, Jan!") and "Dzień dobry, Jan!" in email.html_body
    if link:
        assert link in email.text_body and "48 godzin" in email.text_body
        assert "co najmniej 8 znaków" in email.text_body
    else:
        assert "/activate" not in email.text_body


def test_a_link_email_without_a_link_is_a_programming_error():
    with pytest.raises(ValueError):
        activation(to_address="a@b.pl", name="A", variant=ActivationVariant.NEW_ACCOUNT)


def test_html_email_escapes_names():
    email = activation(
        to_address="a@b.pl", name="<script>x</script>", variant=ActivationVariant.RESEND,
        link="http://l/activate?token=a&b", ttl_hours=48,
    )
    assert "<script>" not in email.html_body and "&lt;script&gt;" in email.html_body
