"""BackendClient: HTTP details and error mapping, against a live fake backend."""

from __future__ import annotations

import pytest

from actions import backend_client
from actions.backend_client import (
    BackendClient,
    BackendError,
    BackendUnavailable,
    CodeRequestAccepted,
    CodeRequestLimited,
    PasswordResetAccepted,
    get_backend_client,
    mask_email,
    set_backend_client_factory,
)
from tests.actions.helpers import SERVICE_TOKEN


def client_for(url: str, timeout: float = 2.0) -> BackendClient:
    return BackendClient(url + "/", SERVICE_TOKEN, timeout)  # trailing slash is tolerated


async def test_accepted(fake_backend):
    result = await client_for(fake_backend.url).request_password_reset("jan@firma.pl")

    assert result == PasswordResetAccepted(status="accepted")
    [request] = fake_backend.requests
    assert (request.method, request.path) == ("POST", "/api/v1/auth/password-reset")
    assert request.authorization == f"Bearer {SERVICE_TOKEN}"
    assert request.json == {"email": "jan@firma.pl"}


async def test_error_body_is_parsed(fake_backend):
    fake_backend.reply_error(429, "rate_limited", "Zbyt wiele prób.")

    with pytest.raises(BackendError) as caught:
        await client_for(fake_backend.url).request_password_reset("jan@firma.pl")

    assert (caught.value.status, caught.value.code, caught.value.message) == (
        429,
        "rate_limited",
        "Zbyt wiele prób.",
    )


async def test_grant_and_idempotency_key_travel_as_headers(fake_backend):
    fake_backend.reply(200, {"status": "changed"})

    body = await client_for(fake_backend.url).change_package("grant-abc", "silver", "key-1")

    assert body == {"status": "changed"}
    [request] = fake_backend.requests
    assert (request.method, request.path) == ("POST", "/api/v1/account/subscription/change")
    assert request.headers["X-Verification-Grant"] == "grant-abc"
    assert request.headers["Idempotency-Key"] == "key-1"
    assert request.json == {"package": "silver"}


async def test_calls_without_a_grant_send_no_grant_header(fake_backend):
    fake_backend.reply(200, {"packages": [], "note": ""})

    await client_for(fake_backend.url).packages()

    [request] = fake_backend.requests
    assert (request.method, request.path) == ("GET", "/api/v1/packages")
    assert "X-Verification-Grant" not in request.headers
    assert request.json is None


async def test_member_paths_take_only_integer_ids(fake_backend):
    fake_backend.reply(200, {"status": "removed"})
    client = client_for(fake_backend.url)

    await client.remove_member("g", 42)
    await client.change_member_email("g", None, "nowy@firma.pl", "k")

    assert [(r.method, r.path) for r in fake_backend.requests] == [
        ("DELETE", "/api/v1/organisation/members/42"),
        ("POST", "/api/v1/organisation/members/me/email-change"),
    ]
    with pytest.raises(ValueError):
        await client.remove_member("g", "1/../../admin")  # type: ignore[arg-type]


async def test_validation_details_are_kept(fake_backend):
    details = [{"field": "nip", "code": "invalid_nip", "message": "Nieprawidłowy NIP."}]
    fake_backend.reply(422, {"error": {"code": "validation_error", "message": "x", "details": details}})

    with pytest.raises(BackendError) as caught:
        await client_for(fake_backend.url).resend_activation("jan@firma.pl")

    assert caught.value.details == details


async def test_error_without_json_body_gets_a_code(fake_backend):
    fake_backend.reply(403, raw_body="Forbidden")

    with pytest.raises(BackendError) as caught:
        await client_for(fake_backend.url).request_password_reset("jan@firma.pl")

    assert (caught.value.status, caught.value.code, caught.value.message) == (403, "http_403", "")


async def test_5xx_is_unavailable(fake_backend):
    fake_backend.reply(503, raw_body="maintenance")

    with pytest.raises(BackendUnavailable) as caught:
        await client_for(fake_backend.url).request_password_reset("jan@firma.pl")

    assert (caught.value.reason, caught.value.status) == ("server_error", 503)


async def test_connection_refused_is_unavailable(closed_port_url):
    with pytest.raises(BackendUnavailable) as caught:
        await client_for(closed_port_url).request_password_reset("jan@firma.pl")

    assert caught.value.reason == "network_error"


