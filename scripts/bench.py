"""make bench: the whole stack under concurrent visitors, through the gateway vs straight to Rasa.

Starts all five services (harness/stack.py) in a temporary directory, then for each
concurrency level runs simulated visitors, each holding one conversation in which it goes
through the four journeys back-to-back (a new visitor takes its place when it is done), twice
with the same turns:

- gateway: the gateway's socket.io endpoint with the stock python-socketio client speaking
  Rasa's channel protocol; a turn ends with the ``pomocnik_status`` "answered" of its ``cid``;
- direct: Rasa's REST channel (``POST /webhooks/rest/webhook``) with httpx.

Measures per-turn latency, throughput, errors (no reply, timeout, transport error, refused
or failed message) and the peak RSS of every service; writes docs/benchmarks/gateway.md.

``--scaled``: the same visitors through the gateway path of both topologies, one after the
other — the embedded one (one process per service) and the scaled one (harness/scaled.py:
HAProxy, two of every service, PostgreSQL, Redis) — side by side in docs/benchmarks/scaled.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

import httpx
import psutil
import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import scaled  # noqa: E402
from harness.stack import Stack, start_stack, stop_stack  # noqa: E402

REPORT = ROOT / "docs" / "benchmarks" / "gateway.md"
SCALED_REPORT = ROOT / "docs" / "benchmarks" / "scaled.md"
TOPOLOGIES = ("embedded", "scaled")
TURN_TIMEOUT = 30.0
SAMPLE_EVERY = 0.2
MB = 1024 * 1024
# All visitors come from 127.0.0.1: the per-session/per-address limits must not get in the way.
RAISED_LIMITS = {
    "GATEWAY_SESSION_MESSAGES_PER_MINUTE": "100000",
    "GATEWAY_ADDRESS_MESSAGES_PER_MINUTE": "100000",
}
# The targets at TARGET_LEVEL concurrent visitors.
TARGET_LEVEL = 50
TARGET_P95_MS = 250.0
TARGET_TURNS_PER_S = 30.0
TARGET_OVERHEAD = 0.10
TARGET_TOTAL_RSS_MB = 2.5 * 1024
PATHS = ("gateway", "direct")
MACHINE = "whole machine"
# Each level runs gateway, direct, direct, gateway (half the turns each): drift on a shared
# machine then weighs on both paths alike.
ORDER = ("gateway", "direct", "direct", "gateway")
MIN_TURNS_PER_VISITOR = 10


# ---------------------------------------------------------------------------------- journeys


@dataclass(frozen=True)
class Turn:
    text: str
    expect: str  # a lower-case fragment the replies contain when the assistant understood


# (ID Comarch, PIN, NIP) of the demo licences in backend/demo_data.py.
LICENCES = (("68577", "4821", "526-025-02-74"), ("70012", "1234", "9541238769"))
WRONG_NIP = "1234567890"  # wrong check digit


def journeys(visitor: int) -> list[list[Turn]]:
    """The four journeys, as typed by real users (mostly without diacritics)."""
    comarch_id, pin, nip = LICENCES[visitor % len(LICENCES)]
    reset = [
        Turn("nie pamietam hasla", "adres e-mail"),
        Turn("jan.kowalski@majafirma.pl", "link"),
        Turn("dzieki", "nie ma za co"),
        Turn("nie, to wszystko", "do widzenia"),
    ]
    packages = [
        Turn("ile kosztuje pakiet srebrny", "299"),
        Turn("czym sie rozni zloty od srebrnego", "złot"),
        Turn("czy jest jakis okres probny?", "testować"),
    ]
    pairing = [
        Turn("jak sparowac telefon z aplikacja ing office", "aktywuj aplikację"),
        Turn("nie, dziekuje", "dobrze"),
    ]
    registration = [
        Turn("chce zarejestrowac licencje", "który pakiet"),
        Turn("zielony", "adres e-mail"),
        Turn(f"biuro.{visitor}@przyklad-bench.pl", "id comarch"),
        Turn(comarch_id, "pin"),
        Turn(pin, "nip"),
        Turn(WRONG_NIP, "cyfra kontrolna"),
        Turn(nip, "imię i nazwisko"),
        Turn("stop", "przerwałem rejestrację"),
    ]
    all_four = [reset, packages, pairing, registration]
    shift = visitor % len(all_four)  # visitors start with different journeys
    return all_four[shift:] + all_four[:shift]


# ---------------------------------------------------------------------------------- channels


class TurnError(Exception):
    """A turn without a reply: timeout, transport error, refused or failed message."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Channel(Protocol):
    async def open(self) -> None: ...
    async def say(self, text: str) -> list[str]: ...
    async def close(self) -> None: ...


