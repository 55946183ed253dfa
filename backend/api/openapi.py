"""The OpenAPI 3.1 document of the backend, built from the application's own route table.

``GET /api/v1/openapi.json`` walks ``app.router.routes`` (every blueprint, whoever wrote it), so a
route can never be missing from the document. For each handler it unwraps the decorator chain
(``functools.wraps`` leaves ``__wrapped__``) and reads, in this order of trust:

1. explicit annotations from this module: ``@body(Model)``, ``@responds(status, Model)``,
   ``@raises(SomeDomainError, ...)`` and ``@secured("deviceToken")`` (any position in the
   decorator stack);
2. the guards it is wrapped in, recognised by their wrapper's code object, not by name:
   ``require_service_token`` (bearer service token, 401), ``require_grant`` (plus the
   ``X-Verification-Grant`` header), ``idempotent`` (the ``Idempotency-Key`` header, 409/422), and
   any wrapper whose qualified name mentions a device (the ``Device`` token); more can be added
   with ``register_guard``;
3. the handler's own source (``ast``): ``parse_json(request, Model)`` / ``validate(payload, Model)``
   give the JSON request body from the pydantic model, ``request.args.get("x")`` query parameters,
   ``request.form`` a form body, ``request.headers.get("x")`` header parameters, ``status=NNN``
   literals the response codes, ``raise SomeDomainError(...)`` the errors it raises itself, and a
   call to a ``*device_token*`` function the ``Device`` token; helpers of the same module that the
   handler calls are read too (two levels deep).

Every operation also documents ``default``: the error envelope every error leaves in
(``{"error": {"code", "message", "details"}}``), so errors raised deep in a service are described
too. Nothing here changes how a request is handled; the annotations only record metadata.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import CodeType, FunctionType
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from sanic import Blueprint, Request, Sanic, json
from sanic import response as sanic_response

from backend import errors as domain_errors
from backend.api import idempotency, service_auth

OPENAPI_PATH = "/api/v1/openapi.json"
OPENAPI_VERSION = "3.1.0"
_ATTRIBUTE = "__openapi__"
_SCHEMA_REF = "#/components/schemas/{model}"

bp = Blueprint("openapi")


# --- annotations other modules may use ---------------------------------------------------------


def _annotations(handler: Callable) -> dict[str, Any]:
    notes = handler.__dict__.get(_ATTRIBUTE)
    if notes is None:
        notes = {"responses": {}, "raises": []}
        setattr(handler, _ATTRIBUTE, notes)
    return notes


def body(model: type[BaseModel]):
    """Declare the JSON request body's pydantic model (otherwise inferred from ``parse_json``)."""

    def decorator(handler):
        _annotations(handler)["body"] = model
        return handler

    return decorator


def responds(status: int, model: type[BaseModel] | None = None, *, description: str | None = None):
    """Declare a success response and, optionally, its pydantic model."""

    def decorator(handler):
        _annotations(handler)["responses"][status] = (model, description)
        return handler

    return decorator


def secured(*schemes: str):
    """Declare the security schemes a handler checks itself (names from ``SECURITY_SCHEMES``)."""

    def decorator(handler):
        _annotations(handler).setdefault("security", []).extend(schemes)
        return handler

    return decorator


