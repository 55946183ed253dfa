"""`python -m bot.shell` as a real process against the in-process gateway."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


async def run_shell(url: str, stdin: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.shell", "--url", url,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    assert not stderr, stderr.decode()
    return process.returncode, stdout.decode()


async def test_chat_prints_replies_and_numbered_buttons(gateway_url, stub_rasa):
    code, out = await run_shell(gateway_url, "Nie pamiętam hasła\n/quit\n")

    assert code == 0
    assert "Dzień dobry! Jestem Pomocnik, asystent iKsięgowość24. W czym mogę pomóc?" in out
    assert "Pomocnik: Kliknij „Nie pamiętam hasła” na stronie logowania." in out
    assert "  [1] Tak, dziękuję\n  [2] Nie\n" in out
    assert out.rstrip().endswith("Do zobaczenia!")
    [request] = stub_rasa.webhook_requests
    assert request.json()["message"] == "Nie pamiętam hasła"


async def test_number_sends_that_buttons_payload(gateway_url, stub_rasa):
    # "2" picks the greeting's second button, then "2" picks the reply's "Nie".
    code, out = await run_shell(gateway_url, "2\n2\n7\n")

    assert code == 0
    assert "  → Jak się zalogować?" in out and "  → Nie" in out
    sent = [r.json()["message"] for r in stub_rasa.webhook_requests]
    # "7" matches no button, so it goes out as plain text.
    assert sent == ["Jak się zalogować?", '/deny{"powod":"inny"}', "7"]
    assert len({r.json()["sender"] for r in stub_rasa.webhook_requests}) == 1


async def test_end_of_input_exits_cleanly(gateway_url, stub_rasa):
    code, out = await run_shell(gateway_url, "")

    assert code == 0
    assert "Do zobaczenia!" in out
    assert stub_rasa.webhook_requests == []


async def test_gateway_errors_are_shown_in_polish_and_chat_goes_on(gateway_url, stub_rasa):
    stub_rasa.reply_status = 503

    code, out = await run_shell(gateway_url, f"{'a' * 1001}\nCześć\n/quit\n")

    assert code == 0
    assert "Wiadomość jest za długa. Maksymalna długość to 1000 znaków." in out
    assert "Asystent jest chwilowo niedostępny. Spróbuj ponownie za chwilę." in out


async def test_gateway_down_gives_clear_message(closed_port):
    url = f"http://127.0.0.1:{closed_port}"

    code, out = await run_shell(url, "Cześć\n")

    assert code == 1
    assert f"Nie mogę połączyć się z Pomocnikiem pod adresem {url}." in out
    assert "Traceback" not in out
