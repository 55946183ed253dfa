"""Domain errors: a stable code for programs, a Polish message for people, an HTTP status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"
    message = "Nieprawidłowe żądanie."

    def __init__(
        self, message: str | None = None, *, details: Any = None, headers: dict | None = None
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details
        self.headers = headers or {}

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    message = "Brak uprawnień do wykonania tej operacji."


class InvalidCredentials(DomainError):
    status = 401
    code = "invalid_credentials"
    message = "Nieprawidłowy adres e-mail lub hasło."


class InvalidToken(DomainError):
    status = 400
    code = "invalid_token"
    message = (
        "Link jest nieprawidłowy, wygasł albo został już użyty. "
        "Poproś o nowy link do ustawienia hasła."
    )


class PasswordPolicyViolation(DomainError):
    status = 422
    code = "password_policy"
    message = "Hasło nie spełnia wymagań."


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    template = "Zbyt wiele prób. Spróbuj ponownie za {minutes} min."

    def __init__(self, retry_after_seconds: int, template: str | None = None) -> None:
        minutes = max(1, -(-retry_after_seconds // 60))  # rounded up
        super().__init__(
            (template or self.template).format(minutes=minutes),
            details={"retry_after_seconds": retry_after_seconds},
            headers={"Retry-After": str(retry_after_seconds)},
        )


class ValidationFailed(DomainError):
    status = 422
    code = "validation_error"
    message = "Przesłane dane są niepoprawne."


class MalformedJson(DomainError):
    status = 400
    code = "malformed_json"
    message = "Treść żądania nie jest poprawnym JSON-em."


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"
    message = "Nieobsługiwany typ treści. Wyślij dane jako application/json."


class VerificationRequired(DomainError):
    status = 401
    code = "verification_required"
    message = (
        "Ta operacja wymaga potwierdzenia tożsamości kodem wysłanym na adres e-mail konta. "
        "Kod lub potwierdzenie mogło też wygasnąć."
    )


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    message = "Nie masz uprawnień do tej operacji."


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message = "Nie znaleziono zasobu."


class Conflict(DomainError):
    status = 409
    code = "conflict"
    message = "Operacja koliduje z bieżącym stanem konta."


class IdempotencyKeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"
    message = "Ten klucz Idempotency-Key został już użyty z inną treścią żądania."


class IdempotencyInProgress(DomainError):
    status = 409
    code = "idempotency_in_progress"
    message = "Żądanie z tym kluczem Idempotency-Key jest właśnie przetwarzane. Spróbuj za chwilę."


class SessionInvalid(DomainError):
    status = 401
    code = "session_invalid"
    message = "Sesja logowania wygasła. Zaloguj się ponownie."