class GatewayChannel:
    """One visitor on the gateway's socket.io endpoint, as a stock Rasa widget talks."""

    def __init__(self, url: str, ack_ms: list[float]) -> None:
        self._url = url
        self._ack_ms = ack_ms
        self._sent = 0.0
        self._sio = socketio.AsyncClient(reconnection=False)
        self._session_id: asyncio.Future[str] | None = None
        self._pending: tuple[str, asyncio.Future[str]] | None = None
        self._texts: list[str] = []
        self._sio.on("session_confirm", self._on_confirm)
        self._sio.on("bot_uttered", self._on_uttered)
        self._sio.on("pomocnik_status", self._on_status)

    async def open(self) -> None:
        self._session_id = asyncio.get_running_loop().create_future()
        await self._sio.connect(self._url, transports=["websocket"], wait_timeout=10)
        await self._sio.emit("session_request", {"session_id": None})
        await asyncio.wait_for(self._session_id, 10)

    async def say(self, text: str) -> list[str]:
        cid = uuid.uuid4().hex
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending, self._texts = (cid, done), []
        message = {"message": text, "session_id": self._session_id.result(), "cid": cid}
        self._sent = time.perf_counter()
        await self._sio.emit("user_uttered", message, callback=self._on_ack)
        status = await done
        if status != "answered":
            raise TurnError(f"gateway {status}")
        if not self._texts:
            raise TurnError("no reply")
        return self._texts

    async def close(self) -> None:
        await self._sio.disconnect()

    def _on_confirm(self, session_id: str) -> None:
        if self._session_id is not None and not self._session_id.done():
            self._session_id.set_result(session_id)

    def _on_uttered(self, payload: dict) -> None:
        self._texts.append(payload.get("text") or "")

    def _on_status(self, status: dict) -> None:
        outcome = status.get("status")
        if self._pending and status.get("cid") == self._pending[0] and outcome != "pending":
            self._resolve(str(outcome))

    def _on_ack(self, ack: dict) -> None:
        self._ack_ms.append((time.perf_counter() - self._sent) * 1000)
        if not ack.get("ok"):
            self._resolve(f"refused ({ack.get('error', {}).get('code')})")

    def _resolve(self, outcome: str) -> None:
        if self._pending and not self._pending[1].done():
            self._pending[1].set_result(outcome)


class DirectChannel:
    """One visitor straight on Rasa's REST channel (one sender id per visitor)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._sender = f"bench-{uuid.uuid4().hex}"

    async def open(self) -> None:
        pass

    async def say(self, text: str) -> list[str]:
        response = await self._http.post(
            "/webhooks/rest/webhook", json={"sender": self._sender, "message": text}
        )
        if response.status_code != 200:
            raise TurnError(f"rasa status {response.status_code}")
        texts = [reply.get("text") or "" for reply in response.json()]
        if not texts:
            raise TurnError("no reply")
        return texts

    async def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------- resources


def process_tree(pid: int) -> list[psutil.Process]:
    """A service's process and its children (looked up once per run: services do not fork)."""
    try:
        process = psutil.Process(pid)
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _sum(processes: list[psutil.Process], measure) -> float:
    total = 0.0
    for process in processes:
        try:
            total += measure(process)
        except psutil.NoSuchProcess:
            pass
    return total


