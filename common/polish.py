"""Polish wording shared by every process: plural forms, counted nouns, money, dates, add_years.

Standard library only and Python 3.10-compatible, because both environments import it: the
backend and the gateway (.venv/app, through backend/polish.py and directly) and the custom
actions (.venv/rasa, through actions/polish.py). Nothing here knows about packages, accounts or
any service; what is particular to a service (the backend's package names by case) lives in that
service's own polish module, which builds on this one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Optional
from zoneinfo import ZoneInfo

# The zone every date shown to a customer or an adviser is written in.
WARSAW = ZoneInfo("Europe/Warsaw")

# --- plural forms -----------------------------------------------------------------------------


def plural(count: int, one: str, few: str, many: str) -> str:
    """The form of a word that goes with ``count``: 1 → one, 2–4, 22–24… → few (but not 12–14),
    everything else (0, 5–21, 25…) → many."""
    if count == 1:
        return one
    if count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14):
        return few
    return many


def count(n: int, one: str, few: str, many: str) -> str:
    """``n`` with the form that goes with it: "1 rozmowa", "3 rozmowy", "5 rozmów"."""
    return f"{n} {plural(n, one, few, many)}"


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
        return count(n, self.one_accusative if accusative else self.one, self.few, self.many)


SECOND = Noun("sekunda", "sekundę", "sekundy", "sekund")
MINUTE = Noun("minuta", "minutę", "minuty", "minut")
HOUR = Noun("godzina", "godzinę", "godziny", "godzin")
DAY = Noun("dzień", "dzień", "dni", "dni")

# --- money ------------------------------------------------------------------------------------


def format_pln(grosze: int) -> str:
    """29900 → "299,00 zł"; thousands are grouped with a space ("1 234,56 zł")."""
    sign = "-" if grosze < 0 else ""
    zloty, gr = divmod(abs(grosze), 100)
    return f"{sign}{zloty:,}".replace(",", " ") + f",{gr:02d} zł"


# --- dates ------------------------------------------------------------------------------------


def format_date(day: date) -> str:
    """31 August 2027 → "31.08.2027" (a datetime is first brought to Warsaw time)."""
    if isinstance(day, datetime):
        day = local(day).date()
    return day.strftime("%d.%m.%Y")


def format_day_month(day: date) -> str:
    """24 November → "24.11" (next to a weekday: "w poniedziałek 24.11")."""
    return day.strftime("%d.%m")


def local(moment: datetime) -> datetime:
    """A moment in Warsaw time; a naive one is taken as UTC (what the services store)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(WARSAW)


def format_iso_date(value: Any) -> Optional[str]:
    """A date the way an API sends it, written for people: "2027-08-31" → "31.08.2027"; a
    timestamp ("2026-11-24T23:30:00Z") is its calendar day in Warsaw ("25.11.2026"). None for
    anything that is neither."""
    if not isinstance(value, str) or not value:
        return None
    try:
        if len(value) == 10:
            return format_date(date.fromisoformat(value))
        return format_date(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def add_years(day: date, years: int) -> date:
    """The same day ``years`` later (or earlier); 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# --- phone numbers ------------------------------------------------------------------------------

# A Polish number: 9 digits, optionally +48 / 0048 in front, spaces, dashes, dots or brackets
# between them; not part of a longer run of digits (a NIP, an account number).
PHONE_IN_TEXT = re.compile(r"(?<![\d+])(?:(?:\+|00)48[\s().-]*)?(?:\d[\s().-]*){8}\d(?!\d)")


def normalise_phone(raw: str) -> Optional[str]:
    """"600 100 200" for a whole value that is a Polish phone number, else None."""
    digits = re.sub(r"[\s().-]", "", raw.strip())
    match = re.fullmatch(r"(?:\+48|0048)?(\d{9})", digits)
    if match is None:
        return None
    number = match.group(1)
    return f"{number[:3]} {number[3:6]} {number[6:]}"


def find_phone(text: str) -> Optional[str]:
    """The one phone number written somewhere in ``text`` ("dzwońcie na 600-100-200 po 16"),
    normalised; None when there is none or more than one."""
    found = {normalise_phone(match.group(0)) for match in PHONE_IN_TEXT.finditer(text)}
    found.discard(None)
    return found.pop() if len(found) == 1 else None