async def test_timeout_is_unavailable(fake_backend):
    fake_backend.delay_seconds = 2.0

    with pytest.raises(BackendUnavailable) as caught:
        await client_for(fake_backend.url, timeout=0.3).request_password_reset("jan@firma.pl")

    assert caught.value.reason == "timeout"


def test_default_factory_reads_environment(monkeypatch):
    monkeypatch.setenv("BACKEND_URL", "http://backend.internal:9000/")
    monkeypatch.setenv("BACKEND_SERVICE_TOKEN", "from-env")
    monkeypatch.setenv("BACKEND_TIMEOUT_SECONDS", "4")
    monkeypatch.delenv("POMOCNIK_ENV", raising=False)
    set_backend_client_factory(None)

    client = get_backend_client()

    assert client.base_url == "http://backend.internal:9000"
    assert client._token == "from-env"
    assert (client.timeout.read, client.timeout.connect) == (4.0, 3.0)


def test_factory_can_be_replaced_and_restored():
    replacement = BackendClient("http://127.0.0.1:1", "t", 1)
    set_backend_client_factory(lambda: replacement)
    try:
        assert get_backend_client() is replacement
    finally:
        set_backend_client_factory(None)
    assert backend_client._client_factory is backend_client._default_factory


def test_mask_email():
    assert mask_email("jan.kowalski@firma.pl") == "j***@firma.pl"
    assert mask_email("no-at-sign") == "***"


# --- verification codes: the typed outcome and who asks --------------------------------------


async def test_a_code_request_sends_the_requester_and_is_accepted(fake_backend):
    fake_backend.reply(202, {"status": "accepted"})
    requester = {"conversation": "conv-1", "network": "203.0.113.0/24"}

    outcome = await client_for(fake_backend.url).request_verification_code(
        "jan@firma.pl", requester
    )

    assert outcome == CodeRequestAccepted()
    [request] = fake_backend.requests
    assert (request.method, request.path) == ("POST", "/api/v1/verification/codes")
    assert request.json == {"email": "jan@firma.pl", "requester": requester}


@pytest.mark.parametrize(
    "details, seconds, minutes",
    [
        ({"retry_after_seconds": 600}, 600, 10),
        ({"retry_after_seconds": 61}, 61, 2),  # rounded up
        ({"retry_after_seconds": 1}, 1, 1),
        ({"retry_after_seconds": 0}, 0, 1),  # never "za 0 min."
        ({}, None, None),
        ({"retry_after_seconds": "soon"}, None, None),
    ],
)
async def test_a_refused_code_request_is_an_outcome_not_an_error(
    fake_backend, details, seconds, minutes
):
    fake_backend.reply(
        429,
        {"error": {"code": "verification_codes_limited", "message": "…", "details": details}},
    )

    outcome = await client_for(fake_backend.url).request_verification_code(
        "jan@firma.pl", {"conversation": "conv-1"}
    )

    assert outcome == CodeRequestLimited(retry_after_seconds=seconds)
    assert outcome.retry_after_minutes == minutes
    assert fake_backend.requests[0].json == {
        "email": "jan@firma.pl",
        "requester": {"conversation": "conv-1"},
    }


async def test_other_code_request_errors_still_raise(fake_backend):
    fake_backend.reply_error(422, "validation_error", "Nieprawidłowy adres.")

    with pytest.raises(BackendError) as caught:
        await client_for(fake_backend.url).request_verification_code("x@y.pl")

    assert caught.value.status == 422
    assert fake_backend.requests[0].json == {"email": "x@y.pl"}  # no requester given: omitted


async def test_registration_and_activation_resend_carry_the_requester(fake_backend):
    fake_backend.reply(202, {"status": "accepted"})
    requester = {"conversation": "conv-2", "network": "2001:db8:1:2::/64"}
    client = client_for(fake_backend.url)

    await client.resend_activation("anna@firma.pl", requester)
    await client.register({"email": "anna@firma.pl", "pin": "1234"}, "key-7", requester)

    resend, register = fake_backend.requests
    assert (resend.path, resend.json) == (
        "/api/v1/auth/activation/resend",
        {"email": "anna@firma.pl", "requester": requester},
    )
    assert (register.path, register.json) == (
        "/api/v1/registrations",
        {"email": "anna@firma.pl", "pin": "1234", "requester": requester},
    )
    assert register.headers["Idempotency-Key"] == "key-7"
