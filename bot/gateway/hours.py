"""When human advisers work: Mon–Fri 8:00–18:00 Europe/Warsaw, except Polish public holidays.

ONE object decides (`BusinessHours`), and it reads time only from the clock it is given, so tests
fix the time. The closing time is exclusive: at 18:00 exactly the advisers are gone.
"""

from __future__ import annotations

import time as time_module
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import holidays

from common.contacts import CONTACTS
from common.polish import WARSAW, format_day_month

# The advisers' hours are in the one contacts configuration (common/contacts.py).
OPENS = CONTACTS.opens
CLOSES = CONTACTS.closes
WORKDAYS = CONTACTS.workdays  # Monday..Friday
# "w poniedziałek", "we wtorek": the preposition follows Polish pronunciation.
_ON_WEEKDAY = ("w poniedziałek", "we wtorek", "w środę", "w czwartek", "w piątek")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


def running_clock(start: datetime) -> Clock:
    """A clock that starts at ``start`` and runs on (development and end-to-end tests)."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    began = time_module.monotonic()
    return lambda: start + timedelta(seconds=time_module.monotonic() - began)


@dataclass
class BusinessHours:
    clock: Clock = system_clock
    _holidays: holidays.HolidayBase = field(
        default_factory=lambda: holidays.country_holidays("PL"), repr=False
    )

    def now(self) -> datetime:
        """The clock's time in Warsaw (a naive clock value is taken as UTC)."""
        moment = self.clock()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(WARSAW)

    def is_workday(self, day: date) -> bool:
        return day.weekday() in WORKDAYS and day not in self._holidays

    def is_open(self, moment: datetime | None = None) -> bool:
        local = self.now() if moment is None else moment.astimezone(WARSAW)
        return self.is_workday(local.date()) and OPENS <= local.time() < CLOSES

    def next_opening(self, moment: datetime | None = None) -> datetime:
        """The next moment advisers start work (now, if they work now)."""
        local = self.now() if moment is None else moment.astimezone(WARSAW)
        if self.is_open(local):
            return local
        day = local.date()
        if local.time() >= OPENS:
            day += timedelta(days=1)
        while not self.is_workday(day):
            day += timedelta(days=1)
        return datetime.combine(day, OPENS, tzinfo=WARSAW)

    def next_opening_text(self, moment: datetime | None = None) -> str:
        """Polish text for the next opening, e.g. "w poniedziałek 24.11 od 8:00"."""
        local = self.now() if moment is None else moment.astimezone(WARSAW)
        opening = self.next_opening(local)
        if opening == local:
            return "teraz"
        hour = f"od {opening.hour}:{opening.minute:02d}"
        days_ahead = (opening.date() - local.date()).days
        if days_ahead == 0:
            return f"dziś {hour}"
        when = f"{_ON_WEEKDAY[opening.weekday()]} {format_day_month(opening)}"
        if days_ahead == 1:
            return f"jutro ({when}) {hour}"
        return f"{when} {hour}"
