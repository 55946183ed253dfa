"""The operator's commands for advisers, run as real processes: ``agent-add`` (what
``make agent-add`` calls, with ``EDITOR=1`` → ``--editor``), ``agent-list``, ``agent-disable``."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from bot.gateway.db import create_engine, create_sessionmaker
from bot.gateway.models import Agent

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Bardzo-tajne-hasło-2026"


def run_cli(database_url: str, *args: str, password: str | None = PASSWORD,
            stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url, "POMOCNIK_ENV": "development"}
    env.pop("AGENT_PASSWORD", None)
    if password is not None:
        env["AGENT_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "bot.gateway.cli", *args], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)


async def agents_in(database_url: str) -> list[Agent]:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return list((await session.scalars(select(Agent).order_by(Agent.email))).all())
    finally:
        await engine.dispose()


async def test_agent_add_stores_an_argon2id_hash(database_url):
    result = run_cli(database_url, "agent-add", "--email", " Anna.Nowicka@ingksiegowosc.pl",
                     "--name", "Anna")

    assert result.returncode == 0, result.stderr
    assert "added" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    [agent] = await agents_in(database_url)
    assert agent.email == "anna.nowicka@ingksiegowosc.pl"
    assert agent.display_name == "Anna"
    assert agent.password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(agent.password_hash, PASSWORD)


async def test_running_it_again_resets_the_password_and_unlocks(database_url):
    run_cli(database_url, "agent-add", "--email", "anna.nowicka@ingksiegowosc.pl", "--name", "Anna")
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            await session.execute(update(Agent).values(
                failed_logins=5, locked_until=datetime.now(timezone.utc) + timedelta(minutes=15),
                disabled_at=datetime.now(timezone.utc)))
    finally:
        await engine.dispose()

    result = run_cli(database_url, "agent-add", "--email", "anna.nowicka@ingksiegowosc.pl",
                     "--name", "Anna Nowicka", password="Inne-hasło-od-dziś-99")
    assert result.returncode == 0, result.stderr
    assert "updated and unlocked" in result.stdout
    [agent] = await agents_in(database_url)
    assert (agent.failed_logins, agent.locked_until, agent.disabled_at) == (0, None, None)
    assert agent.display_name == "Anna Nowicka"
    assert PasswordHasher().verify(agent.password_hash, "Inne-hasło-od-dziś-99")


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (("--email", "anna.nowicka@ingksiegowosc.pl", "--name", "Anna"), "krótkie",
         "at least 12 characters"),
        (("--email", "to-nie-e-mail", "--name", "Anna"), PASSWORD, "not a valid e-mail"),
        (("--email", "anna.nowicka@ingksiegowosc.pl", "--name", "  "), PASSWORD, "name"),
    ],
)
async def test_bad_input_is_refused(database_url, args, password, message):
    result = run_cli(database_url, "agent-add", *args, password=password)

    assert result.returncode == 2
    assert message in result.stderr
    assert await agents_in(database_url) == []


async def test_without_the_variable_the_password_is_asked_twice(database_url):
    # getpass falls back to stdin without a terminal; two different answers are refused.
    result = run_cli(database_url, "agent-add", "--email", "anna.nowicka@ingksiegowosc.pl",
                     "--name", "Anna", password=None, stdin=f"{PASSWORD}\ninne-hasło-zupełnie\n")

    assert result.returncode != 0
    assert "the passwords differ" in result.stderr
    assert await agents_in(database_url) == []


async def test_list_and_disable(database_url):
    run_cli(database_url, "agent-add", "--email", "anna.nowicka@ingksiegowosc.pl", "--name", "Anna")

    disabled = run_cli(database_url, "agent-disable", "--email", "anna.nowicka@ingksiegowosc.pl")
    assert disabled.returncode == 0, disabled.stderr
    listed = run_cli(database_url, "agent-list")
    assert "anna.nowicka@ingksiegowosc.pl\tAnna\tdisabled" in listed.stdout
    unknown = run_cli(database_url, "agent-disable", "--email", "nikt@ingksiegowosc.pl")
    assert unknown.returncode == 1


async def test_the_editor_permission_is_granted_kept_and_taken_away(database_url):
    email = "anna.nowicka@ingksiegowosc.pl"
    run_cli(database_url, "agent-add", "--email", email, "--name", "Anna", "--editor")
    [granted] = await agents_in(database_url)
    run_cli(database_url, "agent-add", "--email", email, "--name", "Anna")  # a password reset
    [kept] = await agents_in(database_url)
    listed = run_cli(database_url, "agent-list")
    run_cli(database_url, "agent-add", "--email", email, "--name", "Anna", "--no-editor")
    [taken] = await agents_in(database_url)

    assert (granted.editor, kept.editor, taken.editor) == (True, True, False)
    assert f"{email}\tAnna\tactive\teditor" in listed.stdout
    assert run_cli(database_url, "agent-list").stdout.count("\tadviser\t") == 1
