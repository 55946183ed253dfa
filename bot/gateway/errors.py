"""JSON error responses with stable codes and Polish messages.

Every error leaves the gateway as
``{"error": {"code": "<stable_snake_case>", "message": "<Polish text>"}}``;
clients branch on ``code`` and may show ``message`` to the user.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse, json

from common.contacts import CONTACTS
from common.polish import HOUR, MINUTE, SECOND

if TYPE_CHECKING:  # desk.py raises the errors described here; no import at run time
    from bot.gateway.desk import DeskError

MAX_TEXT_LENGTH = 1000
MAX_BODY_BYTES = 16 * 1024

logger = logging.getLogger("pomocnik.gateway")

MESSAGES = {
    "unsupported_media_type": (
        "Nieobsługiwany format danych. "
        "Wyślij treść w formacie JSON (Content-Type: application/json)."
    ),
    "malformed_json": "Treść żądania nie jest poprawnym dokumentem JSON.",
    "invalid_json": (
        "Dokument JSON jest zagnieżdżony zbyt głęboko. Dozwolone są najwyżej 32 poziomy."
    ),
    "invalid_characters": (
        "Tekst zawiera niedozwolone znaki (znak NUL albo niesparowany znak zastępczy UTF-16)."
    ),
    "validation_error": "Pole „text” jest wymagane i musi zawierać niepusty tekst.",
    "invalid_client_message_id": (
        "Pole „client_message_id” musi mieć od 8 do 64 znaków: litery, cyfry, „-” lub „_”."
    ),
    "message_too_long": f"Wiadomość jest za długa. Maksymalna długość to {MAX_TEXT_LENGTH} znaków.",
    "invalid_after": "Parametr „after” musi być nieujemną liczbą całkowitą.",
    "conversation_not_found": "Nie znaleziono rozmowy. Rozpocznij nową rozmowę.",
    "assistant_unavailable": "Asystent jest chwilowo niedostępny. Spróbuj ponownie za chwilę.",
    # {wait} is filled in with e.g. "40 sekund" (see rate_limit_message).
    "too_many_messages": (
        "Wysyłasz wiadomości zbyt szybko. Odczekaj {wait} i wyślij wiadomość ponownie."
    ),
    "too_many_messages_from_address": (
        "Z Twojej sieci wysłano w ostatniej minucie zbyt wiele wiadomości. "
        "Odczekaj {wait} i wyślij wiadomość ponownie."
    ),
    "not_found": "Nie znaleziono zasobu pod tym adresem.",
    "method_not_allowed": "Ta metoda HTTP nie jest obsługiwana pod tym adresem.",
    "payload_too_large": "Żądanie jest za duże. Maksymalny rozmiar treści to 16 KiB.",
    "request_timeout": "Przekroczono czas oczekiwania na żądanie.",
    "bad_request": "Nieprawidłowe żądanie.",
    "service_unavailable": "Usługa jest chwilowo niedostępna. Spróbuj ponownie za chwilę.",
    "internal_error": "Wystąpił nieoczekiwany błąd. Spróbuj ponownie później.",
    # The advisers' desk: handoff, tickets, rating.
    "not_in_queue": "Ta rozmowa nie czeka w kolejce do konsultanta.",
    "conversation_already_taken": "Tę rozmowę prowadzi już inny konsultant.",
    "conversation_not_yours": "Tej rozmowy nie prowadzisz (albo została już zakończona).",
    "ticket_question_missing": "Napisz, w czym możemy pomóc – pole „pytanie” jest wymagane.",
    "ticket_question_too_long": "Pytanie jest za długie. Maksymalna długość to 2000 znaków.",
    "ticket_contact_missing": "Podaj adres e-mail albo numer telefonu, żebyśmy mogli odpowiedzieć.",
    "ticket_email_invalid": "To nie wygląda na poprawny adres e-mail, np. jan@firma.pl.",
    "ticket_phone_invalid": "Podaj numer telefonu z 9 cyframi, np. 600 100 200.",
    "ticket_not_offered": (
        "Zgłoszenie można zostawić, gdy asystent je zaproponuje – wtedy, gdy żaden konsultant "
        "nie może teraz rozmawiać. Napisz „chcę rozmawiać z konsultantem”."
    ),
    # {wait} is filled in with e.g. "40 minut" or "3 godziny" (see wait_pl).
    "too_many_tickets": (
        "Z tej rozmowy wysłano już {limit} zgłoszenia – więcej nie przyjmiemy. Jeśli chcesz "
        f"coś dodać, zadzwoń pod numer {CONTACTS.phone} albo napisz na {CONTACTS.support_email}."
    ),
    "too_many_tickets_from_address": (
        "Z Twojej sieci wysłano w ciągu ostatniej godziny zbyt wiele zgłoszeń. "
        "Spróbuj ponownie za {wait}."
    ),
    "too_many_tickets_for_contact": (
        "Na ten adres e-mail lub numer telefonu przyjęliśmy w ciągu ostatniej doby zbyt wiele "
        "zgłoszeń. Spróbuj ponownie za {wait}."
    ),
    "ticket_not_found": "Nie znaleziono zgłoszenia.",
    "ticket_closed": "Zgłoszenie jest zamknięte.",
    "ticket_has_no_email": "Zgłaszający podał tylko telefon – odpowiedz telefonicznie i zamknij zgłoszenie.",
    "ticket_answer_missing": "Wpisz treść odpowiedzi.",
    "ticket_answer_too_long": "Odpowiedź jest za długa. Maksymalna długość to 5000 znaków.",
    "ticket_email_failed": "Nie udało się wysłać e-maila. Spróbuj ponownie za chwilę.",
    "rating_invalid": "Ocena musi być liczbą od 1 do 5, a komentarz może mieć do 1000 znaków.",
    "already_rated": "Ta rozmowa została już oceniona. Dziękujemy!",
}

# Sanic's own exceptions (routing, body size, timeouts) mapped by status code.
_CODES_BY_STATUS = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    503: "service_unavailable",
}


class ApiError(SanicException):
    """An expected failure with a stable code; raised by handlers."""

    quiet = True

    def __init__(
        self,
        status: int,
        code: str,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or MESSAGES[code], status_code=status, headers=headers)
        self.code = code
        self.text = message or MESSAGES[code]


def error_response(
    status: int, code: str, headers: dict[str, str] | None = None, message: str | None = None
) -> HTTPResponse:
    body = {"error": {"code": code, "message": message or MESSAGES[code]}}
    return json(body, status=status, headers=headers)


def seconds_pl(seconds: int) -> str:
    """ "1 sekundę", "2 sekundy", "5 sekund", "22 sekundy" (Polish plural of the accusative)."""
    return SECOND.count(seconds, accusative=True)


def wait_pl(seconds: int) -> str:
    """How long to wait, rounded up to a unit people use: "40 sekund", "1 minutę",
    "25 minut", "3 godziny" (the accusative after "za")."""
    if seconds < 60:
        return seconds_pl(max(1, seconds))
    if seconds < 3600:
        return MINUTE.count(-(-seconds // 60), accusative=True)
    return HOUR.count(-(-seconds // 3600), accusative=True)


def desk_error_message(error: DeskError) -> str:
    """The Polish message of a desk refusal, its placeholders ({wait}, {limit}…) filled in."""
    fields = dict(error.fields)
    if error.retry_after is not None:
        fields["wait"] = wait_pl(error.retry_after)
    return MESSAGES[error.code].format(**fields) if fields else MESSAGES[error.code]


def rate_limit_message(code: str, retry_after_seconds: int) -> str:
    return MESSAGES[code].format(wait=seconds_pl(retry_after_seconds))


def register_error_handlers(app: Sanic) -> None:
    @app.exception(ApiError)
    async def api_error(request: Request, exc: ApiError) -> HTTPResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        return error_response(exc.status_code, exc.code, headers, exc.text)

    @app.exception(SanicException)
    async def framework_error(request: Request, exc: SanicException) -> HTTPResponse:
        status = exc.status_code or 500
        if status >= 500 and status not in _CODES_BY_STATUS:
            return _internal_error(request, exc)
        code = _CODES_BY_STATUS.get(status, "bad_request")
        # Keep e.g. the Allow header of 405 responses.
        headers = dict(getattr(exc, "headers", None) or {})
        return error_response(status, code, headers)

    @app.exception(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> HTTPResponse:
        return _internal_error(request, exc)


def _internal_error(request: Request, exc: BaseException) -> HTTPResponse:
    # The traceback stays in the server log; the client gets a generic message.
    route = request.route.path if request and request.route else "-"
    method = request.method if request else "-"
    logger.error("unhandled error on %s %s", method, route, exc_info=exc)
    return error_response(500, "internal_error")
