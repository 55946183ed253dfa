"""Turn a request body into a validated model, or a clear 4xx with a Polish message.

Every JSON endpoint reads its body through ``parse_json``: nesting deeper than ``MAX_DEPTH``
is 400 ``invalid_json`` (``json.loads`` would raise RecursionError, a 500, on a few thousand
brackets), NUL or a lone UTF-16 surrogate in any key or value is 422 ``validation_error``.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sanic import Request

from backend.errors import DomainError, MalformedJson, UnsupportedMediaType, ValidationFailed

Model = TypeVar("Model", bound=BaseModel)
MAX_DEPTH = 32


class JsonTooDeep(DomainError):
    status = 400
    code = "invalid_json"
    message = (
        f"Dokument JSON jest zagnieżdżony zbyt głęboko. Dozwolone są najwyżej {MAX_DEPTH} poziomy."
    )

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
    except RecursionError:
        raise JsonTooDeep() from None
    except (ValueError, UnicodeDecodeError):
        raise MalformedJson() from None
    return validate(payload, model)


def validate(payload: object, model: type[Model]) -> Model:
    if not isinstance(payload, dict):
        raise ValidationFailed("Treść żądania musi być obiektem JSON.")
    if _depth(payload) > MAX_DEPTH:
        raise JsonTooDeep()
    if _has_nul(payload):
        # PostgreSQL text cannot hold NUL; no legitimate value contains it.
        raise ValidationFailed("Przesłane dane zawierają niedozwolony znak (NUL).")
    if _has_lone_surrogate(payload):
        # "\ud800" parses, but no UTF-8 column, log or e-mail can hold it.
        raise ValidationFailed(
            "Przesłane dane zawierają niedozwolony znak (niesparowany znak zastępczy UTF-16)."
        )
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise ValidationFailed(details=_field_errors(error)) from None


def _depth(value: object) -> int:
    """How deep containers nest (``{"a": 1}`` is 1), walked without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _strings(value: object):
    """Every string of a parsed document, keys included (the depth is already bounded)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _strings(key)
            yield from _strings(child)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _has_nul(value: object) -> bool:
    return any("\x00" in text for text in _strings(value))


def _has_lone_surrogate(value: object) -> bool:
    for text in _strings(value):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return True
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
