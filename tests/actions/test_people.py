"""Reading people out of free text (actions/people.py): whose an address is, whole names, finding
a member by name, role words - the rules the company validators rely on whatever the NLU
marked."""

from __future__ import annotations

import pytest

from actions.company import role_given_in_text, role_in_text
from actions.people import (
    classify_addresses,
    find_members_by_name,
    name_from_answer,
    name_in_request,
    nominative_after_title,
)

MEMBERS = [
    {"name": "Tomasz Wrona", "email": "t.wrona@majafirma.pl"},
    {"name": "Łukasz Żółć", "email": "lukasz.zolc@majafirma.pl"},
    {"name": "Ewa Lis", "email": "ewa.lis@majafirma.pl"},
    {"name": "Tomasz Lis", "email": "tomasz.lis@majafirma.pl"},
    {"name": "Anna Kowalczyk-Nowak", "email": "a.kowalczyk-nowak@majafirma.pl"},
]


@pytest.mark.parametrize(
    "text, own, member, new, current",
    [
        ("dodaj lukasz.zolc@majafirma.pl jako magazyniera", [], ["lukasz.zolc@majafirma.pl"], [], []),
        ("jestem jan@x.pl, dodaj ewa@x.pl", ["jan@x.pl"], ["ewa@x.pl"], [], []),
        ("mój mail to jan@x.pl, usuń ewa@x.pl", ["jan@x.pl"], ["ewa@x.pl"], [], []),
        ("jestem Jan Kowalski, usuń ewa@x.pl", [], ["ewa@x.pl"], [], []),
        ("konto mam na jan@x.pl", ["jan@x.pl"], [], [], []),
        ("zmień mój login na jan@nowa.pl", [], [], ["jan@nowa.pl"], []),
        ("zmiencie mi login z jan@x.pl na biuro@x.pl", [], [], ["biuro@x.pl"], ["jan@x.pl"]),
        ("zmień login anna@x.pl na nowy adres anna.n@x.pl", [], ["anna@x.pl"], ["anna.n@x.pl"], []),
        ("loguję się jako jan@x.pl i chcę login na jan@y.pl", ["jan@x.pl"], [], ["jan@y.pl"], []),
        ("dodaj ewa@x.pl jako magazyniera, konto jan@x.pl", ["jan@x.pl"], ["ewa@x.pl"], [], []),
        ("konto: jan@x.pl, dodaj ewa@x.pl", ["jan@x.pl"], ["ewa@x.pl"], [], []),
        ("załóż konto dla ewa@x.pl", [], ["ewa@x.pl"], [], []),
        ("zmień rolę ewa@x.pl na pracownika. Jestem właścicielem, jan@x.pl.",
         ["jan@x.pl"], ["ewa@x.pl"], [], []),
    ],
)
def test_whose_address(text, own, member, new, current):
    found = classify_addresses(text)
    assert (found.own, found.member, found.new, found.current) == (own, member, new, current)


@pytest.mark.parametrize(
    "text, name",
    [
        ("Tomasz Wrona", "Tomasz Wrona"),
        ("nazywa się Ewa Lis", "Ewa Lis"),
        ("popraw: ma być Ewa Lis", "Ewa Lis"),
        ("nie, ma być Ewa Lis", "Ewa Lis"),
        ("tomasz wrona, magazynier", "Tomasz Wrona"),
        ("to Agnieszka Pawlak", "Agnieszka Pawlak"),
        ("Jan Wiśniewski jako magazynier", "Jan Wiśniewski"),
        ("magdalena kaczmarek-nowak", "Magdalena Kaczmarek-Nowak"),
        ("Łukasz Żółć", "Łukasz Żółć"),
        ("12345", None),
    ],
)
def test_name_from_an_answer_is_whole(text, name):
    assert name_from_answer(text) == name


@pytest.mark.parametrize(
    "text, name",
    [
        ("dodaj użytkownika Tomasz Wrona, t.wrona@x.pl", "Tomasz Wrona"),
        ("Tomasz Wrona (t.wrona@x.pl) - dodaj jako pracownika", "Tomasz Wrona"),
        ("Dodaj Tomasza Wronę jako pracownika", None),  # inflected: asked for
        ("dodaj Piotra Nowaka", None),
        ("dodaj Annę Zielińską", None),
        ("dodaj lukasz.zolc@majafirma.pl jako magazyniera", None),
    ],
)
def test_name_in_a_request_only_in_the_nominative(text, name):
    assert name_in_request(text) == name