def _rss_mb(process: psutil.Process) -> float:
    return process.memory_info().rss / MB


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class ResourceMonitor:
    """Samples the RSS of each service's process tree every SAMPLE_EVERY seconds in a thread;
    the CPU time each service, this client (its own process only) and the rest of the machine
    used between start() and stop()."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._trees = {name: process_tree(pid) for name, pid in pids.items()}
        self._trees["bench client"] = [psutil.Process()]  # the services are its children
        self.peak_mb: dict[str, float] = dict.fromkeys(pids, 0.0)
        self.peak_total_mb = 0.0
        self.cpu_s: dict[str, float] = {}
        self.other_cpu_s = 0.0  # CPU the rest of the machine used meanwhile
        self._cpu_start: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._cpu_start = self._cpu_now()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        now = self._cpu_now()
        self.cpu_s = {name: now[name] - self._cpu_start[name] for name in now}
        machine = self.cpu_s.pop(MACHINE)
        self.other_cpu_s = max(0.0, machine - sum(self.cpu_s.values()))

    def _cpu_now(self) -> dict[str, float]:
        cpu = {name: _sum(tree, _cpu_s) for name, tree in self._trees.items()}
        machine = psutil.cpu_times()  # all processes: busy time of every core
        cpu[MACHINE] = machine.user + machine.nice + machine.system + machine.irq + machine.softirq
        return cpu

    def _run(self) -> None:
        while not self._stop.is_set():
            sample = {name: _sum(self._trees[name], _rss_mb) for name in self.peak_mb}
            for name, mb in sample.items():
                self.peak_mb[name] = max(self.peak_mb[name], mb)
            self.peak_total_mb = max(self.peak_total_mb, sum(sample.values()))
            self._stop.wait(SAMPLE_EVERY)


# ---------------------------------------------------------------------------------- runs


@dataclass
class RunResult:
    path: str
    level: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    off_script: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    peak_mb: dict[str, float] = field(default_factory=dict)
    peak_total_mb: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    # Gateway path: from sending to the acknowledgement (checked, counted and stored; relay begun).
    ack_ms: list[float] = field(default_factory=list)
    # CPU used by processes outside the stack and this client (other work on the machine).
    other_cpu_s: float = 0.0

    def merge(self, other: RunResult) -> RunResult:
        """Two halves of the same run, measured at different moments."""
        return RunResult(
            self.path,
            self.level,
            self.latencies_ms + other.latencies_ms,
            self.errors + other.errors,
            self.off_script + other.off_script,
            self.elapsed_s + other.elapsed_s,
            {name: max(mb, other.peak_mb[name]) for name, mb in self.peak_mb.items()},
            max(self.peak_total_mb, other.peak_total_mb),
            {name: cpu + other.cpu_s[name] for name, cpu in self.cpu_s.items()},
            self.ack_ms + other.ack_ms,
            self.other_cpu_s + other.other_cpu_s,
        )

    @property
    def turns(self) -> int:
        return len(self.latencies_ms) + sum(self.errors.values())

    @property
    def turns_per_s(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def other_cores(self) -> float:
        return self.other_cpu_s / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def mean(self) -> float:
        return sum(self.latencies_ms) / len(self.latencies_ms) if self.latencies_ms else math.nan

    def percentile(self, p: float) -> float:
        return percentile(self.latencies_ms, p)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class Budget:
    """The turns left in a run, shared by its visitors."""

    def __init__(self, turns: int) -> None:
        self.left = turns

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


async def visitor(channel: Channel, number: int, budget: Budget, result: RunResult) -> None:
    """One conversation through the four journeys; stops at the first failed turn."""
    try:
        await asyncio.wait_for(channel.open(), TURN_TIMEOUT)
        for turn in itertools.chain.from_iterable(journeys(number)):
            if not budget.take():
                return
            started = time.perf_counter()
            try:
                replies = await asyncio.wait_for(channel.say(turn.text), TURN_TIMEOUT)
            except TurnError as exc:
                result.errors[exc.kind] += 1
                return
            except asyncio.TimeoutError:
                result.errors["timeout"] += 1
                return
            except (httpx.HTTPError, socketio.exceptions.SocketIOError, OSError) as exc:
                result.errors[f"transport {type(exc).__name__}"] += 1
                return
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            said = "\n".join(replies)
            if turn.expect not in said.lower():
                result.off_script.append(f"{turn.text!r} -> {said[:120]!r}")
    finally:
        await channel.close()


async def visitor_slot(
    new_channel: Callable[[], Channel],
    numbers: Iterator[int],
    budget: Budget,
    result: RunResult,
    stagger: float,
) -> None:
    """Visitors one after another while turns are left (a new one when one is done)."""
    await asyncio.sleep(random.uniform(0, stagger))
    while budget.left > 0:
        try:
            await visitor(new_channel(), next(numbers), budget, result)
        except (asyncio.TimeoutError, socketio.exceptions.SocketIOError, OSError) as exc:
            result.errors[f"connect {type(exc).__name__}"] += 1
            budget.take()


async def run(stack: Stack, path: str, level: int, turns: int) -> RunResult:
    result = RunResult(path, level)
    limits = httpx.Limits(max_connections=level, max_keepalive_connections=level)
    async with httpx.AsyncClient(
        base_url=stack.url("rasa"), timeout=TURN_TIMEOUT, limits=limits, trust_env=False
    ) as http:

        def new_channel() -> Channel:
            if path == "gateway":
                return GatewayChannel(stack.url("gateway"), result.ack_ms)
            return DirectChannel(http)

        monitor = ResourceMonitor({name: p.pid for name, p in stack.processes.items()})
        budget, numbers = Budget(turns), itertools.count()  # the same visitors on both paths
        random.seed(level)
        monitor.start()
        started = time.perf_counter()
        stagger = 0.0 if level == 1 else 1.0
        await asyncio.gather(
            *(visitor_slot(new_channel, numbers, budget, result, stagger) for _ in range(level))
        )
        result.elapsed_s = time.perf_counter() - started
        monitor.stop()
    result.peak_mb, result.peak_total_mb = monitor.peak_mb, monitor.peak_total_mb
    result.cpu_s, result.other_cpu_s = monitor.cpu_s, monitor.other_cpu_s
    return result


# ---------------------------------------------------------------------------------- output


def fmt(value: float, digits: int = 0) -> str:
    return "–" if math.isnan(value) else f"{value:,.{digits}f}".replace(",", " ")


def results_table(results: list[RunResult]) -> str:
    rows = [
        "| visitors | path | turns | errors | off-script | p50 ms | p95 ms | p99 ms | turns/s "
        "| peak RSS, all services | other load |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rows.append(
            f"| {r.level} | {r.path} | {r.turns} | {sum(r.errors.values())} | {len(r.off_script)} "
            f"| {fmt(r.percentile(50))} | {fmt(r.percentile(95))} | {fmt(r.percentile(99))} "
            f"| {fmt(r.turns_per_s, 1)} | {fmt(r.peak_total_mb)} MB | {r.other_cores:.1f} cores |"
        )
    return "\n".join(rows)


def pairs(results: list[RunResult]) -> dict[int, dict[str, RunResult]]:
    by_level: dict[int, dict[str, RunResult]] = {}
    for r in results:
        by_level.setdefault(r.level, {})[r.path] = r
    return {level: paths for level, paths in by_level.items() if set(paths) == set(PATHS)}


def ratio(result: dict[str, RunResult], p: float) -> float:
    return result["gateway"].percentile(p) / result["direct"].percentile(p)


def mean_ratio(result: dict[str, RunResult]) -> float:
    return result["gateway"].mean / result["direct"].mean


def ratio_table(results: list[RunResult]) -> str:
    rows = [
        "| visitors | p50 gateway / direct | p95 gateway / direct | mean gateway / direct "
        "| p50 difference |",
        "|---:|---:|---:|---:|---:|",
    ]
    for level, pair in pairs(results).items():
        difference = pair["gateway"].percentile(50) - pair["direct"].percentile(50)
        rows.append(
            f"| {level} | {ratio(pair, 50):.2f} | {ratio(pair, 95):.2f} | {mean_ratio(pair):.2f} "
            f"| {difference:+.0f} ms |"
        )
    return "\n".join(rows)


def per_run_table(
    results: list[RunResult], columns: list[str], cell: Callable[[RunResult, str], str]
) -> str:
    """One row per run (level, path), one column per process."""
    rows = [
        "| visitors | path | " + " | ".join(columns) + " |",
        "|---:|---|" + "---:|" * len(columns),
    ]
    for r in results:
        rows.append(f"| {r.level} | {r.path} | " + " | ".join(cell(r, c) for c in columns) + " |")
    return "\n".join(rows)


def memory_table(results: list[RunResult]) -> str:
    """Peak RSS per service, and of all of them at the same moment (MB)."""
    return per_run_table(
        results,
        [*results[0].peak_mb, "all"],
        lambda r, c: fmt(r.peak_total_mb if c == "all" else r.peak_mb[c]),
    )


def cpu_ms_per_turn(result: RunResult, process: str) -> float:
    return 1000 * result.cpu_s[process] / max(1, len(result.latencies_ms))


def cpu_table(results: list[RunResult]) -> str:
    """CPU time per answered turn (ms), and the share of one core, per process."""
    return per_run_table(
        results,
        list(results[0].cpu_s),
        lambda r, c: f"{cpu_ms_per_turn(r, c):.0f} ({100 * r.cpu_s[c] / r.elapsed_s:.0f} %)",
    )


def errors_line(results: list[RunResult]) -> str:
    found = [f"{r.level} {r.path}: {dict(r.errors)}" for r in results if r.errors]
    return "; ".join(found) if found else "none"


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool


def verdicts(results: list[RunResult]) -> list[Verdict]:
    pair = pairs(results).get(TARGET_LEVEL)
    if pair is None:
        return []
    gateway = pair["gateway"]
    overhead = ratio(pair, 50) - 1
    total_mb = max(r.peak_total_mb for r in results)
    return [
        Verdict("0 errors", f"{sum(gateway.errors.values())} through the gateway, "
                f"{sum(pair['direct'].errors.values())} direct", not gateway.errors),
        Verdict(f"p95 ≤ {TARGET_P95_MS:.0f} ms", f"{fmt(gateway.percentile(95))} ms "
                f"(direct: {fmt(pair['direct'].percentile(95))} ms)",
                gateway.percentile(95) <= TARGET_P95_MS),
        Verdict(f"≥ {TARGET_TURNS_PER_S:.0f} turns/s", f"{gateway.turns_per_s:.1f} turns/s "
                f"(direct: {pair['direct'].turns_per_s:.1f})",
                gateway.turns_per_s >= TARGET_TURNS_PER_S),
        Verdict(f"gateway overhead ≤ {TARGET_OVERHEAD:.0%} at p50", f"{overhead:+.0%} "
                f"({fmt(gateway.percentile(50))} vs {fmt(pair['direct'].percentile(50))} ms; "
                f"mean {mean_ratio(pair) - 1:+.0%})",
                overhead <= TARGET_OVERHEAD),
        Verdict(f"all services ≤ {TARGET_TOTAL_RSS_MB / 1024:.1f} GB", f"{fmt(total_mb)} MB peak",
                total_mb <= TARGET_TOTAL_RSS_MB),
    ]


def verdict_table(results: list[RunResult]) -> str:
    rows = ["| target (at 50 visitors, gateway) | measured | |", "|---|---|---|"]
    for v in verdicts(results):
        rows.append(f"| {v.target} | {v.measured} | {'met' if v.met else '**missed**'} |")
    return "\n".join(rows)


def machine() -> str:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )
    memory_gb = psutil.virtual_memory().total / 1024**3
    return (f"{os.cpu_count()} logical CPUs ({psutil.cpu_count(logical=False)} physical), "
            f"{model}, {memory_gb:.0f} GB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()} (client)")


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    return head + (" (with uncommitted changes)" if git("status", "--porcelain").strip() else "")


def write_report(results: list[RunResult], args: argparse.Namespace, analysis: str) -> None:
    levels = ", ".join(str(level) for level in args.levels)
    REPORT.write_text(f"""# Gateway benchmark

