"""Every error leaves as JSON (or a page) with a stable code and a Polish message; never a trace."""

from __future__ import annotations

import logging

from sanic import Request, Sanic, json
from sanic.exceptions import (
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    SanicException,
)

from backend.errors import DomainError

log = logging.getLogger("backend.api")

_SANIC_ERRORS: list[tuple[type[SanicException], int, str, str]] = [
    (NotFound, 404, "not_found", "Nie znaleziono zasobu."),
    (MethodNotAllowed, 405, "method_not_allowed", "Ta metoda nie jest obsługiwana pod tym adresem."),
    (PayloadTooLarge, 413, "payload_too_large", "Przesłane dane są za duże."),
    (RequestTimeout, 408, "request_timeout", "Przekroczono czas oczekiwania na żądanie."),
    (BadRequest, 400, "bad_request", "Nieprawidłowe żądanie."),
]


def register(app: Sanic) -> None:
    @app.exception(DomainError)
    async def domain_error(request: Request, error: DomainError):
        return json(error.to_body(), status=error.status, headers=error.headers)

    for exc_type, status, code, message in _SANIC_ERRORS:
        app.error_handler.add(exc_type, _sanic_handler(status, code, message))

    @app.exception(Exception)
    async def unexpected(request: Request, error: Exception):
        if isinstance(error, SanicException) and error.status_code < 500:
            return json(
                {"error": {"code": "bad_request", "message": "Nieprawidłowe żądanie."}},
                status=error.status_code,
            )
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json(
            {
                "error": {
                    "code": "internal_error",
                    "message": "Wystąpił nieoczekiwany błąd. Spróbuj ponownie za chwilę.",
                }
            },
            status=500,
        )


def _sanic_handler(status: int, code: str, message: str):
    async def handler(request: Request, error: Exception):
        return json({"error": {"code": code, "message": message}}, status=status)

    return handler
