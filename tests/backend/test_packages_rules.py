"""The money, wording and change rules of services/packages.py, without HTTP."""

from datetime import date, datetime, timezone

import pytest

from backend.services.packages import (
    PackageView,
    Price,
    Usage,
    add_years,
    documents,
    downgrade_warnings,
    format_pln,
    gross_grosze,
    pro_rata,
    warsaw_today,
    warsaw_year_bounds,
)


def package(
    code, position, net, *, invoicing=None, limit=None, trial=None, backup=0
) -> PackageView:
    return PackageView(
        code=code,
        name=code,
        position=position,
        offer_database=True,
        business_card=True,
        portal_promotion=True,
        invoicing_days=invoicing,
        document_exchange_limit=limit,
        document_exchange_trial_days=trial,
        backup_gb=backup,
        yearly_price=Price.of_net(net, 23),
    )


@pytest.mark.parametrize(
    ("net", "gross"),
    [(0, 0), (29900, 36777), (79900, 98277), (150, 185), (50, 62), (1, 1), (2, 2), (3, 4)],
)
def test_gross_is_net_times_1_23_rounded_half_up_to_the_grosz(net, gross):
    # 150 gr × 1.23 = 184.5 gr: half-up gives 185 (banker's rounding would give 184).
    assert gross_grosze(net, 23) == gross


@pytest.mark.parametrize(
    ("grosze", "text"),
    [
        (0, "0,00 zł"),
        (29900, "299,00 zł"),
        (36777, "367,77 zł"),
        (98277, "982,77 zł"),
        (5, "0,05 zł"),
        (123456, "1 234,56 zł"),
    ],
)
def test_amounts_are_written_the_polish_way(grosze, text):
    assert format_pln(grosze) == text


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (1, "1 dokument"),
        (2, "2 dokumenty"),
        (4, "4 dokumenty"),
        (5, "5 dokumentów"),
        (12, "12 dokumentów"),
        (22, "22 dokumenty"),
        (100, "100 dokumentów"),
    ],
)
def test_polish_plural(count, text):
    assert documents(count) == text


def test_pro_rata_charges_the_difference_for_the_days_left_including_today():
    green, silver = package("green", 1, 0), package("silver", 2, 29900)
    charge = pro_rata(green, silver, date(2026, 11, 23), date(2027, 8, 31))
    # 282 days (23.11.2026–31.08.2027) of 365: 29900 × 282 / 365 = 23100.82 gr.
    assert (charge.days_remaining, charge.period_days) == (282, 365)
    assert (charge.price.net_grosze, charge.price.gross_grosze) == (23101, 28414)
    assert (charge.price.net, charge.price.gross) == ("231,01 zł", "284,14 zł")


def test_pro_rata_edges():
    silver, gold = package("silver", 2, 29900), package("gold", 3, 79900)
    last_day = pro_rata(silver, gold, date(2027, 8, 31), date(2027, 8, 31))
    assert last_day.days_remaining == 1 and last_day.price.net_grosze == 137  # 50000/365 = 136.99
    expired = pro_rata(silver, gold, date(2027, 9, 1), date(2027, 8, 31))
    assert expired.days_remaining == 0 and expired.price.net_grosze == 0
    leap = pro_rata(silver, gold, date(2028, 2, 1), date(2028, 6, 30))
    assert leap.period_days == 366


def test_add_years_keeps_29_february_in_range():
    assert add_years(date(2027, 8, 31), 1) == date(2028, 8, 31)
    assert add_years(date(2028, 2, 29), 1) == date(2029, 2, 28)


def test_dates_and_years_are_polish_time():
    assert warsaw_today(datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)) == date(2027, 1, 1)
    start, end = warsaw_year_bounds(2027)
    assert start == datetime(2026, 12, 31, 23, 0, tzinfo=timezone.utc)
    assert end == datetime(2027, 12, 31, 23, 0, tzinfo=timezone.utc)


def test_labels_come_from_the_data():
    green = package("green", 1, 0, invoicing=90, limit=10, trial=90)
    gold = package("gold", 3, 79900, backup=30)
    assert green.invoicing_label == "przez 90 dni"
    assert (
        green.document_exchange_label
        == "do 10 dokumentów rocznie (możliwość testowania przez 90 dni)"
    )
    assert green.backup_label == "brak"
    assert (gold.invoicing_label, gold.document_exchange_label, gold.backup_label) == (
        "bez limitu",
        "bez limitu",
        "30 GB",
    )
    assert gold.price_label == "799,00 zł netto rocznie (982,77 zł brutto, w tym 23% VAT)"


def test_downgrade_warnings_compare_every_limit():
    gold = package("gold", 3, 79900, backup=30)
    silver = package("silver", 2, 29900, limit=100, backup=5)
    green = package("green", 1, 0, invoicing=90, limit=10, trial=90)

    to_silver = downgrade_warnings(gold, silver, Usage(year=2026, used=3, limit=None))
    assert [n.code for n in to_silver] == ["document_limit_lower", "backup_lower"]
    assert "obejmuje 5 GB kopii bezpieczeństwa (obecnie 30 GB)" in to_silver[1].message

    to_green = downgrade_warnings(silver, green, Usage(year=2026, used=57, limit=100))
    assert [n.code for n in to_green] == [
        "usage_above_new_limit",
        "invoicing_limited",
        "backup_lower",
    ]
    assert "57 dokumentów" in to_green[0].message and "do 10 dokumentów" in to_green[0].message
    assert "nie obejmuje kopii bezpieczeństwa" in to_green[2].message

    assert downgrade_warnings(silver, silver, Usage(year=2026, used=0, limit=100)) == []


def test_the_monthly_price_is_the_yearly_one_divided_by_12_half_up():
    gold = package("gold", 3, 79900)
    # 79900 / 12 = 6658.33 gr net; the gross per month is the yearly gross 98277 / 12 = 8189.75
    # gr (the monthly net plus VAT would be 8189: the yearly price is what is paid)
    assert (gold.monthly_price.net_grosze, gold.monthly_price.gross_grosze) == (6658, 8190)
    assert (gold.monthly_price.net, gold.monthly_price.gross) == ("66,58 zł", "81,90 zł")
    assert package("tiny", 1, 30).monthly_price.net_grosze == 3  # 2.5 gr, half up
    assert package("free", 0, 0).monthly_price == Price(0, 23, 0)