def raises(*error_types: type[domain_errors.DomainError]):
    """Declare domain errors raised below the handler (in services): its source cannot show them."""

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
register_guard(
    idempotency.idempotent("openapi-probe"),
    errors=[domain_errors.IdempotencyInProgress, domain_errors.IdempotencyKeyReused],
    headers=[
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Repeating a request with the same key (up to 100 printable characters) "
            "returns the first answer again, marked with `Idempotent-Replayed: true`.",
            "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH},
        }
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
_DEVICE_HINT = re.compile("device", re.IGNORECASE)
# A handler calling e.g. ``_device_token(request)`` authenticates the device itself.
_DEVICE_TOKEN_CALL = re.compile("device_token", re.IGNORECASE)
# Headers described by the security schemes rather than as parameters.
_SECURITY_HEADERS = {"authorization", service_auth.GRANT_HEADER}

_BODY_ERRORS = (
    domain_errors.MalformedJson,
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


# --- reading a handler ------------------------------------------------------------------------


@dataclass
class _HandlerFacts:
    summary: str | None = None
    description: str | None = None
    security: list[str] = field(default_factory=list)
    headers: list[dict[str, Any]] = field(default_factory=list)
    errors: list[type[domain_errors.DomainError]] = field(default_factory=list)
    body_model: type[BaseModel] | None = None
    form_fields: list[str] | None = None
    query: list[str] = field(default_factory=list)
    header_names: list[str] = field(default_factory=list)
    statuses: set[int] = field(default_factory=set)
    bare_response: bool = False  # a response built without an explicit status (so 200)
    dynamic_status: bool = False  # a response whose status is computed (documented as 2XX)
    media_type: str = "application/json"
    responses: dict[int, tuple[type[BaseModel] | None, str | None]] = field(default_factory=dict)


def _chain(handler: Callable) -> list[Callable]:
    layers, layer = [], handler
    while layer is not None and layer not in layers:
        layers.append(layer)
        layer = getattr(layer, "__wrapped__", None)
    return layers


def _facts(handler: Callable) -> _HandlerFacts:
    layers = _chain(handler)
    innermost = layers[-1]
    facts = _HandlerFacts()
    doc = inspect.getdoc(innermost)
    if doc:
        facts.summary, _, rest = doc.partition("\n")
        facts.description = rest.strip() or None

    codes = {layer.__code__ for layer in layers if isinstance(layer, FunctionType)}
    for guard in _GUARDS:
        if guard.codes and guard.codes <= codes:
            facts.security += [s for s in guard.security if s not in facts.security]
            facts.errors += guard.errors
            facts.headers += guard.headers
    for layer in layers[:-1]:
        code = getattr(layer, "__code__", None)
        if code is not None and _DEVICE_HINT.search(code.co_qualname):
            if "deviceToken" not in facts.security:
                facts.security.append("deviceToken")
                facts.errors.append(domain_errors.Unauthorized)

    _read_source(innermost, facts)

    seen: list[dict] = []
    for layer in reversed(layers):  # outer annotations win
        notes = getattr(layer, _ATTRIBUTE, None)
        # functools.wraps copies the (same) dict onto every outer layer: read each one once.
        if not notes or any(notes is other for other in seen):
            continue
        seen.append(notes)
        if notes.get("body") is not None:
            facts.body_model = notes["body"]
        facts.responses.update(notes["responses"])
        facts.errors += notes["raises"]
        facts.security += [s for s in notes.get("security", ()) if s not in facts.security]
    if facts.body_model is not None:
        facts.errors += _BODY_ERRORS
    return facts


def _read_source(
    function: Callable, facts: _HandlerFacts, *, depth: int = 0, seen: set[Callable] | None = None
) -> None:
    """Read the handler's source; same-module helpers it calls are read too (two levels deep),
    but only for what the request carries (body, query, form, headers) and what they raise."""
    seen = seen if seen is not None else set()
    seen.add(function)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return
    helper = depth > 0
    scope = dict(getattr(function, "__globals__", {}))
    form_names: set[str] = set()
    calls_json = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _mentions_form(node.value):
            form_names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node.func)
            calls_json |= name == "json"
            if not helper:
                has_status, status = _status_keyword(node)
                if status is not None:
                    facts.statuses.add(status)
                elif has_status:
                    facts.dynamic_status = True
                elif name in ("json", "html", "text", "raw"):
                    facts.bare_response = True
                elif name == "empty":
                    facts.statuses.add(204)
            if name and _DEVICE_TOKEN_CALL.search(name) and "deviceToken" not in facts.security:
                facts.security.append("deviceToken")
            if name in ("parse_json", "validate") and len(node.args) >= 2:
                model = _resolve(node.args[1], scope)
                if isinstance(model, type) and issubclass(model, BaseModel):
                    facts.body_model = model
            if name in ("get", "getlist") and node.args:
                receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
                key = _constant(node.args[0], scope)
                if not isinstance(key, str):
                    pass
                elif _is_request_attr(receiver, "args"):
                    if key not in facts.query:
                        facts.query.append(key)
                elif _is_request_attr(receiver, "headers"):
                    if (
                        key.lower() not in _SECURITY_HEADERS
                        and key.lower() not in facts.header_names
                    ):
                        facts.header_names.append(key.lower())
                elif receiver is not None and (
                    _mentions_form(receiver)
                    or (isinstance(receiver, ast.Name) and receiver.id in form_names)
                ):
                    facts.form_fields = (facts.form_fields or []) + [key]
            callee = _resolve(node.func, scope) if isinstance(node.func, ast.Name) else None
            if (
                depth < 2
                and isinstance(callee, FunctionType)
                and callee not in seen
                and callee.__module__ == function.__module__
            ):
                _read_source(callee, facts, depth=depth + 1, seen=seen)
        elif isinstance(node, ast.Subscript) and _is_request_attr(node.value, "args"):
            key = _constant(node.slice, scope)
            if isinstance(key, str) and key not in facts.query:
                facts.query.append(key)
        elif isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            error = _resolve(target, scope)
            if isinstance(error, type) and issubclass(error, domain_errors.DomainError):
                facts.errors.append(error)
        elif _is_request_attr(node, "form") and facts.form_fields is None:
            facts.form_fields = []
    if not helper and not calls_json and scope.get("html") is sanic_response.html:
        facts.media_type = "text/html"


def _constant(node: ast.expr, scope: dict[str, Any]) -> Any:
    """A literal, or a module-level constant it names (``HEADER = "idempotency-key"``)."""
    if isinstance(node, ast.Constant):
        return node.value
    value = _resolve(node, scope)
    return value if isinstance(value, (str, int)) else None


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _status_keyword(call: ast.Call) -> tuple[bool, int | None]:
    """Whether the call passes ``status=``, and its value when it is a literal."""
    for keyword in call.keywords:
        if keyword.arg == "status":
            value = keyword.value
            literal = isinstance(value, ast.Constant) and isinstance(value.value, int)
            return True, value.value if literal else None
    return False, None


def _is_request_attr(node: ast.AST | None, attr: str) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == attr
        and isinstance(node.value, ast.Name)
        and node.value.id == "request"
    )


