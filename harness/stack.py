"""Start the services as real processes on free ports, for end-to-end tests and benchmarks.

Standard library only: the action tests (Rasa environment) start the backend and the mail sink
with it too, through the app environment's interpreter.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


ALL_SERVICES = ("mailsink", "backend", "actions", "rasa", "gateway")
# Services with Prometheus metrics, each on a loopback port of its own ("<service>_metrics").
METRICS_SERVICES = ("gateway", "backend", "actions")

ROOT = Path(__file__).resolve().parents[1]
APP_PY = str(ROOT / ".venv" / "app" / "bin" / "python")
RASA_PY = str(ROOT / ".venv" / "rasa" / "bin" / "python")
MODEL = ROOT / "var" / "models" / "pomocnik.tar.gz"


# Ports are drawn below the kernel's ephemeral range (32768-60999 on Linux): a port the kernel
# hands out for bind(0) can be taken by any outgoing connection before the service binds it,
# which made a gateway die with "Address already in use" in CI. Outgoing connections never use
# this range, and a port is never handed out twice by one process.
_PORT_RANGE = range(20000, 32000)
_handed_out: set[int] = set()
_random = random.SystemRandom()


def free_port() -> int:
    for _ in range(200):
        port = _random.choice(_PORT_RANGE)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port found in {_PORT_RANGE}")


@dataclass
class Stack:
    workdir: Path
    ports: dict[str, int]
    service_token: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def metrics_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[f'{service}_metrics']}/metrics"

    def log(self, service: str) -> str:
        return (self.workdir / f"{service}.log").read_text(errors="replace")

    def all_logs(self) -> str:
        return "\n".join(self.log(name) for name in self.processes)


def _env(stack: Stack) -> dict[str, str]:
    p = stack.ports
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("BACKEND_", "GATEWAY_", "MAILSINK_", "ACTIONS_"))
    }
    env.update(
        POMOCNIK_ENV="development",
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        MAILSINK_SMTP_PORT=str(p["smtp"]),
        MAILSINK_WEB_PORT=str(p["mailsink"]),
        MAILSINK_DIR=str(stack.workdir / "mail"),
        BACKEND_PORT=str(p["backend"]),
        BACKEND_PUBLIC_URL=stack.url("backend"),
        BACKEND_DATABASE_URL=f"sqlite+aiosqlite:///{stack.workdir / 'backend.db'}",
        BACKEND_SERVICE_TOKEN=stack.service_token,
        BACKEND_URL=stack.url("backend"),
        SMTP_PORT=str(p["smtp"]),
        GATEWAY_PORT=str(p["gateway"]),
        GATEWAY_METRICS_PORT=str(p["gateway_metrics"]),
        BACKEND_METRICS_PORT=str(p["backend_metrics"]),
        ACTIONS_METRICS_PORT=str(p["actions_metrics"]),
        GATEWAY_DATABASE_URL=f"sqlite+aiosqlite:///{stack.workdir / 'gateway.db'}",
        RASA_URL=stack.url("rasa"),
        RASA_API_TOKEN=stack.service_token,
        SANIC_HOST="127.0.0.1",  # rasa-sdk has no --interface flag; this keeps it on loopback
    )
    return env


def _commands(stack: Stack) -> dict[str, tuple[list[str], str]]:
    endpoints = stack.workdir / "endpoints.yml"
    # The real tracker store (secrets encrypted, their messages redacted) on a file of this stack.
    endpoints.write_text(
        f'action_endpoint:\n  url: "{stack.url("actions")}/webhook"\n'
        "nlg:\n  type: bot.rasa_ext.nlg.SpecificResponseGenerator\n"
        "tracker_store:\n"
        "  type: bot.rasa_ext.tracker_store.RedactingSQLTrackerStore\n"
        "  dialect: sqlite\n"
        f'  db: "{stack.workdir / "rasa-tracker.db"}"\n',
        encoding="utf-8",
    )
    return {
        "mailsink": ([APP_PY, "-m", "mailsink"], "/health"),
        "backend": ([APP_PY, "-m", "backend"], "/health"),
        "actions": (
            [RASA_PY, "-m", "actions.server", "--port", str(stack.ports["actions"])],
            "/health",
        ),
        "rasa": (
            [RASA_PY, "-m", "bot.rasa_cli", "run", "--model", str(MODEL),
             "--interface", "127.0.0.1", "--port", str(stack.ports["rasa"]),
             "--credentials", str(ROOT / "credentials.yml"),
             "--endpoints", str(endpoints), "--enable-api", f"--auth-token={stack.service_token}"],
            "/",
        ),
        "gateway": ([APP_PY, "-m", "bot.gateway"], "/health"),
    }


def start_stack(
    workdir: Path,
    timeout: float = 300,
    services: tuple[str, ...] = ALL_SERVICES,
    extra_env: dict[str, str] | None = None,
) -> Stack:
    """Starts `services` (all five by default) with a fresh, seeded backend database.

    `extra_env` is merged into the services' environment last (e.g. raised gateway limits).
    """
    if "rasa" in services and not MODEL.exists():
        raise RuntimeError(f"{MODEL} is missing: run `make model` first")
    names = ["smtp", *ALL_SERVICES, *(f"{name}_metrics" for name in METRICS_SERVICES)]
    stack = Stack(workdir, {name: free_port() for name in names}, secrets.token_urlsafe(32))
    env = {**_env(stack), **(extra_env or {})}
    for step in ("migrate", "seed"):
        subprocess.run([APP_PY, "-m", "backend.cli", step], cwd=ROOT, env=env, check=True)
    commands = {name: command for name, command in _commands(stack).items() if name in services}
    for name, (argv, _) in commands.items():
        log = open(workdir / f"{name}.log", "wb")
        stack.processes[name] = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    for name, (_, health) in commands.items():
        _wait_healthy(stack, name, stack.url(name) + health, deadline)
    return stack


def _wait_healthy(stack: Stack, name: str, url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        if stack.processes[name].poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    tail = "\n".join(stack.log(name).splitlines()[-30:])
    stop_stack(stack)
    raise RuntimeError(f"{name} did not become healthy at {url}; last log lines:\n{tail}")


def stop_stack(stack: Stack) -> None:
    for process in stack.processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in stack.processes.values():
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":  # manual use: python -m harness.stack
    import tempfile

    stack = start_stack(Path(tempfile.mkdtemp()))
    print({name: stack.url(name) for name in stack.ports}, file=sys.stderr)
    try:
        signal.pause()
    finally:
        stop_stack(stack)
