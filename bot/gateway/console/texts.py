"""The console's Polish texts: error messages of its own codes and labels for what the
assistant understood. Desk and ticket refusals use ``bot.gateway.errors.MESSAGES``."""

from __future__ import annotations

from bot.gateway.errors import MESSAGES
from common.polish import count as plural  # "1 rozmowa", "3 rozmowy", "5 rozmów"

MAX_REPLY_LENGTH = 2000

TEXTS = {
    "agent_unauthorized": "Sesja wygasła albo nie jesteś zalogowany. Zaloguj się ponownie.",
    "csrf_failed": "Nie udało się potwierdzić, że to żądanie pochodzi z konsoli. Odśwież stronę.",
    # The same words for an unknown e-mail and a wrong password (no enumeration).
    "agent_login_failed": "Nieprawidłowy e-mail lub hasło.",
    "agent_locked": "Zbyt wiele nieudanych prób. Spróbuj ponownie za 15 minut.",
    "agent_login_throttled": (
        "Z Twojej sieci było zbyt wiele prób logowania. Odczekaj {wait} i spróbuj ponownie."
    ),
    "reply_missing": "Wpisz treść odpowiedzi.",
    "reply_too_long": (
        f"Odpowiedź jest za długa. Maksymalna długość to {MAX_REPLY_LENGTH} znaków."
    ),
    "editor_required": (
        "Skrzynka NLU jest dostępna tylko dla konsultantów z uprawnieniem redaktora. "
        "Poproś administratora o jego nadanie."
    ),
    "domain_unavailable": (
        "Nie udało się wczytać listy intencji asystenta (domain/), więc skrzynka NLU jest "
        "niedostępna. Powiadom administratora."
    ),
    "inbox_item_not_found": "Nie ma takiej wiadomości w skrzynce NLU.",
    "review_conversation_not_found": "Nie ma takiej rozmowy.",
    "inbox_item_exported": "Ta wiadomość jest już wyeksportowana – nie można jej zmienić.",
    "inbox_intent_unknown": "Wybierz intencję z listy.",
    "inbox_entities_invalid": (
        "Zaznaczone fragmenty są nieprawidłowe: każdy musi obejmować całe słowa "
        "i nie mogą na siebie nachodzić."
    ),
}

# Polish names of the assistant's intents (domain/), for the adviser's side panel.
INTENT_LABELS = {
    "greet": "powitanie",
    "goodbye": "pożegnanie",
    "thanks": "podziękowanie",
    "affirm": "potwierdzenie",
    "deny": "zaprzeczenie",
    "stop": "przerwanie",
    "bot_challenge": "pytanie, czy to bot",
    "out_of_scope": "poza zakresem",
    "human_handoff": "prośba o konsultanta",
    "support_contact": "kontakt z pomocą",
    "done": "zakończenie tematu",
    "check_presence": "czy ktoś tu jest",
    "resume": "powrót do przerwanej sprawy",
    "code_not_received": "kod weryfikacyjny nie dotarł",
    "leave_ticket": "prośba o zgłoszenie / kontakt",
    "inform": "podanie danych",
    "share_password": "wpisane hasło",
    "login_help": "pomoc w logowaniu",
    "reset_password": "reset hasła",
    "password_requirements": "wymagania hasła",
    "register_account": "rejestracja licencji Comarch",
    "resend_activation": "ponowny link aktywacyjny",
    "forgot_comarch_id": "zapomniane ID/PIN Comarch",
    "packages_info": "pakiety",
    "change_package": "zmiana pakietu",
    "account_status": "stan konta",
    "pair_phone": "parowanie telefonu (ING Office)",
    "remove_device": "usunięcie urządzenia",
    "roles_info": "role użytkowników",
    "add_user": "dodanie użytkownika",
    "change_role": "zmiana roli",
    "remove_user": "usunięcie użytkownika",
    "change_login_email": "zmiana e-maila logowania",
    "device_status": "sprawdzenie urządzenia mobilnego",
    "device_limit": "limit urządzeń mobilnych",
    "find_login": "gdzie sprawdzić login",
    "list_users": "lista użytkowników firmy",
    "dont_know": "nie wiem / gdzie to znaleźć",
    "explain_again": "nie rozumiem – wyjaśnij jeszcze raz",
    "password_unclear": "samo „hasło” (nie wiadomo, o co chodzi)",
    "pin_unclear": "„PIN” bez wskazania, który",
    "handoff_returned": "powrót od konsultanta",
    "nlu_fallback": "niezrozumiane",
}