def _mentions_form(node: ast.AST) -> bool:
    return any(_is_request_attr(child, "form") for child in ast.walk(node))


def _resolve(node: ast.expr, scope: dict[str, Any]) -> Any:
    """A Name or dotted Attribute looked up in the handler's module globals."""
    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, scope)
        return getattr(owner, node.attr, None) if owner is not None else None
    return None


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


def _header_title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


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
    parameters = list(path_parameters)
    parameters += [
        {"name": key, "in": "query", "required": False, "schema": {"type": "string"}}
        for key in facts.query
    ]
    parameters += facts.headers
    declared = {p["name"].lower() for p in facts.headers}
    parameters += [
        {
            "name": _header_title(name),
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
        }
        for name in facts.header_names
        if name not in declared
    ]
    if parameters:
        operation["parameters"] = parameters
    operation["security"] = [{scheme: [] for scheme in facts.security}] if facts.security else []

    if facts.body_model is not None and method in ("POST", "PUT", "PATCH", "DELETE"):
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

    responses: dict[str, Any] = {}
    success = {s for s in facts.statuses if s < 400} | set(facts.responses)
    if facts.bare_response or not success:
        success.add(200)
    success_keys: list[int | str] = sorted(success)
    if facts.dynamic_status and not facts.responses:
        success_keys.append("2XX")
    for status in success_keys:
        model, description = facts.responses.get(status, (None, None))
        response: dict[str, Any] = {"description": description or "Success."}
        if status != 204:
            if facts.media_type == "text/html":
                response["content"] = {"text/html": {"schema": {"type": "string"}}}
            else:
                schema = schema_of(model, "serialization") if model else {"type": "object"}
                response["content"] = {"application/json": {"schema": schema}}
        responses[str(status)] = response

    error_codes: dict[int, list[str]] = {}
    for error in facts.errors:
        error_codes.setdefault(error.status, []).append(error.code)
    if facts.body_model is not None:
        error_codes.setdefault(413, []).extend(_FRAMEWORK_ERRORS[413])
    if path_parameters:
        error_codes.setdefault(404, []).extend(_FRAMEWORK_ERRORS[404])
    for status in sorted(s for s in facts.statuses if s >= 400):
        if facts.media_type == "text/html":
            responses[str(status)] = {
                "description": "An error page.",
                "content": {"text/html": {"schema": {"type": "string"}}},
            }
        else:
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
