"""action_request_password_reset against a live fake backend (real HTTP on loopback)."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ActionRequestPasswordReset
from tests.actions.helpers import SERVICE_TOKEN
from tests.actions.helpers import submitted_form_tracker

EMAIL = "jan.kowalski@majafirma.pl"


async def run_action(email):
    dispatcher = CollectingDispatcher()
    events = await ActionRequestPasswordReset().run(
        dispatcher, submitted_form_tracker(email), domain={}
    )
    return events, dispatcher.messages


async def test_accepted_request_reports_sent(fake_backend, use_backend):
    use_backend(fake_backend.url)

    events, messages = await run_action(EMAIL)

    assert events == [
        SlotSet("password_reset_status", "sent"),
        SlotSet("email", None),
        SlotSet("last_reset_email", EMAIL),
    ]
    assert messages == []  # the rules answer, see data/rules/account.yml
    assert len(fake_backend.requests) == 1
    request = fake_backend.requests[0]
    assert request.method == "POST"
    assert request.path == "/api/v1/auth/password-reset"
    assert request.authorization == f"Bearer {SERVICE_TOKEN}"
    assert request.content_type == "application/json"
    assert request.json == {"email": EMAIL}


async def test_address_is_normalised_before_sending(fake_backend, use_backend):
    use_backend(fake_backend.url)

    events, _ = await run_action("  Jan.Kowalski@MajaFirma.PL ")

    assert fake_backend.requests[0].json == {"email": EMAIL}
    assert SlotSet("last_reset_email", EMAIL) in events


async def test_rate_limited(fake_backend, use_backend):
    use_backend(fake_backend.url)
    fake_backend.reply_error(429, "rate_limited", "Zbyt wiele prób. Spróbuj później.")

    events, messages = await run_action(EMAIL)

    assert events == [SlotSet("password_reset_status", "rate_limited"), SlotSet("email", None)]
    assert messages == []
    assert len(fake_backend.requests) == 1


async def test_backend_validation_error_asks_again(fake_backend, use_backend):
    use_backend(fake_backend.url)
    fake_backend.reply_error(422, "validation_error", "Niepoprawny adres e-mail.")

    events, _ = await run_action(EMAIL)

    assert events == [SlotSet("password_reset_status", "invalid_email"), SlotSet("email", None)]


@pytest.mark.parametrize(
    ("status", "code"), [(401, "unauthorized"), (403, "forbidden"), (404, "not_found")]
)
async def test_other_client_errors_fail(fake_backend, use_backend, status, code):
    use_backend(fake_backend.url)
    fake_backend.reply_error(status, code, "Błąd.")

    events, _ = await run_action(EMAIL)

    assert events == [SlotSet("password_reset_status", "failed"), SlotSet("email", None)]


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_error_is_unavailable(fake_backend, use_backend, status):
    use_backend(fake_backend.url)
    fake_backend.reply(status, {"error": {"code": "internal", "message": "Błąd serwera."}})

    events, _ = await run_action(EMAIL)

    assert events == [SlotSet("password_reset_status", "unavailable"), SlotSet("email", None)]
    assert len(fake_backend.requests) == 1


async def test_closed_port_is_unavailable(closed_port_url, use_backend):
    use_backend(closed_port_url)

    events, messages = await run_action(EMAIL)

    assert events == [SlotSet("password_reset_status", "unavailable"), SlotSet("email", None)]
    assert messages == []


async def test_timeout_is_unavailable(fake_backend, use_backend):
    use_backend(fake_backend.url, timeout_seconds=0.3)
    fake_backend.delay_seconds = 2.0

    events, _ = await run_action(EMAIL)

    assert events == [SlotSet("password_reset_status", "unavailable"), SlotSet("email", None)]


@pytest.mark.parametrize("slot_value", [None, "", "jan.kowalski.majafirma.pl"])
async def test_invalid_slot_never_reaches_backend(fake_backend, use_backend, slot_value):
    use_backend(fake_backend.url)

    events, _ = await run_action(slot_value)

    assert events == [SlotSet("password_reset_status", "invalid_email"), SlotSet("email", None)]
    assert fake_backend.requests == []
