"""How a route declares what it reads and answers, and the OpenAPI 3.1 document built from that.

``GET /api/v1/openapi.json`` walks ``app.router.routes`` (every blueprint, whoever wrote it), so a
route can never be missing from the document. Nothing is inferred from a handler's code: every
route declares, in its decorator stack (``functools.wraps`` keeps the declarations reachable):

- what it reads: ``@json_body(Model)`` parses and validates the JSON body into the pydantic model
  and passes it to the handler as ``body=`` (the 400/413/415/422 body errors are then documented);
  ``@form_body("token", ...)`` passes the named form fields as ``form=`` (a dict of strings);
  ``@query("name", ...)`` and ``@header("Name", ...)`` document the parameters the handler reads;
- what it answers: ``@responds(status, Model)`` per status (a model for JSON, ``media_type=HTML``
  for the pages opened from e-mails; at least one 2xx is required, see ``build_document``); the
  handler maps its service's dataclass to that ``*Out`` model and sends it with ``answer(out)``;
- who may call: the guards it is wrapped in (``require_service_token``, ``require_grant``,
  ``idempotent``, anything passed to ``register_guard``) or ``@secured("deviceToken")`` for a
  handler that checks a credential itself;
- the domain errors raised below it: ``@raises(SomeDomainError, ...)``.

Every operation also documents ``default``: the error envelope every error leaves in
(``{"error": {"code", "message", "details"}}``), so errors raised deep in a service are described
too. Apart from ``json_body`` and ``form_body`` (which hand the handler its parsed input), the
declarations only record metadata.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps
from types import CodeType, FunctionType
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from sanic import Blueprint, HTTPResponse, Request, Sanic, json

from backend import errors as domain_errors
from backend.api import idempotency, service_auth
from backend.api.requests import JsonTooDeep, parse_json

OPENAPI_PATH = "/api/v1/openapi.json"
OPENAPI_VERSION = "3.1.0"
HTML = "text/html"
_ATTRIBUTE = "__openapi__"
_SCHEMA_REF = "#/components/schemas/{model}"

bp = Blueprint("openapi")


# --- declarations ------------------------------------------------------------------------------


def _annotations(handler: Callable) -> dict[str, Any]:
    notes = handler.__dict__.get(_ATTRIBUTE)
    if notes is None:
        notes = {"responses": {}, "raises": [], "parameters": []}
        setattr(handler, _ATTRIBUTE, notes)
    return notes


def json_body(model: type[BaseModel], *, parser: Callable[[Request], BaseModel] | None = None):
    """The JSON request body: parsed and validated into ``model`` (``parse_json``: a clear 4xx
    with a stable code for anything else) and given to the handler as ``body=``. ``parser``
    replaces ``parse_json(request, model)`` when a route refines the answer (its result must
    still be a ``model``)."""
    parse = parser or (lambda request: parse_json(request, model))

    def decorator(handler):
        @wraps(handler)
        async def with_json_body(request: Request, *args, **kwargs):
            return await handler(request, *args, body=parse(request), **kwargs)

        _annotations(with_json_body)["body"] = model
        return with_json_body

    return decorator


def form_body(*fields: str):
    """A form post (the pages opened from e-mails): the named fields, each a string ("" when
    missing), given to the handler as ``form=``."""

    def decorator(handler):
        @wraps(handler)
        async def with_form_body(request: Request, *args, **kwargs):
            raw = request.form or {}
            form = {name: raw.get(name, "") or "" for name in fields}
            return await handler(request, *args, form=form, **kwargs)

        _annotations(with_form_body)["form"] = list(fields)
        return with_form_body

    return decorator


def _parameter(location: str, name: str, schema, description, required) -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": location, "required": required}
    if description:
        parameter["description"] = description
    parameter["schema"] = schema or {"type": "string"}
    return parameter


def _reads_parameter(location: str, name: str, schema, description, required):
    """A decorator recording one parameter the handler reads itself."""

    def decorator(handler):
        _annotations(handler)["parameters"].append(
            _parameter(location, name, schema, description, required)
        )
        return handler

    return decorator


def query(
    name: str,
    *,
    schema: dict[str, Any] | None = None,
    description: str | None = None,
    required: bool = False,
):
    """A query parameter the handler reads (``request.args``); a string unless ``schema``."""
    return _reads_parameter("query", name, schema, description, required)


def header(
    name: str,
    *,
    schema: dict[str, Any] | None = None,
    description: str | None = None,
    required: bool = False,
):
    """A request header the handler reads itself (not one a security scheme describes)."""
    return _reads_parameter("header", name, schema, description, required)


def responds(
    status: int,
    model: type[BaseModel] | None = None,
    *,
    description: str | None = None,
    media_type: str = "application/json",
):
    """Declare a response: its status, and for JSON its pydantic model (without one, any object;
    204 has no content); ``media_type=HTML`` for a page."""

    def decorator(handler):
        _annotations(handler)["responses"][status] = (model, description, media_type)
        return handler

    return decorator


def answer(
    out: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> HTTPResponse:
    """The JSON answer of a handler: its ``*Out`` model (the one ``@responds`` names), dumped."""
    return json(out.model_dump(mode="json"), status=status, headers=headers)


def secured(*schemes: str):
    """Declare the security schemes a handler checks itself (names from ``SECURITY_SCHEMES``)."""

    def decorator(handler):
        _annotations(handler).setdefault("security", []).extend(schemes)
        return handler

    return decorator


def raises(*error_types: type[domain_errors.DomainError]):
    """Declare the domain errors a handler (or the services below it) may raise."""

    def decorator(handler):
        _annotations(handler)["raises"].extend(error_types)
        return handler

    return decorator


# --- guards ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Guard:
    codes: frozenset[CodeType]
    security: tuple[str, ...] = ()
    errors: tuple[type[domain_errors.DomainError], ...] = ()
    headers: tuple[dict[str, Any], ...] = ()


async def _probe(request):  # pragma: no cover - only decorated, never called
    return None


def _wrapper_codes(decorated: Callable) -> frozenset[CodeType]:
    codes = set()
    layer = decorated
    while layer is not _probe and isinstance(layer, FunctionType):
        codes.add(layer.__code__)
        layer = getattr(layer, "__wrapped__", None)
    return frozenset(codes)


_GUARDS: list[Guard] = []


def register_guard(
    decorator: Callable[[Callable], Callable],
    *,
    security: Iterable[str] = (),
    errors: Iterable[type[domain_errors.DomainError]] = (),
    headers: Iterable[dict[str, Any]] = (),
) -> None:
    """Teach the document a decorator: a handler wrapped in it needs ``security``, may fail with
    ``errors``, and takes ``headers``. It is recognised by its wrappers' code objects."""
    _GUARDS.append(
        Guard(_wrapper_codes(decorator(_probe)), tuple(security), tuple(errors), tuple(headers))
    )


