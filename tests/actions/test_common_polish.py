"""common/polish.py in the actions' environment (Python 3.10): the dates the assistant shows
are the backend's dates written dd.mm.rrrr, timestamps as their day in Warsaw."""

from __future__ import annotations

from datetime import date

import pytest

from common import polish


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2027-06-30", "30.06.2027"),
        ("2028-02-29", "29.02.2028"),
        # a timestamp is its calendar day in Warsaw: 23:30 UTC in March is already the next day
        ("2026-03-12T23:30:00+00:00", "13.03.2026"),
        ("2026-03-12T23:30:00Z", "13.03.2026"),
        ("2026-07-01T08:00:00", "01.07.2026"),  # naive: UTC, what the backend stores
        ("2026-07-01T21:59:00+00:00", "01.07.2026"),
        ("2026-07-01T22:00:00+00:00", "02.07.2026"),  # summer time: UTC+2
    ],
)
def test_backend_dates_are_written_day_month_year_in_warsaw(value, shown):
    assert polish.format_iso_date(value) == shown


@pytest.mark.parametrize("value", ["garbage", "jutro", "", None, 20270630, "2027-13-01"])
def test_anything_else_is_not_a_date(value):
    assert polish.format_iso_date(value) is None


def test_plural_add_years_and_money_work_in_this_environment():
    assert [polish.count(n, "rozmowa", "rozmowy", "rozmów") for n in (1, 3, 5, 12, 22)] == [
        "1 rozmowa", "3 rozmowy", "5 rozmów", "12 rozmów", "22 rozmowy"]
    assert polish.add_years(date(2028, 2, 29), 1) == date(2029, 2, 28)
    assert polish.format_pln(129900) == "1 299,00 zł"
