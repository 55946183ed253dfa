"""Polish wording of the backend, in one place: plural forms, package names by case, money, dates.

Every message and e-mail the backend writes takes its numbers, package names, amounts and dates
from here, so "1 godzinę / 2 godziny / 5 godzin", "pakietu srebrnego", "299,00 zł" and
"31.08.2027" are spelled one way everywhere. The rules every process shares (plural forms,
money, dates, add_years) are in common/polish.py; this module adds what only the backend says
(package names by case, the nouns its e-mails count).
"""

from __future__ import annotations

import enum

from common import polish as common_polish
from common.polish import Noun, add_years, format_date, format_pln, plural

__all__ = [
    "Case", "Noun", "add_years", "adjective", "days", "documents", "format_date", "format_pln",
    "hours", "minutes", "package", "package_name", "plural", "remaining_days",
]

# --- plural forms (the shared rules in common/polish.py) -----------------------------------------

MINUTE, HOUR, DAY = common_polish.MINUTE, common_polish.HOUR, common_polish.DAY
DOCUMENT = Noun("dokument", "dokument", "dokumenty", "dokumentów")


def minutes(n: int, *, accusative: bool = False) -> str:
    return MINUTE.count(n, accusative=accusative)


def hours(n: int, *, accusative: bool = False) -> str:
    return HOUR.count(n, accusative=accusative)


def days(n: int) -> str:
    return DAY.count(n)


def remaining_days(n: int) -> str:
    """"pozostały 1 dzień", "pozostałe 2 dni", "pozostałe 282 dni" (as in "za pozostałe …")."""
    return f"{plural(n, 'pozostały', 'pozostałe', 'pozostałe')} {days(n)}"


def documents(n: int) -> str:
    return DOCUMENT.count(n)


# --- package names by case --------------------------------------------------------------------


class Case(enum.StrEnum):
    NOMINATIVE = "mianownik"  # pakiet zielony
    GENITIVE = "dopełniacz"  # z pakietu zielonego, cena pakietu zielonego
    DATIVE = "celownik"  # pakietowi zielonemu
    ACCUSATIVE = "biernik"  # na pakiet zielony
    INSTRUMENTAL = "narzędnik"  # z pakietem zielonym
    LOCATIVE = "miejscownik"  # w pakiecie zielonym


_PACKAGE_NOUN = {
    Case.NOMINATIVE: "pakiet",
    Case.GENITIVE: "pakietu",
    Case.DATIVE: "pakietowi",
    Case.ACCUSATIVE: "pakiet",
    Case.INSTRUMENTAL: "pakietem",
    Case.LOCATIVE: "pakiecie",
}


def adjective(word: str, case: Case) -> str:
    """A masculine inanimate singular adjective, given in the nominative, in ``case``:
    zielony → zielonego, zielonemu, zielony, zielonym; długi → długiego, długim.

    The catalogue names packages with such adjectives (zielony, srebrny, złoty). A name that is
    not one word ending in -y or -i (a brand, several words) is left as it is: it does not
    decline, which reads correctly for indeclinable names."""
    if case in (Case.NOMINATIVE, Case.ACCUSATIVE) or " " in word or len(word) < 3:
        return word
    ending = word[-1]
    if ending not in "yi":
        return word
    stem = word[:-1] if ending == "y" else word
    if case == Case.GENITIVE:
        return stem + "ego"
    if case == Case.DATIVE:
        return stem + "emu"
    return word + "m"  # instrumental and locative


def package_name(name: str, case: Case) -> str:
    """The package's catalogue name (nominative, e.g. "srebrny") in ``case``: "srebrnego"."""
    return adjective(name, case)


def package(name: str, case: Case) -> str:
    """The phrase "pakiet <name>" in ``case``: "pakietu srebrnego", "pakiecie srebrnym"."""
    return f"{_PACKAGE_NOUN[case]} {adjective(name, case)}"