register_guard(
    service_auth.require_service_token,
    security=["serviceToken"],
    errors=[domain_errors.Unauthorized],
)
register_guard(
    service_auth.require_grant,
    security=["serviceToken", "verificationGrant"],
    errors=[domain_errors.VerificationRequired],
)
IDEMPOTENCY_KEY_DESCRIPTION = (
    "Repeating a request with the same key (up to 100 printable characters) returns the first "
    "answer again, marked with `Idempotent-Replayed: true`."
)
IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH}

register_guard(
    idempotency.idempotent("openapi-probe"),
    errors=[domain_errors.IdempotencyInProgress, domain_errors.IdempotencyKeyReused],
    headers=[
        _parameter(
            "header", "Idempotency-Key", IDEMPOTENCY_KEY_SCHEMA, IDEMPOTENCY_KEY_DESCRIPTION, False
        )
    ],
)

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "serviceToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The action server's shared service token: "
        "`Authorization: Bearer <BACKEND_SERVICE_TOKEN>`. Missing or wrong: 401 `unauthorized`.",
    },
    "verificationGrant": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Verification-Grant",
        "description": "A live verification grant (proof that the chat user controls the "
        "account's mailbox, 15 minutes). The account it names is the only identity the backend "
        "trusts. Missing, expired or unknown: 401 `verification_required`.",
    },
    "deviceToken": {
        "type": "http",
        "scheme": "Device",
        "description": "The trusted mobile device's token: `Authorization: Device <token>`.",
    },
}
_BODY_ERRORS = (
    domain_errors.MalformedJson,
    JsonTooDeep,
    domain_errors.UnsupportedMediaType,
    domain_errors.ValidationFailed,
)
# Statuses the framework answers for a body (see api/errors.py) with their stable codes.
_FRAMEWORK_ERRORS = {413: ["payload_too_large"], 404: ["not_found"]}

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error: a stable snake_case code for programs, a Polish message for "
    "people, and optional details (e.g. the fields that failed validation).",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                "message": {"type": "string", "minLength": 1},
                "details": {},
            },
        }
    },
}


