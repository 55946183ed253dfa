"""Ready answers for the questions the user guides cover most (the console inserts one into
the reply box; the adviser edits it before sending)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.gateway.desk import SUPPORT_EMAIL, SUPPORT_PHONE
from common.contacts import CONTACTS


@dataclass(frozen=True)
class Canned:
    title: str
    text: str


CANNED = (
    Canned(
        "Logowanie (Comarch Cloud)",
        "Na stronie www.iksiegowosc24.pl kliknij „Zaloguj się do Panelu Biura” – otworzy się "
        "okno logowania Comarch Cloud. Wpisz e-mail i hasło, których używasz w Comarch Cloud; "
        "po zatwierdzeniu przejdziesz prosto do iKsięgowość24.",
    ),
    Canned(
        "Nie pamiętam hasła",
        "W oknie logowania Comarch Cloud kliknij „Nie pamiętam hasła” i podaj adres e-mail "
        "konta. Wyślemy na niego link do ustawienia nowego hasła (ważny 60 minut).",
    ),
    Canned(
        "E-mail aktywacyjny",
        "Sprawdź skrzynkę (także folder spam): wiadomość ma temat „Aktywacja konta Comarch "
        "Cloud”. Kliknij link i ustaw nowe hasło – będziesz go używać przy każdym logowaniu.",
    ),
    Canned(
        "Jednorazowa weryfikacja biura",
        "Jeśli nie logowałeś się jeszcze przez Comarch Cloud, potrzebna jest jednorazowa "
        "weryfikacja: na www.iksiegowosc24.pl wybierz „Zaloguj się do Panelu Biura”, a potem "
        "„Zarejestruj”. Podaj e-mail, ID Comarch, PIN, NIP oraz imię i nazwisko – ID i PIN "
        "otrzymałeś przy zakupie Comarch ERP Optima. Jeśli masz już pakiet, jego parametry "
        "się nie zmienią.",
    ),
    Canned(
        "Pakiety",
        "Pakiet zielony kosztuje 0 zł rocznie (fakturowanie przez 90 dni, wymiana do 10 "
        "dokumentów), srebrny 299 zł (fakturowanie bez limitu, do 100 dokumentów, kopia 5 GB), "
        "złoty 799 zł (bez limitów, kopia 30 GB). Ceny nie zawierają 23% VAT.",
    ),
    Canned(
        "Wymagania hasła",
        "Hasło musi mieć co najmniej 8 znaków, nie może zawierać nazwy użytkownika (części "
        "e-maila przed @) i musi mieć znaki z co najmniej trzech grup: duże litery, małe "
        "litery, cyfry, znaki specjalne (np. ! $ # %).",
    ),
    Canned(
        "Parowanie ING Office",
        "Pobierz ING Office z Google Play lub App Store, wybierz „Logowanie”, potem "
        "„Fakturowanie” i „Aktywuj aplikację”, a następnie podaj e-mail i hasło z ING "
        "Księgowość i ustaw PIN. Z kontem można połączyć tylko jedno zaufane urządzenie – "
        "możesz je w każdej chwili zmienić albo usunąć.",
    ),
    Canned(
        "Użytkownicy i role",
        "Z rozwinięcia przy nazwie firmy wybierz „Dane i ustawienia”, rozwiń sekcję "
        "„Użytkownicy” i kliknij „Dodaj użytkownika”. Podaj jego e-mail i rolę: pracownik, "
        "zarząd / pełnomocnik / księgowy albo magazynier. Rolę możesz zmienić w każdej chwili.",
    ),
    Canned(
        "Godziny i kontakt",
        f"Konsultanci pracują w dni robocze, {CONTACTS.hours_sentence}. "
        f"Możesz zadzwonić pod numer {SUPPORT_PHONE} albo napisać na {SUPPORT_EMAIL}.",
    ),
)
