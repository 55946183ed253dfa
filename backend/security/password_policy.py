"""The platform's password rules (guide "Wymagania dotyczące hasła"), with Polish explanations.

- at least 8 characters (and at most 128, so hashing cost stays bounded);
- must not contain the user name (the e-mail's local part) in whole or in part: neither the
  whole local part nor any 4-character piece of it, case-insensitive, Polish diacritics folded;
- characters from at least three groups: upper case, lower case, digits, special characters.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass

MIN_LENGTH = 8
MAX_LENGTH = 128
MIN_CHARACTER_GROUPS = 3
# Shorter pieces ("jan", "kow") would reject too many ordinary words; the guide's "w części" is
# read as any 4-character run of the user name.
USERNAME_PIECE_LENGTH = 4


class PasswordRule(enum.StrEnum):
    MIN_LENGTH = "min_length"
    MAX_LENGTH = "max_length"
    CONTAINS_USERNAME = "contains_username"
    CHARACTER_GROUPS = "character_groups"
    CONFIRMATION_MISMATCH = "confirmation_mismatch"


RULE_MESSAGES: dict[PasswordRule, str] = {
    PasswordRule.MIN_LENGTH: f"Hasło musi mieć co najmniej {MIN_LENGTH} znaków.",
    PasswordRule.MAX_LENGTH: f"Hasło może mieć najwyżej {MAX_LENGTH} znaki.",
    PasswordRule.CONTAINS_USERNAME: (
        "Hasło nie może zawierać nazwy użytkownika (części adresu e-mail przed znakiem @) "
        "ani jej fragmentu."
    ),
    PasswordRule.CHARACTER_GROUPS: (
        "Hasło musi zawierać znaki z co najmniej trzech grup: duże litery (A–Z), "
        "małe litery (a–z), cyfry (0–9), znaki specjalne (np. !, $, #, %)."
    ),
    PasswordRule.CONFIRMATION_MISMATCH: "Hasła w obu polach muszą być takie same.",
}

# NFKD does not decompose "ł", so it is folded explicitly.
_EXTRA_FOLDS = str.maketrans({"ł": "l", "Ł": "L"})


@dataclass(frozen=True)
class PolicyResult:
    failed: tuple[PasswordRule, ...]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def messages(self) -> list[str]:
        return [RULE_MESSAGES[rule] for rule in self.failed]


def fold(text: str) -> str:
    """Lower-case and strip diacritics, so "Łukasz" and "lukasz" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA_FOLDS))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def check_password(password: str, email: str, confirmation: str | None = None) -> PolicyResult:
    failed: list[PasswordRule] = []
    if len(password) < MIN_LENGTH:
        failed.append(PasswordRule.MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        failed.append(PasswordRule.MAX_LENGTH)
    if _contains_username(password, email):
        failed.append(PasswordRule.CONTAINS_USERNAME)
    if _character_groups(password) < MIN_CHARACTER_GROUPS:
        failed.append(PasswordRule.CHARACTER_GROUPS)
    if confirmation is not None and confirmation != password:
        failed.append(PasswordRule.CONFIRMATION_MISMATCH)
    return PolicyResult(tuple(failed))


def _contains_username(password: str, email: str) -> bool:
    username = fold(email.rpartition("@")[0] if "@" in email else email)
    folded = fold(password)
    if not username:
        return False
    if len(username) <= USERNAME_PIECE_LENGTH:
        return username in folded
    pieces = (
        username[i : i + USERNAME_PIECE_LENGTH]
        for i in range(len(username) - USERNAME_PIECE_LENGTH + 1)
    )
    return any(piece in folded for piece in pieces)


def _character_groups(password: str) -> int:
    has_upper = any(c.isupper() for c in password)
    has_lower = any(c.islower() for c in password)
    has_digit = any(c.isdigit() for c in password)
    has_special = any(not c.isalnum() for c in password)
    return sum((has_upper, has_lower, has_digit, has_special))
