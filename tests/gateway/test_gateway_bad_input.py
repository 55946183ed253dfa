"""Hostile JSON never becomes a 500 or a silent socket: nesting far too deep, lone UTF-16
surrogates and NUL get a 400 with a stable code and a Polish message on every JSON route
(found by walking the app's routes, so a new route is covered without editing this test),
and an error acknowledgement on socket.io (the stock python-socketio client)."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from sqlalchemy import select

from bot.gateway.models import Conversation
from tests.gateway.conftest import serving_gateway
from tests.support.clock import FakeClock
from tests.support.console import ANNA, AdviserBrowser, add_agent

# ~14 KB: well under the 16 KiB body limit, thousands of levels deep.
DEEP = '{"text": ' + "[" * 7000 + "]" * 7000 + "}"
BARELY_TOO_DEEP = '{"text": "x", "a": ' + "[" * 32 + "]" * 32 + "}"
DEEP_ENOUGH = '{"text": "x", "a": ' + "[" * 31 + "]" * 31 + "}"
LONE_SURROGATE = '{"text": "ab\\ud800", "question": "q", "email": "a@b.pl", "score": 5}'
SURROGATE_KEY = '{"\\udfff": 1, "text": "x"}'
NUL = '{"text": "a\\u0000b", "question": "q", "email": "a@b.pl", "score": 5}'
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
PARAMETER = re.compile(r"<([a-z_]+)(?::([a-z]+))?>")


@pytest.fixture
async def running(stub_rasa, make_settings, database_url):
    async with serving_gateway(make_settings(stub_rasa.url), clock=FakeClock()) as (url, app):
        await add_agent(database_url, *ANNA)
        browser = AdviserBrowser(url)
        assert (await browser.login(ANNA[0])).status_code == 303
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=20) as http:
            session_id = (await http.post("/api/v1/conversations")).json()["conversation_id"]
            said = await http.post(f"/api/v1/conversations/{session_id}/messages",
                                   json={"text": "Dzień dobry"})
            assert said.status_code == 200
            async with app.ctx.sessions() as session:
                row_id = await session.scalar(
                    select(Conversation.id).where(Conversation.session_id == session_id)
                )
            yield app, http, browser, session_id, row_id
        await browser.close()


def changing_routes(app, session_id: str, row_id: int) -> list[tuple[str, str]]:
    """(method, concrete path) of every route that takes a body, parameters filled in."""

    def fill(match: re.Match) -> str:
        return session_id if match.group(2) in (None, "str") else str(row_id)

    found = set()
    for route in app.router.routes:
        for method in sorted(set(route.methods) & CHANGING):
            found.add((method, "/" + PARAMETER.sub(fill, route.path).lstrip("/")))
    return sorted(found)


def error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


async def send(http, browser, method: str, path: str, body: str) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-CSRF-Token": browser.csrf or ""}
    cookies = {"pomocnik_agent": browser.cookie} if path.startswith("/agent") else None
    return await http.request(method, path, content=body.encode("utf-8"), headers=headers,
                              cookies=cookies)


async def test_every_json_route_refuses_hostile_json_with_a_400(running, assert_error):
    app, http, browser, session_id, row_id = running
    json_routes = []
    for method, path in changing_routes(app, session_id, row_id):
        malformed = await send(http, browser, method, path, "{")
        assert malformed.status_code != 500, (method, path, malformed.text)
        if malformed.status_code == 400 and error_code(malformed) == "malformed_json":
            json_routes.append((method, path))

    # The walk found the JSON routes (it must not pass by finding none).
    assert {p.rsplit("/", 1)[-1] for _, p in json_routes} >= {
        "messages", "tickets", "rating", "reply"
    }, json_routes
    for method, path in json_routes:
        for body, code in (
            (DEEP, "invalid_json"),
            (BARELY_TOO_DEEP, "invalid_json"),
            (LONE_SURROGATE, "invalid_characters"),
            (SURROGATE_KEY, "invalid_characters"),
            (NUL, "invalid_characters"),
        ):
            response = await send(http, browser, method, path, body)
            assert response.status_code == 400, (method, path, body[:30], response.text)
            assert_error(response, 400, code)
        polish = (await send(http, browser, method, path, DEEP)).json()["error"]["message"]
        assert "zagnieżdżony zbyt głęboko" in polish
        # 31 levels inside the object (32 in all) are still fine: no 400 for depth.
        fine = await send(http, browser, method, path, DEEP_ENOUGH)
        assert fine.status_code != 500
        assert error_code(fine) != "invalid_json"


async def test_every_route_survives_hostile_json(running):
    app, http, browser, session_id, row_id = running
    for method, path in changing_routes(app, session_id, row_id):
        for body in (DEEP, LONE_SURROGATE, NUL):
            response = await send(http, browser, method, path, body)
            assert response.status_code < 500, (method, path, body[:30], response.text)
    # The gateway still works afterwards.
    ok = await http.post(f"/api/v1/conversations/{session_id}/messages", json={"text": "Hej"})
    assert ok.status_code == 200


async def raw_call(visitor, packet_json: str, timeout: float = 5.0):
    """user_uttered as raw socket.io text (the stock client's own encoder cannot even build
    JSON this deep), with an acknowledgement id registered on the stock client."""
    loop = asyncio.get_running_loop()
    answered = loop.create_future()
    ack_id = visitor.client._generate_ack_id("/", lambda *data: answered.set_result(data))
    await visitor.client.eio.send(f"2{ack_id}{packet_json}")
    return (await asyncio.wait_for(answered, timeout))[0]


async def test_the_socket_acknowledges_deep_json_with_an_error(visitors, stub_rasa):
    visitor = await visitors()
    session_id = await visitor.request_session()

    deep = '["user_uttered", {"session_id": "%s", "message": %s}]' % (
        session_id, "[" * 7000 + "]" * 7000
    )
    ack = await raw_call(visitor, deep)

    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid_json"
    assert "zagnieżdżony zbyt głęboko" in ack["error"]["message"]
    # A stock widget shows the refusal as a bot message; the socket still works.
    assert any("zbyt głęboko" in (e.get("text") or "") for e in visitor.events("bot_uttered"))
    fine = await visitor.say("Dzień dobry", session_id, cid="cid-after-deep-1")
    assert fine["ok"] is True
    assert all(r.json()["message"] == "Dzień dobry" for r in stub_rasa.webhook_requests)


@pytest.mark.parametrize("text", ["ab\ud800", "\udfff", "a\x00b"], ids=["high", "low", "nul"])
async def test_the_socket_acknowledges_bad_characters_with_an_error(visitors, stub_rasa, text):
    visitor = await visitors()
    session_id = await visitor.request_session()

    ack = await visitor.say(text, session_id, cid="cid-bad-chars-1")

    assert ack == {
        "ok": False,
        "error": {
            "code": "invalid_characters",
            "message": "Tekst zawiera niedozwolone znaki (znak NUL albo niesparowany znak "
            "zastępczy UTF-16).",
        },
    }
    assert stub_rasa.webhook_requests == []
    assert (await visitor.say("Dzień dobry", session_id, cid="cid-bad-chars-2"))["ok"] is True


async def test_a_valid_astral_character_is_fine(visitors, stub_rasa):
    visitor = await visitors()
    session_id = await visitor.request_session()

    ack = await visitor.say("Dziękuję 👍", session_id, cid="cid-emoji-0001")

    assert ack["ok"] is True
    await visitor.wait_for("pomocnik_status")
    assert stub_rasa.webhook_requests[-1].json()["message"] == "Dziękuję 👍"