# --- what a handler declared ------------------------------------------------------------------


@dataclass
class _HandlerFacts:
    summary: str | None = None
    description: str | None = None
    security: list[str] = field(default_factory=list)
    parameters: list[dict[str, Any]] = field(default_factory=list)
    errors: list[type[domain_errors.DomainError]] = field(default_factory=list)
    body_model: type[BaseModel] | None = None
    form_fields: list[str] | None = None
    responses: dict[int, tuple[type[BaseModel] | None, str | None, str]] = field(
        default_factory=dict
    )


def _chain(handler: Callable) -> list[Callable]:
    layers, layer = [], handler
    while layer is not None and layer not in layers:
        layers.append(layer)
        layer = getattr(layer, "__wrapped__", None)
    return layers


def _facts(handler: Callable) -> _HandlerFacts:
    """What the route declared: its guards (by their wrappers' code) and its annotations."""
    layers = _chain(handler)
    facts = _HandlerFacts()
    doc = inspect.getdoc(layers[-1])
    if doc:
        facts.summary, _, rest = doc.partition("\n")
        facts.description = rest.strip() or None

    codes = {layer.__code__ for layer in layers if isinstance(layer, FunctionType)}
    for guard in _GUARDS:
        if guard.codes and guard.codes <= codes:
            facts.security += [s for s in guard.security if s not in facts.security]
            facts.errors += guard.errors
            facts.parameters += guard.headers

    seen: list[dict] = []
    for layer in reversed(layers):  # outer annotations win
        notes = getattr(layer, _ATTRIBUTE, None)
        # functools.wraps copies the (same) dict onto every outer layer: read each one once.
        if not notes or any(notes is other for other in seen):
            continue
        seen.append(notes)
        if notes.get("body") is not None:
            facts.body_model = notes["body"]
        if notes.get("form") is not None:
            facts.form_fields = notes["form"]
        facts.responses.update(notes["responses"])
        facts.errors += notes["raises"]
        facts.parameters += [p for p in notes["parameters"] if p not in facts.parameters]
        facts.security += [s for s in notes.get("security", ()) if s not in facts.security]
    if facts.body_model is not None:
        facts.errors += _BODY_ERRORS
    return facts


# --- the document ------------------------------------------------------------------------------

_PARAM = re.compile(r"<(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<label>[^>]+))?>")
_PARAM_SCHEMAS = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
    "ymd": {"type": "string", "format": "date"},
}