`make bench` (`scripts/bench.py`) — written by the script; re-run it to refresh.

- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC
- machine: {machine()}
- commit: {commit()}

## Method

All five services run as real processes (`harness/stack.py`: fresh seeded backend
database, the real tracker store, the model `var/models/pomocnik.tar.gz`), with the gateway's
per-session and per-address message limits raised to 100 000/min (every simulated visitor comes
from 127.0.0.1); everything else is as shipped (SQLite databases, one process per service).

A simulated visitor holds one conversation and goes through the four journeys back-to-back,
each visitor starting with a different one; when it is done a new visitor takes its place, so
the number of concurrent visitors stays at the level. The journeys, typed as users type (mostly
without diacritics): password reset ("nie pamietam hasla", the demo e-mail, thanks, goodbye;
4 turns), packages (price of the silver package, gold vs silver, the trial; 3), phone pairing
(steps, "nie, dziekuje"; 2), registration of a Comarch licence (package, a per-visitor e-mail,
ID Comarch, PIN, the wrong NIP {WRONG_NIP}, the licence's right NIP, then "stop" before
anything is sent; 8) — 17 turns; 13 of them call the action server and 4 of those the backend
(the reset request, the package catalogue).

The same turns go two ways:

- **gateway**: the gateway's socket.io endpoint with the stock python-socketio `AsyncClient`
  speaking Rasa's channel protocol (`session_request` → `session_confirm`, `user_uttered` with
  `message`, `session_id`, `cid` → `bot_uttered`); a turn ends when the gateway's
  `pomocnik_status` "answered" for its `cid` arrives (every `bot_uttered` of the turn comes
  before it);
