"""The statistics page on seeded rows: the last 14 Warsaw days, containment, handoffs,
tickets, ratings, top intents and fallbacks; the chart is server-side SVG with a table."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timezone

import pytest

from bot.gateway.db import create_engine, create_sessionmaker
from bot.gateway.models import Author, Conversation, Message, Ticket
from tests.support.clock import FakeClock
from tests.support.console import ANNA, AdviserBrowser, add_agent

_ids = itertools.count(1)


def utc(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


@pytest.fixture
async def gateway(stub_rasa, make_settings, start_gateway, database_url):
    # Now: Monday 23.11.2026, 10:00 in Warsaw; the period is 10.11–23.11.
    async with start_gateway(make_settings(stub_rasa.url), clock=FakeClock()) as url:
        await add_agent(database_url, *ANNA)
        yield url


@pytest.fixture
async def anna(gateway):
    browser = AdviserBrowser(gateway)
    await browser.login(ANNA[0])
    yield browser
    await browser.close()


async def seed(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            taken = conversation(utc(23, 8), requested=1, taken=1, rating=5)
            kept = conversation(utc(23, 7), rating=3)
            # 23:30 UTC on the 22nd is already the 23rd in Warsaw.
            late = conversation(utc(22, 23, 30))
            friday = conversation(utc(20, 12), requested=2)
            old = conversation(utc(1, 12), requested=1, taken=1, rating=1)
            session.add_all([taken, kept, late, friday, old])
            await session.flush()
            visitor_lines = [
                (kept, "nie pamiętam hasła", "reset_password", False, utc(23, 7)),
                (kept, "reset hasła proszę", "reset_password", False, utc(23, 7, 1)),
                (taken, "zresetuj mi hasło", "reset_password", False, utc(23, 8)),
                (late, "jak się zalogować", "login_help", False, utc(22, 23, 31)),
                (late, "abc xyz", "nlu_fallback", False, utc(22, 23, 32)),
                (friday, "abc xyz", "nlu_fallback", False, utc(20, 12)),
                (friday, "co to jest KSeF", "nlu_fallback", False, utc(20, 12, 1)),
                (friday, "••••", "nlu_fallback", True, utc(20, 12, 2)),
                (old, "stary temat", "packages_info", False, utc(1, 12)),
            ]
            for row, text, intent, secret, at in visitor_lines:
                session.add(Message(conversation_id=row.id, seq=next(_ids), author=Author.VISITOR,
                                    text=text, intent=intent, secret=secret, created_at=at))
            for at in (utc(23, 8, 30), utc(20, 13), utc(2, 9)):
                session.add(Ticket(question="Pytanie", contact_email="jan@majafirma.pl",
                                   created_at=at))
    finally:
        await engine.dispose()


def conversation(created: datetime, requested: int = 0, taken: int = 0,
                 rating: int | None = None) -> Conversation:
    return Conversation(
        session_id=f"seeded-{next(_ids)}", created_at=created, last_message_at=created,
        handoffs_requested=requested, handoffs_taken=taken, rating=rating,
        rated_at=created if rating else None,
    )


def tile(page: str, name: str) -> str:
    return re.search(rf'<dd id="stat-{name}">(.*?)</dd>', page, re.S).group(1)


def table_rows(page: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'<table class="data" id="{table_id}">(.*?)</table>', page, re.S).group(1)
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    cells = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.S)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells.findall(row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


async def test_the_numbers_of_the_last_14_days(anna, database_url):
    await seed(database_url)

    response = await anna.http.get("/agent/stats")
    assert response.status_code == 200
    page = response.text
    assert "ostatnie 14 dni (10.11–23.11)" in page
    assert tile(page, "conversations") == "4"
    assert tile(page, "containment") == "75%"  # 3 of 4 never reached an adviser
    assert tile(page, "handoffs-requested") == "3"
    assert tile(page, "handoffs-taken") == "1"
    assert tile(page, "tickets") == "2"
    assert tile(page, "rating").startswith("4,0 / 5")
    assert "(2 oceny)" in tile(page, "rating")

    days = table_rows(page, "days")
    assert len(days) == 14 and days[0][0] == "10.11" and days[-1][0] == "23.11"
    assert days[-1] == ["23.11", "3", "1", "1", "1"]
    assert days[-2] == ["22.11", "0", "0", "0", "0"]
    assert days[-4] == ["20.11", "1", "0", "2", "1"]


async def test_top_intents_and_fallbacks(anna, database_url):
    await seed(database_url)
    page = (await anna.http.get("/agent/stats")).text

    assert table_rows(page, "top-intents") == [
        ["reset hasła (reset_password)", "3"], ["pomoc w logowaniu (login_help)", "1"]]
    # Texts the assistant did not understand; masked secrets never appear.
    assert table_rows(page, "top-fallbacks") == [["abc xyz", "2"], ["co to jest KSeF", "1"]]
    assert "••••" not in page


async def test_the_chart_is_accessible_inline_svg_without_inline_styles(anna, database_url):
    await seed(database_url)
    page = (await anna.http.get("/agent/stats")).text

    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert 'role="img"' in svg and 'aria-labelledby="chart-title chart-desc"' in svg
    assert svg.count('class="bar-total"') == 14
    assert "<title>23.11: 3 rozmowy, w tym u konsultanta: 1</title>" in svg
    assert "style=" not in page and "<script" not in page


async def test_an_empty_period_shows_dashes_not_errors(anna):
    page = (await anna.http.get("/agent/stats")).text

    assert tile(page, "conversations") == "0"
    assert tile(page, "containment") == "—"
    assert tile(page, "rating") == "—"
    assert table_rows(page, "top-intents") == [["Brak danych."]]
