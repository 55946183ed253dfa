"""Polish wording of the backend, in one place: plural forms, package names by case, money, dates.

Every message and e-mail the backend writes takes its numbers, package names, amounts and dates
from here, so "1 godzinę / 2 godziny / 5 godzin", "pakietu srebrnego", "299,00 zł" and
"31.08.2027" are spelled one way everywhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

# --- plural forms -----------------------------------------------------------------------------


def plural(count: int, one: str, few: str, many: str) -> str:
    """The form of a word that goes with ``count``: 1 → one, 2–4, 22–24… → few (but not 12–14),
    everything else (0, 5–21, 25…) → many."""
    if count == 1:
        return one
    if count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14):
        return few
    return many


@dataclass(frozen=True)
class Noun:
    """A countable noun: the singular in the nominative and the accusative (they differ for
    feminine nouns: "minuta" / "przez minutę"), and the two plural forms after a number."""

    one: str
    one_accusative: str
    few: str
    many: str

    def count(self, n: int, *, accusative: bool = False) -> str:
        """``n`` with the noun: "5 minut"; ``accusative`` for durations after "przez", "za"
        or "ważny": "przez 1 minutę"."""
        one = self.one_accusative if accusative else self.one
        return f"{n} {plural(n, one, self.few, self.many)}"


MINUTE = Noun("minuta", "minutę", "minuty", "minut")
HOUR = Noun("godzina", "godzinę", "godziny", "godzin")
DAY = Noun("dzień", "dzień", "dni", "dni")
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


# --- money and dates --------------------------------------------------------------------------


def format_pln(grosze: int) -> str:
    """29900 → "299,00 zł"; thousands are grouped with a space ("1 234,56 zł")."""
    sign = "-" if grosze < 0 else ""
    zloty, gr = divmod(abs(grosze), 100)
    return f"{sign}{zloty:,}".replace(",", " ") + f",{gr:02d} zł"


def format_date(day: date) -> str:
    """31 August 2027 → "31.08.2027"."""
    return day.strftime("%d.%m.%Y")


def add_years(day: date, years: int) -> date:
    """The same day ``years`` later (or earlier); 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
