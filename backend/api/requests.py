"""Turn a request body into a validated model, or a clear 4xx with a Polish message."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sanic import Request

from backend.errors import MalformedJson, UnsupportedMediaType, ValidationFailed

Model = TypeVar("Model", bound=BaseModel)

_FIELD_MESSAGES = {
    "missing": "To pole jest wymagane.",
    "string_too_long": "Wartość jest za długa.",
    "string_too_short": "Wartość jest za krótka.",
    "string_type": "Wartość musi być tekstem.",
    "value_error": "Nieprawidłowa wartość.",
    "extra_forbidden": "Nieznane pole.",
}


def parse_json(request: Request, model: type[Model]) -> Model:
    if request.content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType()
    try:
        payload = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        raise MalformedJson() from None
    return validate(payload, model)


def validate(payload: object, model: type[Model]) -> Model:
    if not isinstance(payload, dict):
        raise ValidationFailed("Treść żądania musi być obiektem JSON.")
    if _has_nul(payload):
        # PostgreSQL text cannot hold NUL; no legitimate value contains it.
        raise ValidationFailed("Przesłane dane zawierają niedozwolony znak (NUL).")
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise ValidationFailed(details=_field_errors(error)) from None


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _field_errors(error: ValidationError) -> list[dict[str, str]]:
    details = []
    for item in error.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "body"
        message = _FIELD_MESSAGES.get(item["type"], "Nieprawidłowa wartość.")
        if item["type"] == "value_error" and "email" in field:
            message = "Nieprawidłowy adres e-mail."
        details.append({"field": field, "code": item["type"], "message": message})
    return details
