"""Advisers' sign-in over real HTTP: argon2id, no enumeration, lockout, session cookies,
CSRF, sign-out. The real gateway runs on a fake clock (a Monday morning in Warsaw)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from bot.gateway.db import create_engine, create_sessionmaker
from bot.gateway.models import Agent, AgentSession
from tests.support.clock import FakeClock
from tests.support.console import (
    ANNA,
    LOCKED,
    LOGIN_FAILED,
    PASSWORD,
    AdviserBrowser,
    add_agent,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def gateway(stub_rasa, make_settings, start_gateway, clock, database_url):
    async with start_gateway(make_settings(stub_rasa.url), clock=clock) as url:
        await add_agent(database_url, *ANNA)
        yield url


@pytest.fixture
async def browsers(gateway):
    opened: list[AdviserBrowser] = []

    def open_browser() -> AdviserBrowser:
        browser = AdviserBrowser(gateway)
        opened.append(browser)
        return browser

    yield open_browser
    for browser in opened:
        await browser.close()


async def rows(database_url: str, model):
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return list((await session.scalars(select(model))).all())
    finally:
        await engine.dispose()


def login_error(response: httpx.Response) -> str:
    return re.search(r'<p class="alert" role="alert" id="login-error">([^<]*)</p>',
                     response.text).group(1)


# ---------------------------------------------------------------- signing in


async def test_login_page_is_a_labelled_form_without_inline_code(browsers):
    response = await browsers().http.get("/agent/login")

    assert response.status_code == 200
    assert '<label for="email">E-mail</label>' in response.text
    assert '<label for="password">Hasło</label>' in response.text
    assert "<script" not in response.text and "style=" not in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


async def test_a_valid_sign_in_sets_a_strict_http_only_cookie_for_the_console(browsers):
    response = await browsers().http.post(
        "/agent/login", data={"email": "ANNA.Nowicka@ingksiegowosc.pl ", "password": PASSWORD}
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/agent"
    cookie = response.headers["set-cookie"]
    token = re.match(r"pomocnik_agent=([^;]+);", cookie).group(1)
    assert len(token) >= 43  # 256 bits, URL-safe base64
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"path=/agent", "httponly", "samesite=strict", f"max-age={8 * 3600}"} <= flags
    assert "secure" not in flags  # development over http://


async def test_outside_development_the_cookie_is_secure(stub_rasa, make_settings, start_gateway,
                                                        database_url):
    settings = make_settings(stub_rasa.url, env="production", agent_session_hours=2)
    async with start_gateway(settings, clock=FakeClock()) as url:
        await add_agent(database_url, *ANNA)
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            response = await http.post("/agent/login",
                                       data={"email": ANNA[0], "password": PASSWORD})
    flags = {part.strip().lower() for part in response.headers["set-cookie"].split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "max-age=7200"} <= flags


async def test_only_the_tokens_hash_is_stored(browsers, database_url):
    browser = browsers()
    await browser.login(ANNA[0])

    [session] = await rows(database_url, AgentSession)
    assert session.token_hash == hashlib.sha256(browser.cookie.encode()).hexdigest()
    assert browser.cookie not in (session.token_hash, session.csrf_token)
    assert session.revoked_at is None
    [agent] = await rows(database_url, Agent)
    assert agent.last_login_at is not None and agent.failed_logins == 0


async def test_wrong_password_and_unknown_email_get_the_same_answer(browsers):
    browser = browsers()
    wrong = await browser.login(ANNA[0], "Zupełnie-złe-hasło-123")
    unknown = await browser.login("nikt@ingksiegowosc.pl", "Zupełnie-złe-hasło-123")

    assert wrong.status_code == unknown.status_code == 401
    assert login_error(wrong) == login_error(unknown) == LOGIN_FAILED
    assert "set-cookie" not in wrong.headers
    # The e-mail is kept in the form, never the password.
    assert 'value="anna.nowicka@ingksiegowosc.pl"' in wrong.text
    assert "Zupełnie-złe-hasło-123" not in wrong.text


async def test_five_failures_lock_the_address_for_15_minutes(browsers, clock, database_url):
    browser = browsers()
    answers = [await browser.login(ANNA[0], f"złe-hasło-nr-{i}") for i in range(5)]

    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    assert login_error(answers[-1]) == LOCKED
    # Locked: even the right password is refused.
    refused = await browser.login(ANNA[0])
    assert refused.status_code == 429 and login_error(refused) == LOCKED
    [agent] = await rows(database_url, Agent)
    assert agent.locked_until == clock.now + timedelta(minutes=15)

    clock.advance(minutes=14, seconds=59)
    assert (await browser.login(ANNA[0])).status_code == 429
    clock.advance(seconds=2)
    assert (await browser.login(ANNA[0])).status_code == 303


async def test_unknown_addresses_lock_exactly_like_real_ones(browsers):
    browser = browsers()
    answers = [await browser.login("nikt@ingksiegowosc.pl", f"złe-hasło-nr-{i}") for i in range(6)]

    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429, 429]
    assert login_error(answers[-1]) == LOCKED


async def test_a_success_resets_the_failure_count(browsers):
    browser = browsers()
    for i in range(4):
        await browser.login(ANNA[0], f"złe-hasło-nr-{i}")
    assert (await browser.login(ANNA[0])).status_code == 303
    for i in range(4):
        assert (await browser.login(ANNA[0], f"złe-hasło-nr-{i}")).status_code == 401


async def test_one_network_may_try_20_times_a_minute(browsers, clock):
    browser = browsers()
    for i in range(20):
        assert (await browser.login(f"osoba{i}@ingksiegowosc.pl", "złe-hasło")).status_code == 401
    throttled = await browser.login(ANNA[0])

    assert throttled.status_code == 429
    assert "zbyt wiele prób logowania" in login_error(throttled)
    clock.advance(minutes=1)
    assert (await browser.login(ANNA[0])).status_code == 303


async def test_a_form_posted_from_another_site_is_refused(browsers):
    response = await browsers().http.post(
        "/agent/login", data={"email": ANNA[0], "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_a_disabled_adviser_cannot_sign_in_and_their_sessions_end(browsers, database_url):
    from bot.gateway.console import agents

    browser = browsers()
    await browser.login(ANNA[0])
    engine = create_engine(database_url)
    try:
        assert await agents.disable(create_sessionmaker(engine), ANNA[0], FakeClock()())
    finally:
        await engine.dispose()

    assert (await browser.call("GET", "queue")).status_code == 401
    again = await browser.login(ANNA[0])
    assert again.status_code == 401 and login_error(again) == LOGIN_FAILED


# ---------------------------------------------------------------- sessions


async def test_without_a_session_pages_redirect_and_the_api_answers_401(browsers, assert_error):
    http = browsers().http
    for path in ("/agent", "/agent/tickets", "/agent/tickets/1", "/agent/stats"):
        response = await http.get(path)
        assert response.status_code == 302, path
        assert response.headers["location"] == "/agent/login"
    assert_error(await http.get("/agent/api/queue"), 401, "agent_unauthorized", "Zaloguj się")
    assert_error(await http.post("/agent/api/heartbeat"), 401, "agent_unauthorized")
    http.cookies.set("pomocnik_agent", "x" * 43, path="/agent")
    assert_error(await http.get("/agent/api/queue"), 401, "agent_unauthorized")


async def test_signing_in_again_starts_a_new_session_and_ends_the_old_one(browsers):
    browser = browsers()
    await browser.login(ANNA[0])
    first = browser.cookie
    await browser.login(ANNA[0])

    assert browser.cookie != first
    assert (await browser.call("GET", "queue")).status_code == 200
    stale = AdviserBrowser(browser.base_url)
    try:
        stale.http.cookies.set("pomocnik_agent", first, path="/agent")
        assert (await stale.call("GET", "queue")).status_code == 401
    finally:
        await stale.close()


async def test_a_session_expires_after_the_configured_hours(browsers, clock):
    browser = browsers()
    await browser.login(ANNA[0])
    clock.advance(hours=7, minutes=59)
    assert (await browser.call("GET", "queue")).status_code == 200
    clock.advance(minutes=2)
    assert (await browser.call("GET", "queue")).status_code == 401


async def test_sign_out_revokes_the_session(browsers, database_url):
    browser = browsers()
    await browser.login(ANNA[0])
    cookie = browser.cookie

    response = await browser.submit("/agent/logout", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/agent/login"
    assert "max-age=0" in response.headers["set-cookie"].lower()
    [session] = await rows(database_url, AgentSession)
    assert session.revoked_at is not None
    browser.http.cookies.set("pomocnik_agent", cookie, path="/agent")
    assert (await browser.call("GET", "queue")).status_code == 401


async def test_sign_out_needs_the_csrf_field(browsers):
    browser = browsers()
    await browser.login(ANNA[0])

    response = await browser.http.post("/agent/logout", data={"csrf_token": "forged"})
    assert response.status_code == 403
    assert (await browser.call("GET", "queue")).status_code == 200


# ---------------------------------------------------------------- CSRF on the API


@pytest.mark.parametrize("header", [None, "", "forged-token"])
async def test_changes_without_the_sessions_csrf_token_are_refused(browsers, assert_error, header):
    browser = browsers()
    await browser.login(ANNA[0])
    headers = {} if header is None else {"X-CSRF-Token": header}

    response = await browser.http.post("/agent/api/heartbeat", headers=headers)
    assert_error(response, 403, "csrf_failed")
    assert_error(await browser.http.post("/agent/api/conversations/1/take", headers=headers),
                 403, "csrf_failed")


async def test_one_advisers_csrf_token_does_not_work_for_another(browsers):
    anna, piotr = browsers(), browsers()
    await anna.login(ANNA[0])
    await piotr.login(ANNA[0])  # the same adviser on a second computer: another session

    response = await piotr.call("POST", "heartbeat", headers={"X-CSRF-Token": anna.csrf})
    assert response.status_code == 403
    assert (await piotr.call("POST", "heartbeat")).status_code == 200


async def test_the_desk_page_carries_the_csrf_token_and_loads_only_own_scripts(browsers):
    browser = browsers()
    await browser.login(ANNA[0])
    response = await browser.http.get("/agent")
    page = response.text

    assert response.headers["cache-control"] == "no-store"
    assert "location" not in response.headers  # a redirect's headers never leak into pages

    assert browser.csrf and len(browser.csrf) >= 43
    assert re.findall(r'<script src="([^"]+)"', page) == [
        "/widget/socket.io.min.js", "/agent/static/console.js"]
    assert "style=" not in page and "<script>" not in page
    assert "Anna" in page and "Wyloguj" in page
    for label in ("Przejmij", "Oddaj asystentowi", "Zakończ", '<label for="reply-text">'):
        assert label in page

