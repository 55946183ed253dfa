"""The shared secret detector (bot/redaction.py): what it masks, and what it must leave alone.

Runs in both environments: here under Python 3.11, and through tests/actions/test_redaction_rasa.py
under Rasa's Python 3.10.
"""

from __future__ import annotations

import pytest

from bot.redaction import (
    CODE,
    COMARCH_ID,
    DIGIT_MASK,
    NIP,
    PASSWORD,
    PASSWORD_REDACTED_TEXT,
    PIN,
    redact,
)

GONE = PASSWORD_REDACTED_TEXT

# (typed, stored, kinds found)
SECRETS = [
    # passwords, with and without diacritics, typos, "to" / ":" / nothing
    ("moje hasło to Zima2026!", f"moje hasło to {GONE}", {PASSWORD}),
    ("moje haslo to kot", f"moje haslo to {GONE}", {PASSWORD}),
    ("hasło: kot", f"hasło: {GONE}", {PASSWORD}),
    ("hasło:kot", f"hasło:{GONE}", {PASSWORD}),
    ("hsało to Wiosna2025", f"hsało to {GONE}", {PASSWORD}),
    ("hasełko to Abc", f"hasełko to {GONE}", {PASSWORD}),
    ("haslo Faktura#2026", f"haslo {GONE}", {PASSWORD}),
    ("mam hasła Kot123 i nie wchodzi", f"mam hasła {GONE} i nie wchodzi", {PASSWORD}),
    ("password: hunter2", f"password: {GONE}", {PASSWORD}),
    ("my pass is Secret99", f"my pass is {GONE}", {PASSWORD}),
    ("hasło do konta to Lato_2024", f"hasło do konta to {GONE}", {PASSWORD}),
    (
        "loguję się x@y.pl i hasłem Zima2026! i nie działa",
        f"loguję się x@y.pl i hasłem {GONE} i nie działa",
        {PASSWORD},
    ),
    # an e-mail address and a password next to it
    ("jan@firma.pl kotek123", f"jan@firma.pl {GONE}", {PASSWORD}),
    ("login jan@firma.pl / kotek123", f"login jan@firma.pl / {GONE}", {PASSWORD}),
    # a bare password
    ("Zima2026!", GONE, {PASSWORD}),
    ("kotek123", GONE, {PASSWORD}),
    ("nie wiem czemu Qwerty123! nie działa", f"nie wiem czemu {GONE} nie działa", {PASSWORD}),
    ("a może Kasztan#Lato?", f"a może {GONE}", {PASSWORD}),
    # PINs, IDs, NIPs and codes near their cue words
    ("ID 68577 PIN 4821", "ID ••••• PIN ••••", {COMARCH_ID, PIN}),
    ("pin:4821", "pin:••••", {PIN}),
    ("Mój PIN to 4821-9930", "Mój PIN to ••••-••••", {PIN}),
    ("PIN do licencji to 4821", "PIN do licencji to ••••", {PIN}),
    ("4821 to mój PIN", "•••• to mój PIN", {PIN}),
    ("nie pamiętam PIN-u, ID mam 68577", "nie pamiętam PIN-u, ID mam •••••", {COMARCH_ID}),
    ("kod 123456", "kod ••••••", {CODE}),
    ("kod weryfikacyjny z maila: 123 456", "kod weryfikacyjny z maila: ••• •••", {CODE}),
    ("wpisałem kodem 654321 i nic", "wpisałem kodem •••••• i nic", {CODE}),
    ("NIP 526-025-02-74", "NIP •••-•••-••-••", {NIP}),
    ("mój NIP: 5260250274", "mój NIP: ••••••••••", {NIP}),
    ("ID Comarch 68577", "ID Comarch •••••", {COMARCH_ID}),
    # Rasa intent payloads with entities
    ('/inform{"pin":"4821"}', '/inform{"pin":"••••"}', {PIN}),
    ('/inform{"verification_code":"123456"}', '/inform{"verification_code":"••••••"}', {CODE}),
    (
        '/inform{"comarch_id":"68577","pin":"4821"}',
        '/inform{"comarch_id":"•••••","pin":"••••"}',
        {COMARCH_ID, PIN},
    ),
    ('/inform{"password":"Zima2026!"}', f'/inform{{"password":"{GONE}"}}', {PASSWORD}),
]

