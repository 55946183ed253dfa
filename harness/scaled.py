"""The scaled topology on one machine: HAProxy in front of two of every service.

    HAProxy  :gateway  -> gateway1, gateway2   (websocket; cookie-sticky for long-polling)
             :rasa     -> rasa1, rasa2         (tracker store on PostgreSQL, Redis lock store)
             :actions  -> actions1, actions2
             :backend  -> backend1, backend2   (PostgreSQL; outbox leases)
    gateways fan out through Redis pub/sub; one mail sink.

Used by `make run-scaled` (scripts/run_scaled.py), the scaled tests (tests/scaled/) and
`scripts/bench.py --scaled`. Runs in the app environment. PostgreSQL and Redis are the ones on
127.0.0.1:5432 / 6379 (overridable with POMOCNIK_SCALED_POSTGRES_URL / POMOCNIK_SCALED_REDIS_URL);
HAProxy is Debian's `haproxy` (`ensure_haproxy` installs it with apt-get when running as root).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from harness.stack import APP_PY, MODEL, RASA_PY, ROOT, free_port

REPLICAS = 2
ENDPOINTS = ROOT / "deploy" / "scaled" / "endpoints.yml"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"
# Replicated services behind HAProxy, with their health path (Rasa answers "/" once loaded).
BALANCED = {"gateway": "/health", "rasa": "/", "actions": "/health", "backend": "/health"}
# How long HAProxy waits for a health check's answer once the replica accepted the connection.
# A check tells a dead replica from a busy one: a dead process refuses the connection (a dead
# host does not accept it within min(`timeout connect`, `inter`) = 1 s), so it is still out after
# fall 2 x inter 1 s. A busy one answers late: Rasa runs NLU and the policies on its event
# loop, so its "GET /" waits behind the turns in flight. Without `timeout check` HAProxy gives
# the whole check `inter` (1 s): at 50 concurrent visitors (about 25 turns in flight per
# replica on the 2-core benchmark host) both Rasa replicas failed their checks together, were
# marked down although working, and HAProxy answered 503 ("no server available") for every
# turn until they came back: 124 of 500 turns "gateway failed" in docs/benchmarks/scaled.md.
# Measured in that run with fresh connections (as HAProxy checks): Rasa's "GET /" took 2.0 s at
# p50 and 3.3 s at most; the other services stayed under 0.8 s. 10 s is three times that worst
# case (the delay grows with the turns in flight, so about 75 per replica before a busy replica
# would be taken out); the price is that a replica which accepts connections but never answers
# (hung) is out after fall x (inter + timeout check) = 22 s instead of 2 s.
CHECK_TIMEOUT = "10s"


class ScaledUnavailable(RuntimeError):
    """Something the scaled topology needs (PostgreSQL, Redis, HAProxy, the model) is missing."""


@dataclass
class ScaledStack:
    workdir: Path
    name: str  # prefix of this stack's databases and Redis keys
    ports: dict[str, int]
    postgres_url: str
    redis_url: str
    service_token: str  # the backend's service token
    rasa_token: str  # Rasa's HTTP API token
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        """``gateway``/``rasa``/``actions``/``backend``: through HAProxy; ``gateway1`` etc.:
        one replica directly; ``mailsink``; ``stats`` (HAProxy's CSV statistics)."""
        return f"http://127.0.0.1:{self.ports[name]}"

    def replicas(self, service: str) -> list[str]:
        return [f"{service}{index}" for index in range(1, REPLICAS + 1)]

    def database_url(self, purpose: str, driver: str = "postgresql") -> str:
        parts = urllib.parse.urlsplit(self.postgres_url)
        scheme = driver
        return urllib.parse.urlunsplit((scheme, parts.netloc, f"/{self.name}_{purpose}", "", ""))

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill one process (and its children), e.g. a replica in a failure test."""
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def haproxy_servers(self) -> dict[str, dict[str, str]]:
        """HAProxy's view of each server: ``{"rasa/rasa1": {"status": "UP", "stot": "12"}}``."""
        with urllib.request.urlopen(self.url("stats") + "/stats;csv", timeout=5) as response:
            lines = response.read().decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        servers = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("svname") not in ("FRONTEND", "BACKEND", None):
                servers[f"{row['pxname']}/{row['svname']}"] = row
        return servers


# --- prerequisites --------------------------------------------------------------------------


def ensure_haproxy() -> str:
    """The haproxy binary; installs Debian's package when missing and running as root."""
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "haproxy"],
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if not shutil.which("haproxy") and not Path("/usr/sbin/haproxy").exists():
            subprocess.run(["apt-get", "update", "-q"], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            subprocess.run(
                ["apt-get", "install", "-y", "-q", "haproxy"],
                check=False, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
        found = shutil.which("haproxy") or (
            "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
        )
        if found:
            return found
    raise ScaledUnavailable(
        "HAProxy is missing: install Debian's package (`sudo apt-get install haproxy`)"
    )


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def service_urls() -> tuple[str, str]:
    postgres = os.environ.get("POMOCNIK_SCALED_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    redis = os.environ.get("POMOCNIK_SCALED_REDIS_URL") or DEFAULT_REDIS_URL
    for what, url, default_port in (("PostgreSQL", postgres, 5432), ("Redis", redis, 6379)):
        parts = urllib.parse.urlsplit(url)
        if not _reachable(parts.hostname or "127.0.0.1", parts.port or default_port):
            raise ScaledUnavailable(
                f"{what} is not reachable at {parts.hostname}:{parts.port or default_port}; "
                f"the scaled topology needs it (Debian: postgresql / redis-server)"
            )
    return postgres, redis


# --- databases ------------------------------------------------------------------------------


async def _admin(postgres_url: str, statements: list[str]) -> None:
    import asyncpg

    connection = await asyncpg.connect(postgres_url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _database_exists(postgres_url: str, name: str) -> bool:
    import asyncpg

    connection = await asyncpg.connect(postgres_url)
    try:
        return bool(await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await connection.close()


def create_databases(stack: ScaledStack, *, reuse: bool) -> None:
    """The backend's, the gateway's and the tracker database; kept when ``reuse``."""
    for purpose in ("backend", "gateway", "rasa"):
        name = f"{stack.name}_{purpose}"
        if reuse and asyncio.run(_database_exists(stack.postgres_url, name)):
            continue
        asyncio.run(_admin(stack.postgres_url, [
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
        ]))


def drop_databases(stack: ScaledStack) -> None:
    asyncio.run(_admin(stack.postgres_url, [
        f'DROP DATABASE IF EXISTS "{stack.name}_{purpose}" WITH (FORCE)'
        for purpose in ("backend", "gateway", "rasa")
    ]))


def clear_redis_locks(stack: ScaledStack) -> None:
    """Drop this stack's Rasa ticket locks (a previous run killed mid-turn can leave some)."""
    from redis import Redis

    client = Redis.from_url(stack.redis_url, db=int(stack.env["POMOCNIK_REDIS_LOCK_DB"]))
    try:
        keys = list(client.scan_iter(f"{stack.env['POMOCNIK_RASA_LOCK_PREFIX']}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# --- configuration --------------------------------------------------------------------------


def haproxy_config(stack: ScaledStack) -> str:
    p = stack.ports
    lines = [
        "global",
        "    maxconn 4096",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 120s",
        "    timeout server 120s",
        # Websocket connections, once upgraded, live as tunnels.
        "    timeout tunnel 1h",
        "    timeout http-request 30s",
        # A connection refused by a dead replica is retried on the other one.
        "    retries 3",
        "    option redispatch 1",
        "    default-server inter 1s fall 2 rise 2",
        f"    timeout check {CHECK_TIMEOUT}",
        "listen stats",
        f"    bind 127.0.0.1:{p['stats']}",
        "    stats enable",
        "    stats uri /stats",
        "    stats refresh 5s",
    ]
    for service, health in BALANCED.items():
        lines += [
            f"frontend {service}_in",
            f"    bind 127.0.0.1:{p[service]}",
            f"    default_backend {service}",
            f"backend {service}",
            "    balance roundrobin",
            f"    option httpchk GET {health}",
            "    http-check expect status 200",
        ]
        if service == "gateway":
            # The visitor's address for the gateway's limits (it trusts one proxy: SANIC_PROXIES_COUNT=1)
            # and a cookie keeping socket.io's long-polling fallback on one replica.
            lines += [
                "    option forwardfor",
                "    cookie POMOCNIK_GW insert indirect nocache httponly",
            ]
        for replica in stack.replicas(service):
            cookie = f" cookie {replica}" if service == "gateway" else ""
            lines.append(f"    server {replica} 127.0.0.1:{p[replica]} check{cookie}")
    return "\n".join(lines) + "\n"


def _base_env(stack: ScaledStack) -> dict[str, str]:
    redis = urllib.parse.urlsplit(stack.redis_url)
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("BACKEND_", "GATEWAY_", "MAILSINK_", "ACTIONS_", "TRACKER_", "REDIS_"))
    }
    env.update(
        POMOCNIK_ENV="development",
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        PYTHONDONTWRITEBYTECODE="1",
        MAILSINK_SMTP_PORT=str(stack.ports["smtp"]),
        MAILSINK_WEB_PORT=str(stack.ports["mailsink"]),
        MAILSINK_DIR=str(stack.workdir / "mail"),
        SMTP_PORT=str(stack.ports["smtp"]),
        BACKEND_PUBLIC_URL=stack.url("backend"),
        BACKEND_DATABASE_URL=stack.database_url("backend", "postgresql+asyncpg"),
        BACKEND_SERVICE_TOKEN=stack.service_token,
        BACKEND_URL=stack.url("backend"),
        BACKEND_OUTBOX_LEASE_SECONDS="30",
        GATEWAY_DATABASE_URL=stack.database_url("gateway", "postgresql+asyncpg"),
        REDIS_URL=stack.redis_url,
        RASA_URL=stack.url("rasa"),
        RASA_API_TOKEN=stack.rasa_token,
                # A message may wait for the conversation's earlier ones (the lock store); below the
        # gateway's own 60 s response timeout (Sanic's default).
        RASA_TIMEOUT_SECONDS="50",
        SANIC_PROXIES_COUNT="1",
        TRACKER_DB_URL=stack.database_url("rasa"),
        POMOCNIK_ACTIONS_URL=stack.url("actions") + "/webhook",
        POMOCNIK_REDIS_HOST=redis.hostname or "127.0.0.1",
        POMOCNIK_REDIS_PORT=str(redis.port or 6379),
        POMOCNIK_REDIS_LOCK_DB="1",
        POMOCNIK_RASA_LOCK_PREFIX=stack.name.replace("_", ""),
        SANIC_HOST="127.0.0.1",
    )
    return env


def _replica_env(stack: ScaledStack, service: str, index: int) -> dict[str, str]:
    p = stack.ports
    name = f"{service}{index}"
    env = {"POMOCNIK_SERVICE": name}
    if service == "gateway":
        env.update(GATEWAY_PORT=str(p[name]), GATEWAY_METRICS_PORT=str(p[f"{name}_metrics"]))
    elif service == "backend":
        env.update(BACKEND_PORT=str(p[name]), BACKEND_METRICS_PORT=str(p[f"{name}_metrics"]))
    elif service == "actions":
        env.update(ACTIONS_METRICS_PORT=str(p[f"{name}_metrics"]))
    return env


def commands(stack: ScaledStack, haproxy: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    p = stack.ports
    result: dict[str, tuple[list[str], dict[str, str]]] = {
        "mailsink": ([APP_PY, "-m", "mailsink"], {"POMOCNIK_SERVICE": "mailsink"}),
        "haproxy": ([haproxy, "-db", "-f", str(stack.workdir / "haproxy.cfg")],
                    {"POMOCNIK_SERVICE": "haproxy"}),
    }
    for index in range(1, REPLICAS + 1):
        for service in BALANCED:
            name = f"{service}{index}"
            env = _replica_env(stack, service, index)
            if service == "gateway":
                argv = [APP_PY, "-m", "bot.gateway"]
            elif service == "backend":
                argv = [APP_PY, "-m", "backend"]
            elif service == "actions":
                argv = [RASA_PY, "-m", "actions.server", "--port", str(p[name])]
            else:
                argv = [RASA_PY, "-m", "bot.rasa_cli", "run", "--model", str(MODEL),
                        "--interface", "127.0.0.1",
                        "--port", str(p[name]), "--credentials", str(ROOT / "credentials.yml"),
                        "--endpoints", str(ENDPOINTS), "--enable-api",
                        f"--auth-token={stack.rasa_token}"]
            result[name] = (argv, env)
    return result


def health_urls(stack: ScaledStack) -> dict[str, str]:
    urls = {"mailsink": stack.url("mailsink") + "/health", "haproxy": stack.url("stats") + "/stats"}
    for service, health in BALANCED.items():
        for replica in stack.replicas(service):
            urls[replica] = stack.url(replica) + health
    return urls


def allocate_ports(fixed: bool) -> dict[str, int]:
    """Fixed (for `make run-scaled`, the usual public ports) or free ports (tests, benchmarks)."""
    names = ["smtp", "mailsink", "stats", *BALANCED]
    for service in BALANCED:
        for index in range(1, REPLICAS + 1):
            names.append(f"{service}{index}")
            if service != "rasa":
                names.append(f"{service}{index}_metrics")
    if not fixed:
        return {name: free_port() for name in names}
    ports = {"smtp": 1025, "mailsink": 8025, "stats": 8404, "gateway": 8000, "rasa": 5005,
             "actions": 5055, "backend": 8100}
    bases = {"gateway": 8001, "rasa": 5006, "actions": 5056, "backend": 8101}
    metrics = {"gateway": 9400, "backend": 9401, "actions": 9402}
    for service, base in bases.items():
        for index in range(1, REPLICAS + 1):
            ports[f"{service}{index}"] = base + index - 1
            if service in metrics:
                ports[f"{service}{index}_metrics"] = metrics[service] + 10 * index
    return ports


# --- life cycle -----------------------------------------------------------------------------


def prepare(workdir: Path, *, name: str | None = None, fixed_ports: bool = False,
            reuse_databases: bool = False,
            extra_env: dict[str, str] | None = None) -> tuple[ScaledStack, str]:
    """Check prerequisites, create databases, migrate, seed, write the HAProxy config.

    ``extra_env`` is merged into every process's environment last (e.g. raised limits)."""
    if not MODEL.exists():
        raise ScaledUnavailable(f"{MODEL} is missing: run `make model` first")
    haproxy = ensure_haproxy()
    postgres, redis = service_urls()
    workdir.mkdir(parents=True, exist_ok=True)
    stack = ScaledStack(
        workdir=workdir,
        name=name or f"pomocnik_scaled_{secrets.token_hex(4)}",
        ports=allocate_ports(fixed_ports),
        postgres_url=postgres,
        redis_url=redis,
        # `make run-scaled`: the development tokens, as `make run` has them (make shell, docs).
        service_token="dev-backend-service-token-change-me" if fixed_ports
        else secrets.token_urlsafe(32),
        rasa_token="dev-rasa-api-token-change-me" if fixed_ports else secrets.token_urlsafe(32),
    )
    stack.env = {**_base_env(stack), **(extra_env or {})}
    create_databases(stack, reuse=reuse_databases)
    clear_redis_locks(stack)
    (workdir / "haproxy.cfg").write_text(haproxy_config(stack), encoding="utf-8")
    env = stack.env
    for step in (["backend.cli", "migrate"], ["backend.cli", "seed"], ["bot.gateway.cli", "migrate"]):
        subprocess.run([APP_PY, "-m", *step], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    # The tracker table, once, before two replicas could race to create it.
    subprocess.run(
        [RASA_PY, "-c", "from bot.rasa_ext.tracker_store import RedactingSQLTrackerStore as S; "
                        "S(dialect='postgresql').engine.dispose()"],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return stack, haproxy


def start(stack: ScaledStack, haproxy: str, only: list[str] | None = None) -> None:
    """Start the processes (each with its own log in the work directory)."""
    for name, (argv, extra) in commands(stack, haproxy).items():
        if only is not None and name not in only:
            continue
        stack.commands[name] = argv
        log = open(stack.workdir / f"{name}.log", "ab")
        stack.processes[name] = subprocess.Popen(
            argv, cwd=ROOT, env={**stack.env, **extra}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def restart(stack: ScaledStack, name: str, haproxy: str) -> None:
    start(stack, haproxy, only=[name])


def is_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_healthy(stack: ScaledStack, timeout: float, names: list[str] | None = None,
                 on_healthy=None) -> None:
    """Wait until every (or each named) process answers its health check; raise with its log."""
    urls = health_urls(stack)
    pending = dict.fromkeys(names or list(stack.processes))
    started = time.monotonic()
    while pending:
        for name in list(pending):
            process = stack.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited (rc={process.returncode}):\n{_tail(stack, name)}")
            if is_healthy(urls[name]):
                del pending[name]
                if on_healthy is not None:
                    on_healthy(name, time.monotonic() - started)
        if pending and time.monotonic() - started > timeout:
            name = next(iter(pending))
            raise RuntimeError(f"{name} not healthy after {timeout:.0f} s:\n{_tail(stack, name)}")
        time.sleep(0.5)


def wait_balanced(stack: ScaledStack, timeout: float = 60) -> None:
    """Wait until HAProxy's own checks see every server up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            servers = stack.haproxy_servers()
            down = [name for name, row in servers.items() if row.get("status") != "UP"]
        except (urllib.error.URLError, OSError) as error:
            down = [str(error)]
        if not down:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"HAProxy still sees servers down: {down}")
        time.sleep(0.5)


def _tail(stack: ScaledStack, name: str, lines: int = 30) -> str:
    return "\n".join(stack.log(name).splitlines()[-lines:])


def stop_all(stack: ScaledStack) -> None:
    for process in stack.processes.values():
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for process in stack.processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