- **direct**: Rasa's REST channel `POST /webhooks/rest/webhook` with httpx, one sender per visitor.

Per level and path: {args.turns} turns (at least {MIN_TURNS_PER_VISITOR} per visitor) after a
warm-up of {args.warmup} turns per path, run in two halves in the order gateway, direct, direct,
gateway so that drift on the shared machine weighs on both paths alike; the same visitors in the
same order on both paths. Visitors start within the first second and send their
next message as soon as a turn ends (no thinking time, so N visitors keep N turns in flight; real
visitors who pause between messages load the stack far less per head). Latency is from sending to
the end of the turn. An **error** is a turn without a reply: timeout ({TURN_TIMEOUT:.0f} s),
transport error, a refused message (error acknowledgement) or the gateway's "failed" status; a
visitor stops at its first error. **Off-script** counts answered turns whose reply lacked the
expected fragment (a journey not understood as scripted; not an error). Memory: RSS of each
service's process tree sampled every {SAMPLE_EVERY} s; the total is the peak of the simultaneous
sum. CPU: user + system time of each process tree during the run; **other load** is the CPU the
rest of the machine (other jobs) used meanwhile, in cores. Levels: {levels}.

The machine has {os.cpu_count()} shared cores and the client runs on them too: single values move
between runs; read medians and ratios.

## Results

{results_table(results)}

Errors by kind: {errors_line(results)}.

Gateway vs direct (same turns, same levels):

{ratio_table(results)}

Peak RSS per service (MB, process tree):

{memory_table(results)}

Where the time goes — CPU time per answered turn in ms (and share of one core), per process:

{cpu_table(results)}

## Verdict

{verdict_table(results)}

