"""Business hours with a fixed clock: Mon–Fri 8:00–18:00 Europe/Warsaw, without Polish holidays."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.gateway.hours import BusinessHours

WARSAW = ZoneInfo("Europe/Warsaw")


def at(*parts: int) -> BusinessHours:
    """Business hours whose clock stands at the given Warsaw wall-clock time."""
    moment = datetime(*parts, tzinfo=WARSAW)
    return BusinessHours(clock=lambda: moment)


def test_weekday_in_hours_is_open():
    hours = at(2026, 11, 23, 10, 30)  # Monday
    assert hours.is_open()
    assert hours.next_opening_text() == "teraz"


def test_opening_minute_is_open_and_the_minute_before_is_not():
    assert at(2026, 11, 23, 8, 0).is_open()
    assert not at(2026, 11, 23, 7, 59).is_open()


def test_18_00_exactly_is_closed():
    assert at(2026, 11, 23, 17, 59, 59).is_open()
    hours = at(2026, 11, 23, 18, 0)
    assert not hours.is_open()
    assert hours.next_opening_text() == "jutro (we wtorek 24.11) od 8:00"


def test_saturday_is_closed_until_monday():
    hours = at(2026, 11, 21, 11, 0)  # Saturday
    assert not hours.is_open()
    assert hours.next_opening() == datetime(2026, 11, 23, 8, 0, tzinfo=WARSAW)
    assert hours.next_opening_text() == "w poniedziałek 23.11 od 8:00"


def test_friday_evening_points_to_monday():
    assert at(2026, 11, 27, 18, 30).next_opening_text() == "w poniedziałek 30.11 od 8:00"


def test_before_opening_on_a_workday_is_today():
    assert at(2026, 11, 24, 6, 45).next_opening_text() == "dziś od 8:00"


def test_christmas_is_a_holiday_even_in_hours():
    hours = at(2026, 12, 25, 10, 0)  # Friday, Christmas Day
    assert not hours.is_open()
    # 26.12 is a holiday too, then a weekend: Monday 28.12
    assert hours.next_opening_text() == "w poniedziałek 28.12 od 8:00"


def test_christmas_eve_is_a_holiday_in_poland_since_2025():
    assert not at(2026, 12, 24, 9, 0).is_open()


def test_independence_day_is_closed():
    assert not at(2026, 11, 11, 12, 0).is_open()  # Wednesday
    assert at(2026, 11, 11, 12, 0).next_opening_text() == "jutro (w czwartek 12.11) od 8:00"


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # 7:30 UTC in winter is 8:30 in Warsaw (UTC+1)
        (datetime(2026, 11, 23, 7, 30, tzinfo=timezone.utc), True),
        # 16:30 UTC in summer is 18:30 in Warsaw (UTC+2)
        (datetime(2026, 7, 1, 16, 30, tzinfo=timezone.utc), False),
        # a naive clock value is UTC: 6:30 UTC in summer is 8:30 in Warsaw
        (datetime(2026, 7, 1, 6, 30), True),
    ],
)
def test_clock_in_utc_is_read_in_warsaw_time(utc, expected):
    assert BusinessHours(clock=lambda: utc).is_open() is expected