def _path_and_parameters(uri: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = []
    for match in _PARAM.finditer(uri):
        label = match["label"] or "str"
        schema = _PARAM_SCHEMAS.get(label, {"type": "string", "pattern": "^[^/]+$"})
        parameters.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
    path = _PARAM.sub(lambda m: "{" + m["name"] + "}", uri) or "/"
    return path, parameters


def _error_response(status: int, codes: list[str]) -> dict[str, Any]:
    listed = ", ".join(f"`{code}`" for code in dict.fromkeys(codes))
    return {
        "description": f"Error {status}: {listed}." if listed else f"Error {status}.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def build_document(app: Sanic) -> dict[str, Any]:
    """The OpenAPI document for every route registered on ``app``."""
    operations: list[tuple[str, str, dict[str, Any]]] = []
    models: dict[tuple[type[BaseModel], str], None] = {}
    pending_refs: list[tuple[dict[str, Any], type[BaseModel], str]] = []
    tags: set[str] = set()

    def schema_of(model: type[BaseModel], mode: str) -> dict[str, Any]:
        placeholder: dict[str, Any] = {}
        models[(model, mode)] = None
        pending_refs.append((placeholder, model, mode))
        return placeholder

    for route in sorted(app.router.routes, key=lambda r: r.uri):
        path, path_parameters = _path_and_parameters(route.uri)
        facts = _facts(route.handler)
        name = route.name.split(".", 1)[-1]
        tag = name.split(".", 1)[0].removesuffix("_v1") if "." in name else "default"
        tags.add(tag)
        for method in sorted(route.methods):
            operations.append(
                (
                    path,
                    method.lower(),
                    _operation(name, method, tag, facts, path_parameters, schema_of),
                )
            )

    key_map, definitions = models_json_schema(list(models), ref_template=_SCHEMA_REF)
    for placeholder, model, mode in pending_refs:
        placeholder.update(key_map[(model, mode)])
    schemas = dict(sorted(definitions.get("$defs", {}).items()))
    schemas["Error"] = ERROR_SCHEMA

    paths: dict[str, dict[str, Any]] = {}
    for path, method, operation in operations:
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "iKsięgowość24 account backend (Pomocnik)",
            "version": "1.0.0",
            "description": "The JSON API the assistant's action server calls, plus the pages "
            "opened from e-mails. Generated from the running application's route table. Errors "
            "always have the shape of `Error`; messages are in Polish, codes are stable.",
        },
        "tags": [{"name": tag} for tag in sorted(tags)],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def _operation(
    name: str,
    method: str,
    tag: str,
    facts: _HandlerFacts,
    path_parameters: list[dict[str, Any]],
    schema_of: Callable[[type[BaseModel], str], dict[str, Any]],
) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": name, "tags": [tag]}
    if facts.summary:
        operation["summary"] = facts.summary
    if facts.description:
        operation["description"] = facts.description
    locations = ("query", "header", "cookie")
    parameters = list(path_parameters) + sorted(
        facts.parameters, key=lambda p: locations.index(p["in"])
    )
    if parameters:
        operation["parameters"] = parameters
    operation["security"] = [{scheme: [] for scheme in facts.security}] if facts.security else []

    if facts.body_model is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema_of(facts.body_model, "validation")}},
        }
    elif facts.form_fields is not None:
        operation["requestBody"] = {
            "required": False,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            key: {"type": "string"} for key in dict.fromkeys(facts.form_fields)
                        },
                    }
                }
            },
        }

    if not any(200 <= status < 300 for status in facts.responses):
        raise TypeError(
            f"{name}: declare at least one success response with @responds(status, Model)"
        )
    responses: dict[str, Any] = {}
    for status, (model, description, media_type) in sorted(facts.responses.items()):
        if status >= 400 and media_type == "application/json" and model is None:
            continue  # an error in the common shape: listed with its codes below
        default = "Success." if status < 400 else "An error page."
        response: dict[str, Any] = {"description": description or default}
        if status != 204:
            if media_type == "application/json":
                schema = schema_of(model, "serialization") if model else {"type": "object"}
            else:
                schema = {"type": "string"}
            response["content"] = {media_type: {"schema": schema}}
        responses[str(status)] = response

    error_codes: dict[int, list[str]] = {}
    for error in facts.errors:
        error_codes.setdefault(error.status, []).append(error.code)
    if facts.body_model is not None:
        error_codes.setdefault(413, []).extend(_FRAMEWORK_ERRORS[413])
    if path_parameters:
        error_codes.setdefault(404, []).extend(_FRAMEWORK_ERRORS[404])
    for status, (model, _, media_type) in facts.responses.items():
        if status >= 400 and media_type == "application/json" and model is None:
            error_codes.setdefault(status, [])
    for status, codes in sorted(error_codes.items()):
        responses.setdefault(str(status), _error_response(status, codes))
    responses["default"] = {
        "description": "Any other error, in the common error shape.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    operation["responses"] = responses
    return operation


@bp.get(OPENAPI_PATH)
@responds(200, description="This OpenAPI 3.1 document.")
async def openapi_document(request: Request):
    """The OpenAPI document of this backend."""
    document = getattr(request.app.ctx, "openapi_document", None)
    if document is None:
        # Routes are fixed once the server runs, so the document is built once per process.
        document = request.app.ctx.openapi_document = build_document(request.app)
    return json(document, headers={"Cache-Control": "no-cache"})