# Ordinary messages: stored exactly as typed.
ORDINARY = [
    "chcę zmienić pakiet na złoty",
    "mój mail to jan.kowalski@majafirma.pl",
    "jan.kowalski@majafirma.pl",
    "jan.kowalski@majafirma.pl, 799 zł",
    "ile kosztuje 799 zł z VAT 23%",
    "NIP mam gdzieś w papierach",
    "nie pamiętam hasła",
    "nie pamiętam PIN-u",
    "zmieniłem hasło i nie działa",
    "hasło nie działa",
    "hasło jest za krótkie",
    "chcę zresetować hasło do konta",
    "reset hasła",
    "kod nie przyszedł",
    "kod pocztowy 40-100",
    "3 grudnia 2026",
    "2026-12-03",
    "od 03.12.2026 do 31.08.2027",
    "zadzwońcie 32 356 22 23",
    "telefon +48 32 356 22 23",
    "Jan Kowalski",
    "Majama Michał Zając",
    "Biuro Rachunkowe Anna Nowak",
    "pakiet zielony, srebrny czy złoty?",
    "iKsięgowość24",
    "logowanie do ING-Księgowość24 nie działa",
    "faktura FV/2026/11/123",
    "deklaracja PIT-37 i JPK_V7M",
    "mam 2 firmy i 3 użytkowników",
    "https://iksiegowosc24.pl/logowanie",
    "Comarch ERP Optima",
    "/affirm",
    "/deny",
    '/inform{"package":"green"}',
    '/inform{"role":"employee"}',
    '/remove_device{"device_reason":"lost"}',
    "chcę dodać użytkownika anna.nowak@biuro-nowak.pl jako magazyniera",
    "zmień e-mail z jan@firma.pl na jan.kowalski@majafirma.pl",
    "dziękuję, to wszystko",
    "Świetnie! Dziękuję bardzo!",
    "Wygrałeś iPhone'a! Kliknij tutaj",
    "Czy mogę zapłacić kartą?Dziękuję",
    "mam zgłoszenie PM-000123",
    "PM-000123",
    "FV2026",
    "naciskam Control+Enter i nic",
    "od 2026-11-23T10:00:00+01:00",
    "Kowalski-Nowak",
    "",
]


@pytest.mark.parametrize(("typed", "stored", "kinds"), SECRETS)
def test_secrets_are_masked(typed, stored, kinds):
    result = redact(typed)
    assert result.text == stored
    assert result.kinds == kinds
    assert result.found


@pytest.mark.parametrize("typed", ORDINARY)
def test_ordinary_messages_are_left_alone(typed):
    result = redact(typed)
    assert result.text == typed
    assert not result.found


def test_bare_digits_are_masked_only_when_the_assistant_asked_for_them():
    assert redact("4821").text == "4821"
    assert redact("739184").text == "739184"
    assert redact("4821", expected=PIN).text == DIGIT_MASK * 4
    assert redact("kod to 739184", expected=CODE).text == "kod to " + DIGIT_MASK * 6
    assert redact("739184", expected="secret").kinds == {CODE}
    assert redact("/affirm", expected="secret").text == "/affirm"


def test_a_message_the_assistant_knows_to_be_a_password_is_dropped_whole():
    assert redact("zapomniałem, ale chyba kot w butach", expected=PASSWORD).text == GONE


def test_the_masked_originals_are_kept_in_memory_for_the_caller():
    result = redact("ID 68577 PIN 4821 hasło to Zima2026!")
    assert set(result.secrets) == {"68577", "4821", "Zima2026!"}
    assert "4821" not in repr(result)  # never in a log line by accident


@pytest.mark.parametrize(
    "text",
    ["Ksiegowosc!2025", "moje haslo to Ksiegowosc!2025", "Comarch2024#x", "haslo: iKsiegowosc24"],
)
def test_a_password_built_on_a_product_name_is_masked(text):
    # The product names are exempt as whole words only; after "hasło" nothing is exempt.
    result = redact(text)
    assert PASSWORD in result.kinds
    assert "2025" not in result.text and "2024" not in result.text and "24" not in result.text
