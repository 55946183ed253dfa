import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.security.password_policy import PasswordRule as R
from backend.security.password_policy import check_password, fold

EMAIL = "jan.kowalski@majafirma.pl"


@pytest.mark.parametrize(
    ("password", "failed"),
    [
        ("Faktura#2026", ()),
        ("Zielony!Las7", ()),
        ("zielony!las7", ()),  # lower + special + digit: three groups
        ("ZIELONY7LAS!", ()),
        ("Ąężółć#2026", ()),  # Polish letters count as upper/lower case
        ("Abc#123", (R.MIN_LENGTH,)),
        ("faktura2026", (R.CHARACTER_GROUPS,)),
        ("FAKTURAFAKTURA", (R.CHARACTER_GROUPS,)),
        ("12345678", (R.CHARACTER_GROUPS,)),
        ("abc", (R.MIN_LENGTH, R.CHARACTER_GROUPS)),
        ("Jan.Kowalski#1", (R.CONTAINS_USERNAME,)),  # the whole user name
        ("Kowal#2026x", (R.CONTAINS_USERNAME,)),  # a 4-character piece of it
        ("xxKOWAxx#2026", (R.CONTAINS_USERNAME,)),  # case-insensitive
        ("Jan#Faktura26", ()),  # "jan" alone is shorter than a piece
        ("A" * 129 + "b1!", (R.MAX_LENGTH,)),
    ],
)
def test_policy_table(password, failed):
    assert check_password(password, EMAIL).failed == failed


def test_username_with_polish_letters_is_folded():
    assert check_password("Lukasz#2026", "łukasz.żak@firma.pl").failed == (R.CONTAINS_USERNAME,)
    assert check_password("ŻAKIEWICZ#26x", "zakiewicz@firma.pl").failed == (R.CONTAINS_USERNAME,)


def test_short_username_is_checked_whole():
    assert check_password("Xjan#2026x", "jan@firma.pl").failed == (R.CONTAINS_USERNAME,)
    assert check_password("Xja#20260x", "jan@firma.pl").failed == ()


def test_confirmation_mismatch_is_reported_with_other_rules():
    result = check_password("abc", EMAIL, confirmation="abd")
    assert result.failed == (R.MIN_LENGTH, R.CHARACTER_GROUPS, R.CONFIRMATION_MISMATCH)
    assert result.messages[0] == "Hasło musi mieć co najmniej 8 znaków."
    assert all(message.endswith(".") for message in result.messages)


def test_fold():
    assert fold("ZAŻÓŁĆ gęślą JAŹŃ") == "zazolc gesla jazn"


_groups = [string.ascii_uppercase, string.ascii_lowercase, string.digits, "!$#%&*?"]


@given(st.text(min_size=0, max_size=40))
def test_any_password_shorter_than_8_fails_min_length(password):
    result = check_password(password, EMAIL)
    assert (R.MIN_LENGTH in result.failed) == (len(password) < 8)


@given(
    st.lists(st.sampled_from(range(4)), min_size=3, max_size=4, unique=True),
    st.integers(min_value=8, max_value=30),
    st.randoms(use_true_random=False),
)
def test_three_groups_and_length_pass_when_username_absent(groups, length, rng):
    chars = [rng.choice(_groups[g]) for g in groups]
    pool = "".join(_groups[g] for g in groups)
    chars += [rng.choice(pool) for _ in range(length - len(chars))]
    password = "".join(chars)
    result = check_password(password, "qqqq@firma.pl")
    if "qqqq" not in password.lower():
        assert result.ok, result.failed


@given(st.text(alphabet=string.ascii_lowercase, min_size=8, max_size=30))
def test_single_group_always_fails(password):
    assert R.CHARACTER_GROUPS in check_password(password, "x@y.pl").failed