# The assistant's entities (domain/), for marking them in the NLU inbox.
ENTITY_LABELS = {
    "email": "adres e-mail",
    "comarch_id": "ID Comarch",
    "pin": "PIN",
    "nip": "NIP",
    "person_name": "imię i nazwisko",
    "package": "pakiet",
    "role": "rola",
    "verification_code": "kod weryfikacyjny",
    "device_reason": "powód zmiany urządzenia",
    "correction": "poprawiana wartość",
}

# Why a message is in the NLU inbox (bot.gateway.inbox).
INBOX_REASON_LABELS = {
    "fallback": "niezrozumiana",
    "low_confidence": "niska pewność",
    "handoff": "potem prośba o konsultanta",
    "low_rating": "nisko oceniona rozmowa",
}

# One message's state (the labels above name the lists).
INBOX_STATE_LABELS = {
    "waiting": "czeka na oznaczenie",
    "labelled": "oznaczona",
    "skipped": "pominięta",
    "exported": "wyeksportowana",
    "duplicate": "już jest w danych treningowych",
    "refused": "odrzucona (dane poufne)",
}

INBOX_STATUS_LABELS = {
    "waiting": "czekają",
    "labelled": "oznaczone",
    "skipped": "pominięte",
    "exported": "wyeksportowane",
    "duplicate": "już w danych",
    "refused": "odrzucone (dane poufne)",
}

# How a conversation went, for the conversation review (console.review).
OUTCOME_LABELS = {
    "fallback": "niezrozumiana wiadomość",
    "handoff": "prośba o konsultanta",
    "low_rating": "niska ocena",
    "not_completed": "niedokończona ścieżka",
    "ticket": "zgłoszenie",
}

JOURNEY_LABELS = {"started": "rozpoczęta", "completed": "zakończona", "cancelled": "przerwana"}

FORM_LABELS = {
    "reset_password_form": "reset hasła",
    "resend_activation_form": "ponowny link aktywacyjny",
    "registration_form": "rejestracja licencji",
    "change_package_form": "zmiana pakietu",
    "account_status_form": "stan konta",
    "device_status_form": "urządzenie mobilne",
    "remove_device_form": "usunięcie urządzenia",
    "add_user_form": "dodanie użytkownika",
    "change_role_form": "zmiana roli",
    "remove_user_form": "usunięcie użytkownika",
    "change_login_email_form": "zmiana e-maila logowania",
    "list_users_form": "lista użytkowników firmy",
}

# The slots Rasa may show an adviser (rasa_client.VISIBLE_SLOTS).
SLOT_LABELS = {
    "verified_name": "zweryfikowane imię i nazwisko",
    "verified_email": "zweryfikowany e-mail",
    "email": "podany e-mail",
    "comarch_id": "ID Comarch",
    "nip": "NIP",
    "package": "pakiet",
    "role": "rola",
    "person_name": "imię i nazwisko użytkownika",
    "member_email": "e-mail użytkownika",
    "new_email": "nowy e-mail logowania",
    "device_reason": "powód zmiany urządzenia",
    "account_organisation": "firma / biuro",
    "account_package": "pakiet konta",
    "account_valid_until": "pakiet ważny do",
    "registration_status": "stan rejestracji",
    "handoff_requested": "prośba o konsultanta",
}

HANDLING_LABELS = {
    "assistant": "asystent",
    "queued": "w kolejce",
    "agent": "u konsultanta",
    "closed": "zakończona",
}

AUTHOR_LABELS = {"visitor": "Klient", "bot": "Asystent", "agent": "Konsultant", "system": "System"}

TICKET_STATUS_LABELS = {"open": "otwarte", "answered": "z odpowiedzią", "closed": "zamknięte"}


def text_of(code: str) -> str:
    """The Polish message of a console code or of a gateway code."""
    return TEXTS.get(code) or MESSAGES.get(code) or MESSAGES["bad_request"]


def intent_label(intent: str | None) -> str:
    if not intent:
        return "—"
    return INTENT_LABELS.get(intent, intent.replace("_", " "))


def entity_label(entity: str) -> str:
    return ENTITY_LABELS.get(entity, entity.replace("_", " "))


def form_label(form: str | None) -> str:
    if not form:
        return "—"
    return FORM_LABELS.get(form, form.replace("_", " "))
