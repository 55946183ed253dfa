"""`python -m mailsink` as a real process: configuration, startup line, delivery, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 20


def sink_env(smtp_port: int, web_port: int, mail_dir: Path) -> dict[str, str]:
    return {
        "MAILSINK_HOST": "127.0.0.1",
        "MAILSINK_SMTP_PORT": str(smtp_port),
        "MAILSINK_WEB_PORT": str(web_port),
        "MAILSINK_DIR": str(mail_dir),
    }


def start_sink(env_overrides: dict[str, str], log_path: Path) -> subprocess.Popen:
    env = {**os.environ, **env_overrides}
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "mailsink"], cwd=REPO_ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT,
        )


async def wait_until_healthy(process: subprocess.Popen, base_url: str) -> None:
    async with httpx.AsyncClient(timeout=1) as http:
        for _ in range(STARTUP_TIMEOUT_SECONDS * 10):
            assert process.poll() is None, "mail sink exited during startup"
            try:
                if (await http.get(f"{base_url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail("mail sink did not become healthy in time")


def stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail("mail sink did not stop on SIGINT")


async def test_module_serves_smtp_and_web_until_interrupted(tmp_path: Path, free_port):
    smtp_port, web_port, mail_dir = free_port(), free_port(), tmp_path / "mail"
    log_path = tmp_path / "sink.log"
    process = start_sink(sink_env(smtp_port, web_port, mail_dir), log_path)
    base_url = f"http://127.0.0.1:{web_port}"
    try:
        await wait_until_healthy(process, base_url)
        message = EmailMessage()
        message["From"], message["To"] = "bot@example.com", "ewa@example.com"
        message["Subject"] = "Witaj w Pomocniku – zażółć gęślą jaźń"
        message.set_content("Link: https://app.test/aktywuj?kod=42")
        await aiosmtplib.send(message, hostname="127.0.0.1", port=smtp_port, timeout=10)

        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            response = await http.get("/api/messages", params={"to": "ewa@example.com"})
        [stored] = response.json()["messages"]
        assert stored["subject"] == "Witaj w Pomocniku – zażółć gęślą jaźń"
        assert len(list(mail_dir.glob("*.eml"))) == 1
    finally:
        exit_code = stop(process)

    assert exit_code == 0
    log = log_path.read_text()
    expected = f"mail sink: SMTP on 127.0.0.1:{smtp_port}, web on http://127.0.0.1:{web_port}"
    assert log.count(expected) == 1
    assert "Traceback" not in log


def test_bad_port_setting_fails_fast_with_clear_message(tmp_path: Path):
    log_path = tmp_path / "sink.log"
    process = start_sink({"MAILSINK_SMTP_PORT": "smtp"}, log_path)
    assert process.wait(timeout=STARTUP_TIMEOUT_SECONDS) == 2
    log = log_path.read_text()
    assert "invalid configuration: MAILSINK_SMTP_PORT must be an integer port number, " \
        "got 'smtp'" in log
    assert "Traceback" not in log


def test_busy_smtp_port_fails_fast_with_clear_message(tmp_path: Path, free_port):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy_port = squatter.getsockname()[1]
        log_path = tmp_path / "sink.log"
        env = sink_env(busy_port, free_port(), tmp_path / "mail")
        process = start_sink(env, log_path)
        assert process.wait(timeout=STARTUP_TIMEOUT_SECONDS) == 1
    assert "mailsink: cannot start: " in log_path.read_text()
    assert "address already in use" in log_path.read_text()
