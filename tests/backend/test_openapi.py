"""The OpenAPI document: complete (every route of the app), and what it infers is right."""

import re

import pytest
from pydantic import BaseModel, Field
from sanic import Blueprint, Request, Sanic, empty, html, json

from backend.api import openapi
from backend.api.idempotency import idempotent
from backend.api.openapi import (
    HTML,
    OPENAPI_PATH,
    build_document,
    form_body,
    header,
    json_body,
    query,
    raises,
    responds,
    secured,
)
from backend.api.service_auth import require_grant, require_service_token
from backend.errors import Conflict, NotFound, UnsupportedMediaType, ValidationFailed

METHODS = {"get", "post", "put", "patch", "delete"}


def openapi_path(uri: str) -> str:
    return re.sub(r"<([A-Za-z_][A-Za-z0-9_]*)(?::[^>]+)?>", r"{\1}", uri)


@pytest.fixture
async def document(http, backend):
    response = await http.get(OPENAPI_PATH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


async def test_every_route_of_the_app_is_documented_and_nothing_else(backend, document):
    registered = {
        (openapi_path(route.uri), method.lower())
        for route in backend.app.router.routes
        for method in route.methods
    }
    documented = {(path, method) for path, method, _ in operations(document)}
    assert documented == registered
    assert {
        ("/api/v1/packages", "get"),
        ("/api/v1/account/subscription", "get"),
        ("/api/v1/account/subscription/change", "post"),
        ("/api/v1/auth/login", "post"),
        (OPENAPI_PATH, "get"),
        ("/health", "get"),
    } <= documented
    assert len({op["operationId"] for _, _, op in operations(document)}) == len(documented)


async def test_document_shape(document):
    assert document["openapi"] == "3.1.0"
    schemes = document["components"]["securitySchemes"]
    assert schemes["serviceToken"] == {
        **schemes["serviceToken"],
        "type": "http",
        "scheme": "bearer",
    }
    assert schemes["verificationGrant"]["name"] == "X-Verification-Grant"
    assert schemes["verificationGrant"]["in"] == "header"
    assert schemes["deviceToken"]["scheme"] == "Device"
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert set(error["properties"]["error"]["properties"]) == {"code", "message", "details"}
    for path, method, operation in operations(document):
        assert method in METHODS, (path, method)
        default = operation["responses"]["default"]["content"]["application/json"]["schema"]
        assert default == {"$ref": "#/components/schemas/Error"}, (path, method)
        assert any(code.startswith("2") for code in operation["responses"]), (path, method)


async def test_request_bodies_come_from_the_pydantic_models(document):
    schemas = document["components"]["schemas"]

    def body_schema(path, method="post"):
        content = document["paths"][path][method]["requestBody"]["content"]
        return content["application/json"]["schema"]

    assert body_schema("/api/v1/auth/login") == {"$ref": "#/components/schemas/LoginRequest"}
    login = schemas["LoginRequest"]
    assert set(login["required"]) == {"email", "password"}
    assert login["properties"]["email"]["maxLength"] == 254
    assert login["additionalProperties"] is False
    change = schemas["SubscriptionChangeRequest"]
    assert change["required"] == ["package"]
    assert schemas["PackageCode"]["enum"] == ["green", "silver", "gold"]
    # Reset forms opened from e-mails are form posts, not JSON.
    form = document["paths"]["/reset-password"]["post"]["requestBody"]["content"]
    assert set(form["application/x-www-form-urlencoded"]["schema"]["properties"]) == {
        "token",
        "password",
        "password_confirm",
    }


async def test_security_and_error_codes_per_operation(document):
    paths = document["paths"]
    assert paths["/api/v1/packages"]["get"]["security"] == []
    assert paths["/api/v1/auth/login"]["post"]["security"] == []
    assert paths["/api/v1/auth/password-reset"]["post"]["security"] == [{"serviceToken": []}]
    change = paths["/api/v1/account/subscription/change"]["post"]
    assert change["security"] == [{"serviceToken": [], "verificationGrant": []}]
    assert [p["name"] for p in change["parameters"]] == ["Idempotency-Key"]
    responses = change["responses"]
    assert {"200", "401", "403", "404", "409", "415", "422"} <= set(responses)
    assert "`not_owner`" in responses["403"]["description"]
    assert "`same_package`" in responses["409"]["description"]
    assert "`verification_required`" in responses["401"]["description"]
    assert responses["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SubscriptionChangeOut"
    }
    catalogue = paths["/api/v1/packages"]["get"]["responses"]["200"]
    assert catalogue["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CatalogueOut"
    }
    reset = paths["/api/v1/auth/password-reset"]["post"]["responses"]
    assert "202" in reset and "200" not in reset
    page = paths["/reset-password"]["get"]
    assert "text/html" in page["responses"]["200"]["content"]
    assert [p["name"] for p in page["parameters"]] == ["token"]


async def test_the_change_quote_is_documented_like_the_change(document):
    quote = document["paths"]["/api/v1/account/subscription/change/quote"]["post"]
    assert quote["security"] == [{"serviceToken": [], "verificationGrant": []}]
    assert "parameters" not in quote  # no Idempotency-Key: the quote changes nothing
    content = quote["requestBody"]["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/SubscriptionChangeRequest"}
    responses = quote["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SubscriptionChangeQuoteOut"
    }
    assert "`not_owner`" in responses["403"]["description"]
    assert "`same_package`" in responses["409"]["description"]
    assert "`change_already_scheduled`" in responses["409"]["description"]
    assert "`verification_required`" in responses["401"]["description"]
    schemas = document["components"]["schemas"]
    assert "period_start" in schemas["PaymentOut"]["properties"]
    assert "monthly_price" in schemas["PackageOut"]["required"]


async def test_the_optional_requester_is_documented_with_the_limits(document):
    schemas = document["components"]["schemas"]
    requester = schemas["RequesterIn"]
    assert requester["additionalProperties"] is False
    assert "required" not in requester
    props = requester["properties"]
    assert props["conversation"]["anyOf"][0]["maxLength"] == 128
    assert props["network"]["anyOf"][0]["maxLength"] == 64
    for path, model, limited in (
        ("/api/v1/verification/codes", "CodeRequest", "verification_codes_limited"),
        ("/api/v1/registrations", "RegistrationBody", "licence_checks_suspended"),
        ("/api/v1/auth/activation/resend", "ResendRequest", "activation_resend_limited"),
    ):
        operation = document["paths"][path]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{model}"}
        field = schemas[model]["properties"]["requester"]
        assert {"$ref": "#/components/schemas/RequesterIn"} in field["anyOf"]
        assert "requester" not in schemas[model].get("required", [])
        assert f"`{limited}`" in operation["responses"]["429"]["description"], path


# --- what a route declares is what the document says ------------------------------------------


class WidgetBody(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    size: int


class WidgetOut(BaseModel):
    id: int


class AlreadyThere(Conflict):
    code = "widget_exists"


@pytest.fixture
def widget_app():
    bp = Blueprint("widgets_v1", url_prefix="/api/v1/widgets")

    @bp.post("/<widget_id:int>")
    @require_grant
    @idempotent("widgets")
    @query("dry_run", description="Only check.")
    @json_body(WidgetBody)
    @responds(201, WidgetOut)
    @responds(204, description="Checked only.")
    @raises(AlreadyThere)
    async def replace_widget(request: Request, widget_id: int, body: WidgetBody):
        """Replace a widget.

        Longer text."""
        if request.args.get("dry_run"):
            return empty()
        if body.size > 10:
            raise AlreadyThere()
        return json({"id": widget_id}, status=201)

    @bp.put("/plain")
    @require_service_token
    @json_body(WidgetBody)
    @responds(200)
    async def plain(request: Request, body: WidgetBody):
        return json({"name": body.name})

    @bp.get("/explicit")
    @responds(200, WidgetBody, description="One widget.")
    @raises(NotFound)
    async def explicit(request: Request):
        return json({"name": "x", "size": 1})

    @bp.get("/device")
    @secured("deviceToken")
    @header("X-Widget-Colour", schema={"type": "string", "enum": ["red", "blue"]})
    @responds(200)
    async def device(request: Request):
        return json({})

    @bp.post("/page")
    @form_body("token", "colour")
    @responds(200, media_type=HTML)
    @responds(400, media_type=HTML, description="Bad link.")
    async def page(request: Request, form: dict[str, str]):
        return html(f"<p>{form['token']}|{form['colour']}</p>")

    app = Sanic("widgets_openapi_test")
    app.blueprint(bp)
    app.blueprint(openapi.bp)
    yield app
    Sanic._app_registry.pop(app.name, None)


def test_a_declared_handler_is_described_from_its_declarations(widget_app):
    document = build_document(widget_app)
    operation = document["paths"]["/api/v1/widgets/{widget_id}"]["post"]
    assert operation["operationId"] == "widgets_v1.replace_widget"
    assert operation["summary"] == "Replace a widget."
    assert operation["description"] == "Longer text."
    assert operation["security"] == [{"serviceToken": [], "verificationGrant": []}]
    assert operation["parameters"][0] == {
        "name": "widget_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    assert [p["name"] for p in operation["parameters"][1:]] == ["dry_run", "Idempotency-Key"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WidgetBody"
    }
    widget = document["components"]["schemas"]["WidgetBody"]
    assert widget["properties"]["name"]["maxLength"] == 20 and set(widget["required"]) == {
        "name",
        "size",
    }
    responses = operation["responses"]
    assert set(responses) == {
        "201",
        "204",
        "400",
        "401",
        "404",
        "409",
        "413",
        "415",
        "422",
        "default",
    }
    assert responses["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WidgetOut"
    }
    assert "content" not in responses["204"]
    assert "`widget_exists`" in responses["409"]["description"]
    assert "`idempotency_in_progress`" in responses["409"]["description"]
    assert "`invalid_json`" in responses["400"]["description"]


def test_security_headers_forms_and_pages_are_declared(widget_app):
    paths = build_document(widget_app)["paths"]
    plain = paths["/api/v1/widgets/plain"]["put"]
    assert plain["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WidgetBody"
    }
    assert plain["security"] == [{"serviceToken": []}]
    assert plain["responses"]["200"]["content"]["application/json"]["schema"] == {"type": "object"}
    explicit = paths["/api/v1/widgets/explicit"]["get"]
    assert explicit["security"] == []
    assert "requestBody" not in explicit
    assert explicit["responses"]["200"]["description"] == "One widget."
    assert explicit["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WidgetBody"
    }
    assert "`not_found`" in explicit["responses"]["404"]["description"]
    device = paths["/api/v1/widgets/device"]["get"]
    assert device["security"] == [{"deviceToken": []}]
    assert device["parameters"] == [
        {
            "name": "X-Widget-Colour",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "enum": ["red", "blue"]},
        }
    ]
    page = paths["/api/v1/widgets/page"]["post"]
    form = page["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert set(form["properties"]) == {"token", "colour"}
    assert page["responses"]["200"]["content"] == {"text/html": {"schema": {"type": "string"}}}
    assert page["responses"]["400"]["description"] == "Bad link."
    assert set(paths) == {
        "/api/v1/widgets/{widget_id}",
        "/api/v1/widgets/plain",
        "/api/v1/widgets/explicit",
        "/api/v1/widgets/device",
        "/api/v1/widgets/page",
        OPENAPI_PATH,
    }


def test_a_route_without_a_declared_answer_is_refused():
    bp = Blueprint("undeclared")

    @bp.get("/undeclared")
    async def undeclared(request: Request):
        return json({})

    app = Sanic("undeclared_openapi_test")
    app.blueprint(bp)
    try:
        with pytest.raises(TypeError, match="undeclared.undeclared: declare at least one success"):
            build_document(app)
    finally:
        Sanic._app_registry.pop(app.name, None)


async def test_json_body_parses_into_the_model_and_refuses_bad_input():
    seen = []

    @json_body(WidgetBody)
    async def handler(request, body):
        seen.append(body)
        return json({"name": body.name})

    class FakeRequest:
        content_type = "application/json"
        body = b'{"name": "kubek", "size": 2}'

    await handler(FakeRequest())
    assert seen == [WidgetBody(name="kubek", size=2)]
    FakeRequest.body = b'{"name": "", "size": 2}'
    with pytest.raises(ValidationFailed) as refused:
        await handler(FakeRequest())
    assert refused.value.details[0]["field"] == "name"
    FakeRequest.content_type = "text/plain"
    with pytest.raises(UnsupportedMediaType):
        await handler(FakeRequest())


async def test_form_body_gives_every_named_field_as_a_string():
    seen = []

    @form_body("token", "colour")
    async def handler(request, form):
        seen.append(form)

    class FakeRequest:
        form = {"token": "abc", "other": "x"}

    await handler(FakeRequest())
    FakeRequest.form = None  # not a form post at all
    await handler(FakeRequest())
    assert seen == [{"token": "abc", "colour": ""}, {"token": "", "colour": ""}]


async def test_every_page_is_in_the_pages_module_and_every_json_answer_has_a_model(
    backend, document
):
    """The pages opened from e-mail links live in one module (backend/api/pages.py), and every
    JSON success answer but the document itself names its *Out model."""
    handlers = {
        (openapi_path(route.uri), method.lower()): route.handler
        for route in backend.app.router.routes
        for method in route.methods
    }
    for path, method, operation in operations(document):
        successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        page = any("text/html" in r.get("content", {}) for r in successes.values())
        module = handlers[(path, method)].__module__
        assert page == (module == "backend.api.pages"), (path, method, module)
        if page or path == OPENAPI_PATH:
            continue
        for status, response in successes.items():
            if status == "204":
                continue
            schema = response["content"]["application/json"]["schema"]
            assert "$ref" in schema, (path, method, status)
