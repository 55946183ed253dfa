"""Every response speaks to a formal user formally (the `register` slot, bot/rasa_ext/register.py).

The contract, on the merged domain (bot.domain_files.load_domain, as the action server sees it):

- A response whose text addresses the user in the 2nd person singular ("Twoje konto", "napisz",
  "możesz") has, for each of its variations, a formal twin right after it: the same conditions
  plus `register: formal`, the same placeholders, the same buttons (titles and payloads) and the
  same `custom` payload - only the text differs.
- A response with no 2nd-person form in any variation ("Czy chodzi o logowanie?", the package
  prices, "Dziękuję, tożsamość potwierdzona.") needs no twin: its text is right in both
  registers, and Rasa falls back to it when no formal variation exists. It must then have no
  formal variation at all, so that a formal user never meets a mix.
- No formal text contains an obvious 2nd-person-singular form (SECOND_PERSON_WORDS and the
  endings below); text in „quotes” (a button label or a command to type: „zmień pakiet”) and
  placeholders are not checked.

The detector of 2nd-person forms is a word list plus the present/past endings of the 2nd person
singular (-asz/-esz/-isz/-ysz, -łeś/-łaś) and the imperative endings -uj/-ij; a new response with
a form it misses would go without a twin, so it errs on the side of flagging.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

import pytest

from bot.domain_files import load_domain

DOMAIN = load_domain()
RESPONSES: Dict[str, List[Dict[str, Any]]] = DOMAIN["responses"]
FORMAL_CONDITION = {"type": "slot", "name": "register", "value": "formal"}

PRONOUNS = {
    "ty", "ci", "cię", "ciebie", "tobie", "tobą", "twój", "twoja", "twoje", "twojego",
    "twojej", "twojemu", "twoim", "twoich", "twoją", "twoimi", "twym",
}
IMPERATIVES = {
    "podaj", "wpisz", "sprawdź", "napisz", "kliknij", "wejdź", "wybierz", "pobierz", "uruchom",
    "potwierdź", "ustaw", "zdecyduj", "zaloguj", "zadzwoń", "spróbuj", "odczekaj", "skontaktuj",
    "poproś", "zapytaj", "usuń", "sparuj", "zmień", "zrób", "zacznij", "pamiętaj", "odpowiedz",
    "zapoznaj", "dodaj", "użyj", "wróć", "przejdź", "zamów", "wyślij", "daj", "przeczytaj",
    "otwórz", "zostaw", "podawaj", "wpisuj", "sprawdzaj", "pisz", "powiedz", "zajrzyj",
    "odśwież", "poczekaj", "przepisz", "skopiuj", "wklej", "zachowaj", "ignoruj",
}
SECOND_PERSON_WORDS = PRONOUNS | IMPERATIVES
# words with a 2nd-person-looking ending that are not verbs
NOT_VERBS = {"nasz", "wasz", "kosz", "tusz", "grosz", "kapelusz", "klawisz", "afisz"}
SECOND_PERSON_ENDING = re.compile(r"(asz|esz|isz|ysz|łeś|łaś|łbyś|łabyś|jesteś)$")
IMPERATIVE_ENDING = re.compile(r"(uj|ij)$")
NOT_CHECKED = re.compile(r"„[^”]*”|\"[^\"]*\"|\{[^}]*\}")
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def second_person_words(text: str) -> List[str]:
    """The words of `text` that address the reader in the 2nd person singular."""
    found = []
    for word in re.findall(r"\w+", NOT_CHECKED.sub(" ", text)):
        lower = word.lower()
        if lower in SECOND_PERSON_WORDS:
            found.append(word)
        elif len(lower) > 3 and lower not in NOT_VERBS and (
            SECOND_PERSON_ENDING.search(lower) or IMPERATIVE_ENDING.search(lower)
        ):
            found.append(word)
    return found


def is_formal(variation: Dict[str, Any]) -> bool:
    return FORMAL_CONDITION in (variation.get("condition") or [])


def needs_formal_twin(variations: List[Dict[str, Any]]) -> bool:
    return any(second_person_words(v.get("text", "")) for v in variations if not is_formal(v))


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Podaj adres e-mail, którym logujesz się do konta.", ["Podaj", "logujesz"]),
        ("Czy wysłać Ci link?", ["Ci"]),
        ("Do Twojego konta nie jest podłączone urządzenie.", ["Twojego"]),
        ("Jeśli zapomniałeś hasła, zamówisz nowe.", ["zapomniałeś", "zamówisz"]),
        ("Proszę napisać „zmień pakiet” albo zadzwonić.", []),
        ("Nasz konsultant odpowie. Czy chodzi o {name}?", []),
        ("Proszę podać adres e-mail używany do logowania na konto.", []),
    ],
)
def test_second_person_detector(text, expected):
    assert second_person_words(text) == expected


def test_most_responses_have_a_formal_twin():
    with_twin = [name for name, variations in RESPONSES.items() if any(map(is_formal, variations))]
    assert len(with_twin) >= 150  # 154 of 251 when written; the rest have no "Ty" forms


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_every_informal_variation_has_a_formal_twin(name):
    variations = RESPONSES[name]
    informal = [v for v in variations if not is_formal(v)]
    formal = [v for v in variations if is_formal(v)]
    if not needs_formal_twin(variations):
        assert formal == [], f"{name}: no 2nd-person form, so no formal variation is expected"
        return
    assert len(formal) == len(informal), name
    for index, variation in enumerate(variations):
        if is_formal(variation):
            continue
        twin = variations[index + 1]
        assert is_formal(twin), f"{name}[{index}] is not followed by its formal twin"
        assert twin["condition"] == list(variation.get("condition") or []) + [FORMAL_CONDITION]
        assert {k: v for k, v in twin.items() if k not in ("text", "condition")} == {
            k: v for k, v in variation.items() if k not in ("text", "condition")
        }, f"{name}[{index}]: buttons or custom payload differ"
        assert sorted(PLACEHOLDER.findall(twin["text"])) == sorted(
            PLACEHOLDER.findall(variation["text"])
        ), f"{name}[{index}]: placeholders differ"


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_formal_texts_have_no_second_person_singular(name):
    for variation in RESPONSES[name]:
        if is_formal(variation):
            assert second_person_words(variation["text"]) == [], (name, variation["text"])


def test_formal_condition_is_a_value_of_the_slot():
    slot = DOMAIN["slots"]["register"]
    assert FORMAL_CONDITION["value"] in slot["values"]
