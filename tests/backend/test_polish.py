"""backend/polish.py: the one place the backend spells Polish numbers, package names, money and
dates."""

from __future__ import annotations

from datetime import date

import pytest

from backend import polish
from backend.polish import Case


@pytest.mark.parametrize(
    ("n", "form"),
    [(0, "many"), (1, "one"), (2, "few"), (4, "few"), (5, "many"), (11, "many"), (12, "many"),
     (14, "many"), (21, "many"), (22, "few"), (24, "few"), (25, "many"), (101, "many"),
     (102, "few"), (112, "many"), (1000, "many")],
)
def test_plural_chooses_the_form_for_the_number(n, form):
    assert polish.plural(n, "one", "few", "many") == form


@pytest.mark.parametrize(
    ("n", "nominative", "accusative"),
    [(1, "1 minuta", "1 minutę"), (2, "2 minuty", "2 minuty"), (5, "5 minut", "5 minut"),
     (10, "10 minut", "10 minut"), (12, "12 minut", "12 minut"), (15, "15 minut", "15 minut"),
     (22, "22 minuty", "22 minuty"), (60, "60 minut", "60 minut")],
)
def test_minutes(n, nominative, accusative):
    assert polish.minutes(n) == nominative
    assert polish.minutes(n, accusative=True) == accusative


@pytest.mark.parametrize(
    ("n", "nominative", "accusative"),
    [(1, "1 godzina", "1 godzinę"), (2, "2 godziny", "2 godziny"), (5, "5 godzin", "5 godzin"),
     (12, "12 godzin", "12 godzin"), (22, "22 godziny", "22 godziny"),
     (24, "24 godziny", "24 godziny"), (25, "25 godzin", "25 godzin"),
     (48, "48 godzin", "48 godzin")],
)
def test_hours(n, nominative, accusative):
    assert polish.hours(n) == nominative
    assert polish.hours(n, accusative=True) == accusative


@pytest.mark.parametrize(
    ("n", "day_text", "document_text", "remaining"),
    [(1, "1 dzień", "1 dokument", "pozostały 1 dzień"),
     (2, "2 dni", "2 dokumenty", "pozostałe 2 dni"),
     (5, "5 dni", "5 dokumentów", "pozostałe 5 dni"),
     (12, "12 dni", "12 dokumentów", "pozostałe 12 dni"),
     (23, "23 dni", "23 dokumenty", "pozostałe 23 dni"),
     (90, "90 dni", "90 dokumentów", "pozostałe 90 dni"),
     (282, "282 dni", "282 dokumenty", "pozostałe 282 dni")],
)
def test_days_documents_and_remaining_days(n, day_text, document_text, remaining):
    assert polish.days(n) == day_text
    assert polish.documents(n) == document_text
    assert polish.remaining_days(n) == remaining


@pytest.mark.parametrize(
    ("name", "forms"),
    [
        ("zielony", {
            Case.NOMINATIVE: "pakiet zielony", Case.GENITIVE: "pakietu zielonego",
            Case.DATIVE: "pakietowi zielonemu", Case.ACCUSATIVE: "pakiet zielony",
            Case.INSTRUMENTAL: "pakietem zielonym", Case.LOCATIVE: "pakiecie zielonym",
        }),
        ("srebrny", {
            Case.NOMINATIVE: "pakiet srebrny", Case.GENITIVE: "pakietu srebrnego",
            Case.DATIVE: "pakietowi srebrnemu", Case.ACCUSATIVE: "pakiet srebrny",
            Case.INSTRUMENTAL: "pakietem srebrnym", Case.LOCATIVE: "pakiecie srebrnym",
        }),
        ("złoty", {
            Case.NOMINATIVE: "pakiet złoty", Case.GENITIVE: "pakietu złotego",
            Case.DATIVE: "pakietowi złotemu", Case.ACCUSATIVE: "pakiet złoty",
            Case.INSTRUMENTAL: "pakietem złotym", Case.LOCATIVE: "pakiecie złotym",
        }),
        # Capitalised names keep their capital; -i adjectives decline too.
        ("Złoty", {Case.GENITIVE: "pakietu Złotego", Case.LOCATIVE: "pakiecie Złotym"}),
        ("długi", {Case.GENITIVE: "pakietu długiego", Case.INSTRUMENTAL: "pakietem długim"}),
        # Names that are not one adjective stay as they are.
        ("Premium", {Case.GENITIVE: "pakietu Premium", Case.LOCATIVE: "pakiecie Premium"}),
        ("Złoty Plus", {Case.GENITIVE: "pakietu Złoty Plus"}),
    ],
)
def test_package_names_by_case(name, forms):
    for case, phrase in forms.items():
        assert polish.package(name, case) == phrase
        assert polish.package_name(name, case) == phrase.split(" ", 1)[1]


@pytest.mark.parametrize(
    ("grosze", "text"),
    [(0, "0,00 zł"), (5, "0,05 zł"), (29900, "299,00 zł"), (36777, "367,77 zł"),
     (123456, "1 234,56 zł"), (123456789, "1 234 567,89 zł"), (-23101, "-231,01 zł")],
)
def test_money(grosze, text):
    assert polish.format_pln(grosze) == text


def test_dates_are_day_month_year_with_leading_zeros():
    assert polish.format_date(date(2027, 8, 31)) == "31.08.2027"
    assert polish.format_date(date(2027, 1, 5)) == "05.01.2027"


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [(date(2027, 8, 31), 1, date(2028, 8, 31)), (date(2028, 2, 29), 1, date(2029, 2, 28)),
     (date(2028, 2, 29), 4, date(2032, 2, 29)), (date(2028, 2, 29), -1, date(2027, 2, 28)),
     (date(2026, 11, 23), -1, date(2025, 11, 23))],
)
def test_add_years(day, years, expected):
    assert polish.add_years(day, years) == expected


def test_the_backend_has_one_copy_of_each_helper():
    """The helpers the code review found written several times live only in backend/polish.py."""
    import ast
    from pathlib import Path

    backend = Path(polish.__file__).resolve().parent
    helpers = {"plural", "polish_count", "add_years", "polish_date", "format_date", "format_pln",
               "days", "hours", "minutes", "documents"}
    defined: dict[str, list[str]] = {}
    for path in backend.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name in helpers:
                defined.setdefault(node.name, []).append(str(path.relative_to(backend)))
    assert {name: files for name, files in defined.items() if files != ["polish.py"]} == {}
    assert not [
        str(path.relative_to(backend))
        for path in backend.rglob("*.py")
        if path.name != "polish.py" and 'strftime("%d.%m.%Y")' in path.read_text(encoding="utf-8")
    ]