{analysis}
""", encoding="utf-8")


def turn_cpu_ms(result: RunResult) -> float:
    """CPU per answered turn of all the services together."""
    services = [name for name in result.cpu_s if name != "bench client"]
    return sum(cpu_ms_per_turn(result, name) for name in services)


def analysis_text(results: list[RunResult], rasa_api: bool) -> str:
    """Where the time goes, from the measurements: the facts behind the verdict."""
    pair = pairs(results).get(TARGET_LEVEL)
    if pair is None:
        return ""
    gateway, direct = pair["gateway"], pair["direct"]
    cores = os.cpu_count() or 1
    lines = [
        _rasa_alone(direct, cores),
        _queueing(gateway),
        _gateway_cost(pair, rasa_api),
    ]
    single = pairs(results).get(1)
    if single is not None:
        lines.append(_one_visitor(single))
    others = max(r.other_cores for r in results)
    if others >= 0.2:
        lines.append(
            f"Other jobs on the machine used up to {others:.1f} of its {cores} cores during the "
            "runs (column \"other load\"): the stack had less CPU than the machine has, so "
            "absolute numbers are pessimistic; the gateway/direct ratios, measured in "
            "alternating halves, are the robust part.")
    if gateway.errors:
        lines.append(f"**Errors** through the gateway: {dict(gateway.errors)}.")
    if gateway.errors.get("gateway failed"):
        lines.append(
            "\"gateway failed\" is the gateway reporting the message as failed (the visitor may "
            "send it again) because Rasa did not answer within `RASA_TIMEOUT_SECONDS` (15 s "
            "here), answered with an error status or could not be reached: the gateway's log "
            "says which (`rasa unavailable ... reason=`; `--keep-logs` keeps it); straight to "
            f"Rasa the client waits up to {TURN_TIMEOUT:.0f} s instead.")
    return "\n\n".join(lines)


def _one_visitor(pair: dict[str, RunResult]) -> str:
    gateway, direct = pair["gateway"], pair["direct"]
    alone, rasa_ms = direct.percentile(95), cpu_ms_per_turn(direct, "rasa")
    cpu_bound = (
        " — most of the direct latency: a turn is CPU work in Rasa, not waiting on the actions "
        "or the backend" if rasa_ms >= 0.6 * direct.mean else "")
    return (
        f"With **one visitor** (no queue) a turn takes {fmt(direct.percentile(50))} ms at p50 "
        f"straight to Rasa and {fmt(gateway.percentile(50))} ms through the gateway "
        f"({ratio(pair, 50) - 1:+.0%}; acknowledged after {fmt(percentile(gateway.ack_ms, 50))} "
        f"ms), p95 {fmt(alone)} and {fmt(gateway.percentile(95))} ms; CPU per turn: the "
        f"gateway {cpu_ms_per_turn(gateway, 'gateway'):.0f} ms, Rasa "
        f"{cpu_ms_per_turn(gateway, 'rasa'):.0f} ms through the gateway and "
        f"{rasa_ms:.0f} ms direct{cpu_bound}. Rasa's own processing, without any queue, is "
        f"{'above' if alone > TARGET_P95_MS else 'within'} the p95 target.")


def _rasa_alone(direct: RunResult, cores: int) -> str:
    rasa_ms = cpu_ms_per_turn(direct, "rasa")
    busy = (sum(direct.cpu_s.values()) + direct.other_cpu_s) / direct.elapsed_s / cores
    limit = "the limit is CPU" if busy >= 0.85 else "the machine was not saturated"
    all_cores = TARGET_TURNS_PER_S * turn_cpu_ms(direct) / 1000
    fits = "more than the machine has" if all_cores > cores else f"within its {cores} cores"
    return (
        f"**Rasa alone** (direct, {TARGET_LEVEL} visitors): p50 {fmt(direct.percentile(50))} ms, "
        f"p95 {fmt(direct.percentile(95))} ms, {direct.turns_per_s:.1f} turns/s. Rasa spends "
        f"{rasa_ms:.0f} ms of CPU per turn (the action server "
        f"{cpu_ms_per_turn(direct, 'actions'):.0f} ms, the backend "
        f"{cpu_ms_per_turn(direct, 'backend'):.0f} ms) in one process, and ran at "
        f"{direct.cpu_s['rasa'] / direct.elapsed_s:.0%} of one core while the machine's {cores} "
        f"cores were {busy:.0%} busy (this stack and other jobs): {limit}. "
        f"{TARGET_TURNS_PER_S:.0f} turns/s would take {TARGET_TURNS_PER_S * rasa_ms / 1000:.1f} "
        f"cores for Rasa alone ({all_cores:.1f} for all services), {fits}; all conversations go "
        "through the one Rasa process (more need several, with the Redis lock store and a "
        "shared tracker store, see docs/architecture.md).")


def _queueing(gateway: RunResult) -> str:
    needed = TARGET_LEVEL / (TARGET_P95_MS / 1000)
    return (
        f"With {TARGET_LEVEL} visitors sending back-to-back, {TARGET_LEVEL} turns are always in "
        f"flight, so the mean latency is {TARGET_LEVEL} / throughput (Little's law): "
        f"{TARGET_LEVEL} / {gateway.turns_per_s:.1f} turns/s ≈ "
        f"{TARGET_LEVEL / max(gateway.turns_per_s, 1e-9):.1f} s through the gateway, nearly all "
        f"of it queueing. A p95 of {TARGET_P95_MS:.0f} ms at this load needs more than "
        f"{needed:.0f} turns/s, far beyond the throughput target; even with "
        f"{TARGET_TURNS_PER_S:.0f} turns/s, {TARGET_LEVEL} visitors would get "
        f"≤ {TARGET_P95_MS:.0f} ms only if each paused over a second between messages, as "
        "people do.")


def _gateway_cost(pair: dict[str, RunResult], rasa_api: bool) -> str:
    gateway, direct = pair["gateway"], pair["direct"]
    through, straight = turn_cpu_ms(gateway), turn_cpu_ms(direct)
    rasa_extra = cpu_ms_per_turn(gateway, "rasa") - cpu_ms_per_turn(direct, "rasa")
    text = (
        f"**The gateway** spends {cpu_ms_per_turn(gateway, 'gateway'):.0f} ms of CPU per turn "
        "(validation, limit counters and transcript in SQLite through aiosqlite's thread, "
        "socket.io); it acknowledges a message (checked, counted, stored; the relay to Rasa "
        f"starts) after {fmt(percentile(gateway.ack_ms, 50))} ms at p50. All services together "
        f"used {through:.0f} ms of CPU per turn through the gateway against {straight:.0f} ms "
        f"direct ({through / straight - 1:+.0%}): the gateway's own CPU and {rasa_extra:+.0f} ms "
        "in Rasa")
    if rasa_api:
        text += (
            ", which on the gateway path reads the message's metadata and answers with the "
            "turn's summary (`bot/rasa_ext/channel.py`: the understood intent for the advisers; "
            "no tracker is read per turn)")
    return text + (
        f". Where CPU is the limit that extra cost lowers the throughput "
        f"({gateway.turns_per_s:.1f} vs {direct.turns_per_s:.1f} turns/s, "
        f"{gateway.turns_per_s / direct.turns_per_s - 1:+.0%}), and with back-to-back visitors "
        f"the mean latency rises in proportion ({mean_ratio(pair) - 1:+.0%}). The median differs "
        f"by {ratio(pair, 50) - 1:+.0%} and the p95 by {ratio(pair, 95) - 1:+.0%} because the "
        "two paths spread the same queue differently: straight to Rasa p95 is "
        f"{direct.percentile(95) / direct.percentile(50):.1f}× p50 (many fast turns, a long "
        f"tail), through the gateway {gateway.percentile(95) / gateway.percentile(50):.1f}×.")


def print_summary(results: list[RunResult]) -> None:
    print("\n" + results_table(results))
    print("\n" + ratio_table(results))
    print("\nerrors:", errors_line(results))
    for r in results:
        for line in r.off_script[:3]:
            print(f"off-script ({r.level} {r.path}): {line}")
    if pairs(results).get(TARGET_LEVEL):
        print("\n" + verdict_table(results))


# ---------------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,10,50",
                        help="concurrent visitors, comma-separated (default 1,10,50)")
    parser.add_argument("--turns", type=int, default=400,
                        help="measured turns per level and path, at least "
                        f"{MIN_TURNS_PER_VISITOR} per visitor (default 400)")
    parser.add_argument("--warmup", type=int, default=40, help="warm-up turns per path")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: levels 1,10, 40 turns, no report written")
    parser.add_argument("--keep-logs", type=Path, metavar="DIR",
                        help="copy every service's log (and HAProxy's configuration) into DIR "
                        "before the temporary directory is deleted")
    parser.add_argument("--scaled", action="store_true",
                        help="the gateway path of the embedded and the scaled topology side by "
                        "side (writes docs/benchmarks/scaled.md)")
    args = parser.parse_args()
    if args.quick:
        args.levels, args.turns, args.warmup = "1,10", 40, 10
    args.levels = [int(level) for level in args.levels.split(",")]
    return args


async def bench(stack: Stack, args: argparse.Namespace) -> list[RunResult]:
    for path in PATHS:
        warm = await run(stack, path, 2, args.warmup)
        print(f"warm-up {path}: {len(warm.latencies_ms)} turns, errors {dict(warm.errors)}",
              flush=True)
    results = []
    for level in args.levels:
        halves: dict[str, list[RunResult]] = {path: [] for path in PATHS}
        turns = max(args.turns, MIN_TURNS_PER_VISITOR * level) // 2
        for path in ORDER:
            half = await run(stack, path, level, turns)
            print(f"{level:>3} {path:<8} {half.turns} turns in {half.elapsed_s:.1f} s, "
                  f"p50 {fmt(half.percentile(50))} ms, p95 {fmt(half.percentile(95))} ms, "
                  f"errors {sum(half.errors.values())}, other load {half.other_cores:.1f} cores",
                  flush=True)
            halves[path].append(half)
        results += [first.merge(second) for first, second in halves.values()]
    return results


# ---------------------------------------------------------------------------------- --scaled


def service_of(process: str) -> str:
    """"gateway2" -> "gateway": the replicas of a service are reported together."""
    return process.rstrip("0123456789")


def per_service(values: dict[str, float]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for process, value in values.items():
        totals[service_of(process)] = totals.get(service_of(process), 0.0) + value
    return totals


async def bench_gateway_path(stack, args: argparse.Namespace) -> list[RunResult]:
    warm = await run(stack, "gateway", 2, args.warmup)
    print(f"warm-up: {len(warm.latencies_ms)} turns, errors {dict(warm.errors)}", flush=True)
    results = []
    for level in args.levels:
        result = await run(stack, "gateway", level, max(args.turns, MIN_TURNS_PER_VISITOR * level))
        print(f"{level:>3} {result.turns} turns in {result.elapsed_s:.1f} s, "
              f"p50 {fmt(result.percentile(50))} ms, p95 {fmt(result.percentile(95))} ms, "
              f"{result.turns_per_s:.1f} turns/s, errors {sum(result.errors.values())}, "
              f"other load {result.other_cores:.1f} cores", flush=True)
        results.append(result)
    return results


def keep_logs(workdir: Path, target: Path | None, name: str) -> None:
    """``--keep-logs``: the services' logs of one stack, copied to ``target/name/``."""
    if target is None:
        return
    destination = target / name
    destination.mkdir(parents=True, exist_ok=True)
    for path in [*workdir.glob("*.log"), *workdir.glob("*.cfg")]:
        shutil.copy2(path, destination / path.name)
    print(f"logs kept in {destination}", flush=True)


