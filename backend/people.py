"""A person's name on an account, in one place: how it is checked and how a text names someone.

An account created by an invitation ("add user": e-mail and role only, as in ING Księgowość's
"Dodawanie użytkownika do firmy" form) has no name until the invited person gives it on the
activation page. So everywhere a name is shown, a missing one must read naturally:

- ``check_person_name``: the name a person types on the activation page ("Imię i nazwisko"):
  letters (Polish ones included), spaces, hyphens and apostrophes, 2 to
  ``PERSON_NAME_MAX_LENGTH`` characters; a ``ValueError`` with a Polish message otherwise.
- ``member_label``: a member in a message - "Tomasz Wrona (t.wrona@firma.pl)", or the e-mail
  alone when there is no name.
- The e-mails' greeting is ``backend.mail.builders.greeting``.
"""

from __future__ import annotations

import re
import unicodedata

PERSON_NAME_MAX_LENGTH = 100
# Words of letters (any script's letters: "Łukasz Żółć", "Zoë"), joined by one space, hyphen or
# apostrophe ("Kowalczyk-Nowak", "O'Connor", "D’Artagnan").
_NAME = re.compile(r"[^\W\d_]+(?:(?: |-|'|’)[^\W\d_]+)*")
NAME_RULES = (
    f"Podaj imię i nazwisko (od 2 do {PERSON_NAME_MAX_LENGTH} znaków): litery, spacje, "
    "łączniki (-) i apostrofy."
)
NAME_MISSING = "Podaj imię i nazwisko."


def check_person_name(value: str | None) -> str:
    """The name tidied up (spaces collapsed); ``ValueError`` with a Polish message if it is not a
    plausible name."""
    # NFC: a letter typed as a base letter and a combining accent counts as one letter
    text = " ".join(unicodedata.normalize("NFC", value or "").split())
    if not text:
        raise ValueError(NAME_MISSING)
    if len(text) < 2 or len(text) > PERSON_NAME_MAX_LENGTH or not _NAME.fullmatch(text):
        raise ValueError(NAME_RULES)
    return text


def member_label(name: str | None, email: str, *, with_email: bool = True) -> str:
    """How a text names a member: the name (with the e-mail in brackets when ``with_email``), or
    the e-mail alone when the account has no name."""
    if not name:
        return email
    return f"{name} ({email})" if with_email else name