@pytest.mark.parametrize(
    "text, emails",
    [
        ("Tomasz Wrona, nie pamiętam jego maila", ["t.wrona@majafirma.pl"]),
        ("tomasz wrona", ["t.wrona@majafirma.pl"]),
        ("chodzi o Wronę", ["t.wrona@majafirma.pl"]),
        ("lukasz zolc", ["lukasz.zolc@majafirma.pl"]),
        ("ŁUKASZ ŻÓŁĆ", ["lukasz.zolc@majafirma.pl"]),
        ("Kowalczyk-Nowak", ["a.kowalczyk-nowak@majafirma.pl"]),
        ("Tomasz", ["t.wrona@majafirma.pl", "tomasz.lis@majafirma.pl"]),
        ("Lis", ["ewa.lis@majafirma.pl", "tomasz.lis@majafirma.pl"]),
        ("Ewa Lis", ["ewa.lis@majafirma.pl"]),
        ("Kasia Nowicka", []),
    ],
)
def test_members_found_by_name(text, emails):
    assert [m["email"] for m in find_members_by_name(MEMBERS, text)] == emails


@pytest.mark.parametrize(
    "text, role",
    [
        ("dodaj x@y.pl jako magazyniera", "warehouse"),
        ("zmień rolę księgowej na pracownika", "employee"),
        ("zmien role z pracownika na zarzad", "management"),
        ("Łukasz Żółć ma mieć rolę księgowego", "management"),
        ("dodaj x@y.pl", None),
        ("czekaj, ona ma być jako księgowa, nie pracownik", "management"),
        ("x@y.pl ma byc pracownikiem a nie magazynierem", "employee"),
        ("nie, nie, pracownika", "employee"),
        ("pracwnik", "employee"),
        ("nie pracownik", None),
    ],
)
def test_role_words(text, role):
    assert role_in_text(text) == role


@pytest.mark.parametrize(
    "text, emails",
    [
        ("ewie", ["ewa.lis@majafirma.pl"]),
        ("Ewy", ["ewa.lis@majafirma.pl"]),
        ("ewka", []),  # not a case ending of Ewa
        ("piotra", []),
    ],
)
def test_short_first_names_in_another_case(text, emails):
    assert [m["email"] for m in find_members_by_name(MEMBERS, text)] == emails


@pytest.mark.parametrize(
    "text, role",
    [
        ("dodaj lukasz.zolc@majafirma.pl jako magazyniera", "warehouse"),
        ("dodaj nową księgową\nEwa Lis\newa@x.pl\nrola: zarząd/pełnomocnik/księgowy", "management"),
        ("dodaj pracownika ewa@x.pl z rolą magazynier", "warehouse"),
        ("chce dodac ksiegowa do firmy, ewa.lis@biuro-lis.pl", None),
        ("chciałbym dodać nowego pracownika", None),
        ("dodaj użytkownika Tomasz Wrona, t.wrona@x.pl, pracownik", "employee"),
        ("magazynier", "warehouse"),
        ("chce dodac ksiegowa do firmy, ksiegowa.nowa@majafirma.pl", None),  # not the address
    ],
)
def test_role_given_only_with_a_cue(text, role):
    assert role_given_in_text(text) == role


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("Licencja jest na właściciela, pana Jana Nowickiego.", "Jana Nowickiego", "Jan Nowicki"),
        ("na pana Marka Wronę", "Marka Wronę", "Marek Wrona"),
        ("pana Pawła Kowalczyka-Nowaka", "Pawła Kowalczyka-Nowaka", "Paweł Kowalczyk-Nowak"),
        ("pana Jerzego Nowaka", "Jerzego Nowaka", "Jerzy Nowak"),
        ("licencja pani Anny Nowickiej", "Anny Nowickiej", "Anna Nowicka"),
        ("na panią Annę Nowicką", "Annę Nowicką", "Anna Nowicka"),
        ("pani Ewy Lis", "Ewy Lis", "Ewa Lis"),
        ("pani Marii Wrony", "Marii Wrony", "Maria Wrona"),
        # already in the nominative, or no title: as written
        ("pani Anna Nowak", "Anna Nowak", "Anna Nowak"),
        ("Jan Nowicki", "Jan Nowicki", "Jan Nowicki"),
        ("to licencja Jana Nowickiego", "Jana Nowickiego", "Jana Nowickiego"),
    ],
)
def test_a_name_after_pana_or_pani_is_given_in_the_nominative(text, name, expected):
    assert nominative_after_title(text, name) == expected