def run_embedded(args: argparse.Namespace) -> tuple[list[RunResult], float]:
    with tempfile.TemporaryDirectory(prefix="pomocnik-bench-") as workdir:
        started = time.monotonic()
        stack = start_stack(Path(workdir), extra_env=RAISED_LIMITS)
        up = time.monotonic() - started
        print(f"embedded stack up in {up:.0f} s", flush=True)
        try:
            return asyncio.run(bench_gateway_path(stack, args)), up
        finally:
            stop_stack(stack)
            keep_logs(Path(workdir), args.keep_logs, "embedded")


def run_scaled(args: argparse.Namespace) -> tuple[list[RunResult], float]:
    with tempfile.TemporaryDirectory(prefix="pomocnik-bench-scaled-") as workdir:
        started = time.monotonic()
        stack, haproxy = scaled.prepare(Path(workdir), extra_env=RAISED_LIMITS)
        try:
            scaled.start(stack, haproxy)
            scaled.wait_healthy(stack, 600)
            scaled.wait_balanced(stack)
            up = time.monotonic() - started
            print(f"scaled stack up in {up:.0f} s", flush=True)
            return asyncio.run(bench_gateway_path(stack, args)), up
        finally:
            scaled.stop_all(stack)
            scaled.drop_databases(stack)
            keep_logs(Path(workdir), args.keep_logs, "scaled")


def scaled_table(results: dict[str, list[RunResult]]) -> str:
    rows = [
        "| visitors | topology | turns | errors | p50 ms | p95 ms | p99 ms | turns/s "
        "| CPU ms per turn, all services | peak RSS, all services | other load |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    levels = [r.level for r in results["embedded"]]
    for index, level in enumerate(levels):
        for topology in TOPOLOGIES:
            r = results[topology][index]
            rows.append(
                f"| {level} | {topology} | {r.turns} | {sum(r.errors.values())} "
                f"| {fmt(r.percentile(50))} | {fmt(r.percentile(95))} | {fmt(r.percentile(99))} "
                f"| {fmt(r.turns_per_s, 1)} | {turn_cpu_ms(r):.0f} | {fmt(r.peak_total_mb)} MB "
                f"| {r.other_cores:.1f} cores |")
    return "\n".join(rows)


def scaled_service_table(results: dict[str, list[RunResult]], what: str) -> str:
    """CPU ms per answered turn (``cpu``) or peak RSS in MB (``rss``, replicas' peaks summed)
    per service, replicas together."""
    services = sorted({service_of(name) for rs in results.values() for r in rs
                       for name in r.cpu_s if name != "bench client"})
    rows = ["| visitors | topology | " + " | ".join(services) + " |",
            "|---:|---|" + "---:|" * len(services)]
    for index, level in enumerate(r.level for r in results["embedded"]):
        for topology in TOPOLOGIES:
            r = results[topology][index]
            if what == "cpu":
                values = per_service({k: v for k, v in r.cpu_s.items() if k != "bench client"})
                cells = [f"{1000 * values[name] / max(1, len(r.latencies_ms)):.0f}"
                         if name in values else "–" for name in services]
            else:
                values = per_service(r.peak_mb)
                cells = [fmt(values[name]) if name in values else "–" for name in services]
            rows.append(f"| {level} | {topology} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def write_scaled_report(results: dict[str, list[RunResult]], started: dict[str, float],
                        args: argparse.Namespace) -> None:
    levels = ", ".join(str(level) for level in args.levels)
    SCALED_REPORT.write_text(f"""# Embedded vs scaled topology

`make bench-scaled` (`scripts/bench.py --scaled`) — written by the script; re-run it to
refresh.

- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC
- machine: {machine()}
- commit: {commit()}

## Method

The visitors, journeys and measurements of [gateway.md](gateway.md), on the **gateway path
only** (the stock socket.io client, as the widget talks), through two topologies one after the
other on the same machine:

- **embedded**: `make run`'s shape — one process per service, SQLite, in-memory lock store
  (`harness/stack.py`), started in {started["embedded"]:.0f} s;
- **scaled**: `make run-scaled`'s shape — HAProxy in front of two gateways (websocket; Redis
  fan-out), two Rasa servers (tracker store on PostgreSQL, Redis lock store), two action servers
  and two backends on PostgreSQL (`harness/scaled.py`), started in
  {started["scaled"]:.0f} s. PostgreSQL and Redis are the machine's own servers: their CPU is
  in "other load", not in the services' columns.

Per level: {args.turns} turns (at least {MIN_TURNS_PER_VISITOR} per visitor) after a warm-up of
{args.warmup} turns; the gateway's message limits raised as in gateway.md. Levels: {levels}.
CPU per turn: user + system time of each service's processes (replicas summed; HAProxy is
`haproxy`) divided by answered turns. Peak RSS per service: the replicas' peaks added.

## Results

{scaled_table(results)}

Errors by kind: embedded {errors_line(results["embedded"])}; scaled {errors_line(results["scaled"])}.

CPU per answered turn (ms), per service:

{scaled_service_table(results, "cpu")}

Peak RSS per service (MB):

{scaled_service_table(results, "rss")}

## Reading it

The machine has {os.cpu_count()} cores, shared with the client, PostgreSQL and Redis. Two
replicas of every service on the same cores add work (HAProxy, PostgreSQL instead of SQLite, the
Redis lock's polling, twice the resident models) rather than capacity: this compares the cost of
the topology on one host. Throughput grows with replicas only when they get cores of their own
(several hosts, or a larger host): Rasa's CPU per turn above is the figure to size by.
""", encoding="utf-8")


def scaled_main(args: argparse.Namespace) -> None:
    results: dict[str, list[RunResult]] = {}
    started: dict[str, float] = {}
    results["embedded"], started["embedded"] = run_embedded(args)
    results["scaled"], started["scaled"] = run_scaled(args)
    print("\n" + scaled_table(results))
    print("\n" + scaled_service_table(results, "cpu"))
    if not args.quick:
        write_scaled_report(results, started, args)
        print(f"\nreport: {SCALED_REPORT.relative_to(ROOT)}")


def main() -> None:
    args = parse_args()
    if args.scaled:
        scaled_main(args)
        return
    with tempfile.TemporaryDirectory(prefix="pomocnik-bench-") as workdir:
        started = time.monotonic()
        stack = start_stack(Path(workdir), extra_env=RAISED_LIMITS)
        print(f"stack up in {time.monotonic() - started:.0f} s", flush=True)
        rasa_api = "--enable-api" in stack.processes["rasa"].args
        try:
            results = asyncio.run(bench(stack, args))
        finally:
            stop_stack(stack)
            keep_logs(Path(workdir), args.keep_logs, "stack")
    print_summary(results)
    if not args.quick:
        write_report(results, args, analysis_text(results, rasa_api))
        print(f"\nreport: {REPORT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
