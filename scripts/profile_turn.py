"""make profile-turn: where the time of one turn goes, and what TensorFlow's thread settings change.

    .venv/rasa/bin/python scripts/profile_turn.py [--visitors 2] [--rounds 2] [--quick]
                                                  [--hops-only]

Runs in Rasa's environment (Rasa is profiled in this process's children) and takes about ten
minutes on 2 cores (most of it loading the model in each child):

1. starts all five services as real processes (harness/stack.py, the shipped settings:
   SQLite, the real tracker store, the model var/models/pomocnik.tar.gz);
2. **HTTP hops**, one visitor at a time (no queue): the same turns of the benchmark's four
   journeys straight to Rasa's REST channel, straight to the gateway's channel (the REST
   channel that also answers the turn's summary, bot/rasa_ext/channel.py) and through the
   gateway's JSON API, each turn timed, plus a read of Rasa's tracker after a turn
   (``GET /conversations/<id>/tracker``, which the gateway made after every turn before the
   channel answered the summary) on its own; the CPU each service process used
   (``--hops-only``: only this, printed);
3. **in-process** (a child process per setting): Rasa's ``Agent`` loaded with the same
   endpoints (the stack's action server, the same secret-protecting SQL tracker store on a
   file of its own) handles the same turns; NLU, policy prediction, tracker load (and the
   decryption inside it), tracker save and the action server's HTTP round trip are timed by
   wrapping Rasa's own methods, wall and CPU; one child also runs the turns under cProfile;
4. the same in-process turns with TensorFlow's thread pools set through Rasa's variables
   ``TF_INTRA_OP_PARALLELISM_THREADS`` / ``TF_INTER_OP_PARALLELISM_THREADS`` (which ``rasa
   run`` applies at start), and once more with Rasa's own check of the action server's answers
   instead of ours (bot/rasa_ext/action_check.py, which ``bot.rasa_cli`` installs and the other
   in-process runs install too): the settings interleaved over ``--rounds`` rounds; every
   in-process run has RulePolicy's cache of parsed rules (bot/rasa_ext/rule_cache.py), as
   ``bot.rasa_cli`` installs it;
5. the resident memory (VmRSS now, VmHWM peak) of every service process after the turns.

Writes docs/benchmarks/turn_profile.md (``--quick``: fewer turns, prints only).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.stack import MODEL, Stack, start_stack, stop_stack  # noqa: E402

REPORT = ROOT / "docs" / "benchmarks" / "turn_profile.md"
TICKS = os.sysconf("SC_CLK_TCK")
SERVICES = ("mailsink", "backend", "actions", "rasa", "gateway")
# (label, TF_INTRA_OP_PARALLELISM_THREADS, TF_INTER_OP_PARALLELISM_THREADS, the cached check of
# bot/rasa_ext/action_check.py as bot.rasa_cli installs it); None = unset. The first is the one
# the breakdown is made of; the last is Rasa 3.6's own check, for comparison.
RASA_CHECK_LABEL = "default (unset), Rasa's own jsonschema check"
TF_SETTINGS = (("default (unset)", None, None, True), ("intra 1, inter 1", "1", "1", True),
               ("intra 2, inter 1", "2", "1", True), (RASA_CHECK_LABEL, None, None, False))
# Components timed in process, in the order of a turn.
COMPONENTS = (
    ("lock", "lock store (acquire + release)"),
    ("load", "tracker load (retrieve)"),
    ("decrypt", "  of which: decryption of secret slots"),
    ("nlu", "NLU (parse_message)"),
    ("policies", "policies (action prediction, all steps)"),
    ("action_http", "action server round trip (HTTP)"),
    ("action_check", "check of the action server's answer (jsonschema)"),
    ("save", "tracker save (protect + encrypt + write)"),
)


# ------------------------------------------------------------------------------- the turns


# (ID Comarch, PIN, NIP) of the demo licences in backend/demo_data.py, as scripts/bench.py.
LICENCES = (("68577", "4821", "526-025-02-74"), ("70012", "1234", "9541238769"))


def visitor_turns(visitor: int) -> list[str]:
    """The benchmark's four journeys (scripts/bench.py, 17 turns), as one conversation."""
    comarch_id, pin, nip = LICENCES[visitor % len(LICENCES)]
    return [
        "nie pamietam hasla", "jan.kowalski@majafirma.pl", "dzieki", "nie, to wszystko",
        "ile kosztuje pakiet srebrny", "czym sie rozni zloty od srebrnego",
        "czy jest jakis okres probny?",
        "jak sparowac telefon z aplikacja ing office", "nie, dziekuje",
        "chce zarejestrowac licencje", "zielony", f"profil.{visitor}@przyklad-bench.pl",
        comarch_id, pin, "1234567890", nip, "stop",
    ]


# ------------------------------------------------------------------------------- helpers


def cpu_seconds(pid: int) -> float:
    """user + system CPU of a process and its reaped children (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / TICKS


def busy_cpu_seconds() -> float:
    """CPU time the whole machine spent busy (all cores, from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / TICKS


def memory_kib(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def post_json(url: str, body: dict, headers: dict | None = None, timeout: float = 60) -> object:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"content-type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def get(url: str, headers: dict | None = None, timeout: float = 60) -> bytes:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


# ------------------------------------------------------------------------------- HTTP hops


CHANNEL_WEBHOOK = "/webhooks/pomocnik/webhook"  # the gateway's channel (bot/rasa_ext/channel.py)


def http_hops(stack: Stack, visitors: list[int]) -> dict:
    pids = {name: stack.processes[name].pid for name in SERVICES}
    rasa, gateway = stack.url("rasa"), stack.url("gateway")
    token = urllib.parse.quote(stack.service_token)
    result: dict = {"direct_ms": [], "channel_ms": [], "gateway_ms": [], "tracker_get_ms": [],
                    "cpu": {}}

    # Straight to Rasa's REST channel; after each turn, a read of the tracker on its own (what
    # the gateway did after every turn before Rasa's channel answered the turn's summary).
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    tracker_cpu = 0.0
    for visitor in visitors:
        sender = f"profile-{uuid.uuid4().hex}"
        for text in visitor_turns(visitor):
            started = time.perf_counter()
            replies = post_json(f"{rasa}/webhooks/rest/webhook", {"sender": sender, "message": text})
            result["direct_ms"].append((time.perf_counter() - started) * 1000)
            if not replies:
                raise RuntimeError(f"Rasa gave no reply to {text!r}")
            rasa_cpu = cpu_seconds(pids["rasa"])
            started = time.perf_counter()
            # As the gateway read it: Rasa's token parameter, the events after the last restart.
            get(f"{rasa}/conversations/{sender}/tracker?include_events=AFTER_RESTART&token={token}")
            result["tracker_get_ms"].append((time.perf_counter() - started) * 1000)
            tracker_cpu += cpu_seconds(pids["rasa"]) - rasa_cpu
    turns = sum(len(visitor_turns(v)) for v in visitors)
    after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    result["cpu"]["direct"] = {
        name: (after[name] - before[name] - (tracker_cpu if name == "rasa" else 0)) / turns * 1000
        for name in pids
    }
    result["tracker_get_cpu_ms"] = tracker_cpu / turns * 1000

    # Straight to the gateway's channel (the REST channel plus the turn's summary), with the
    # gateway's turn marker; skipped when this Rasa has no such channel.
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    try:
        message_id = 0
        for visitor in visitors:
            sender = f"profile-{uuid.uuid4().hex}"
            for text in visitor_turns(visitor):
                message_id += 1
                started = time.perf_counter()
                answer = post_json(f"{rasa}{CHANNEL_WEBHOOK}", {
                    "sender": sender, "message": text,
                    "metadata": {"pomocnik_turn": {"message": message_id}},
                })
                result["channel_ms"].append((time.perf_counter() - started) * 1000)
                if not answer.get("messages") or not answer.get("turn"):
                    raise RuntimeError(f"the channel gave no reply or no turn to {text!r}")
        after = {name: cpu_seconds(pid) for name, pid in pids.items()}
        result["cpu"]["channel"] = {
            name: (after[name] - before[name]) / turns * 1000 for name in pids
        }
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise
        result["channel_ms"] = []

    # Through the gateway's JSON API (which records the turn after each answer in the
    # background: a short pause lets that finish before the next turn, as a person's would).
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    for visitor in visitors:
        created = post_json(f"{gateway}/api/v1/conversations", {})
        conversation = created["conversation_id"]
        for text in visitor_turns(visitor):
            started = time.perf_counter()
            answer = post_json(
                f"{gateway}/api/v1/conversations/{conversation}/messages", {"text": text}
            )
            result["gateway_ms"].append((time.perf_counter() - started) * 1000)
            if not answer:
                raise RuntimeError(f"the gateway gave no answer to {text!r}")
            time.sleep(0.3)
    after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    result["cpu"]["gateway"] = {
        name: (after[name] - before[name]) / turns * 1000 for name in pids
    }
    result["turns"] = turns
    return result


# ------------------------------------------------------------------------------- in process


def child(args: argparse.Namespace) -> None:
    """One in-process run: prints a JSON line with the per-turn measurements."""
    from rasa.utils.tensorflow.environment import setup_tf_environment

    setup_tf_environment()  # what `rasa run` does first: applies TF_*_PARALLELISM_THREADS

    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.processor import MessageProcessor
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa_ext import action_check, fallback_loop, recent_intents, rule_cache
    from bot.rasa_ext.tracker_store import RedactingSQLTrackerStore

    assert rule_cache.install()  # as bot.rasa_cli starts Rasa
    assert recent_intents.install()
    assert fallback_loop.install()
    if not args.rasa_check:  # as bot.rasa_cli starts Rasa
        assert action_check.install()

    wall: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)

    def timed(owner, name: str, key: str) -> None:
        original = getattr(owner, name)
        if asyncio.iscoroutinefunction(original):
            async def wrapper(*a, **k):
                w, c = time.perf_counter(), time.process_time()
                try:
                    return await original(*a, **k)
                finally:
                    wall[key] += time.perf_counter() - w
                    cpu[key] += time.process_time() - c
                    calls[key] += 1
        else:
            def wrapper(*a, **k):
                w, c = time.perf_counter(), time.process_time()
                try:
                    return original(*a, **k)
                finally:
                    wall[key] += time.perf_counter() - w
                    cpu[key] += time.process_time() - c
                    calls[key] += 1
        setattr(owner, name, wrapper)

    timed(MessageProcessor, "parse_message", "nlu")
    timed(MessageProcessor, "_predict_next_with_tracker", "policies")
    timed(RedactingSQLTrackerStore, "retrieve", "load")
    timed(RedactingSQLTrackerStore, "_decrypt", "decrypt")
    timed(RedactingSQLTrackerStore, "save", "save")
    timed(EndpointConfig, "request", "action_http")
    timed(RemoteAction, "_validate_action_result", "action_check")

    async def run() -> dict:
        load_started = time.perf_counter()
        agent = await load_agent(
            model_path=str(MODEL), endpoints=AvailableEndpoints.read_endpoints(args.endpoints)
        )
        load_seconds = time.perf_counter() - load_started
        lock_store = agent.lock_store
        original_lock = lock_store.lock

        import contextlib

        @contextlib.asynccontextmanager
        async def timed_lock(*a, **k):
            w, c = time.perf_counter(), time.process_time()
            async with original_lock(*a, **k):
                wall["lock"] += time.perf_counter() - w
                cpu["lock"] += time.process_time() - c
                yield
                w, c = time.perf_counter(), time.process_time()
            wall["lock"] += time.perf_counter() - w
            cpu["lock"] += time.process_time() - c

        lock_store.lock = timed_lock

        async def turn(sender: str, text: str) -> dict:
            wall.clear(), cpu.clear(), calls.clear()
            output = CollectingOutputChannel()
            w, c = time.perf_counter(), time.process_time()
            await agent.handle_message(UserMessage(text, output, sender, input_channel="rest"))
            total_wall, total_cpu = time.perf_counter() - w, time.process_time() - c
            if not output.messages:
                raise RuntimeError(f"no reply to {text!r}")
            return {"wall": {"total": total_wall, **wall}, "cpu": {"total": total_cpu, **cpu},
                    "calls": dict(calls)}

        warm = f"warm-{uuid.uuid4().hex}"
        for text in visitor_turns(99):
            await turn(warm, text)
        turns = []
        for visitor in args.visitor:
            sender = f"profile-{uuid.uuid4().hex}"
            for index, text in enumerate(visitor_turns(visitor), start=1):
                record = await turn(sender, text)
                record["index"] = index
                turns.append(record)
        profile_text = ""
        if args.cprofile:
            profiler = cProfile.Profile()
            profiler.enable()
            for visitor in args.visitor:
                sender = f"cprofile-{uuid.uuid4().hex}"
                for text in visitor_turns(visitor):
                    await turn(sender, text)
            profiler.disable()
            stream = io.StringIO()
            stats = pstats.Stats(profiler, stream=stream)
            stats.sort_stats("tottime").print_stats(18)
            stats.sort_stats("cumulative").print_stats(30)
            profile_text = stream.getvalue()
        return {"turns": turns, "load_seconds": load_seconds, "profile": profile_text,
                "threads": os.environ.get("TF_INTRA_OP_PARALLELISM_THREADS")}

    print("RESULT " + json.dumps(asyncio.run(run())), flush=True)


def in_process(stack: Stack, workdir: Path, visitors: list[int], setting: tuple,
               cprofile: bool) -> dict:
    label, intra, inter, cached_check = setting
    endpoints = workdir / "profile-endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "{stack.url("actions")}/webhook"\n'
        "nlg:\n  type: bot.rasa_ext.nlg.SpecificResponseGenerator\n"
        "tracker_store:\n"
        "  type: bot.rasa_ext.tracker_store.RedactingSQLTrackerStore\n"
        "  dialect: sqlite\n"
        f'  db: "{workdir / "profile-tracker.db"}"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS")}
    env.update(POMOCNIK_ENV="development", RASA_TELEMETRY_ENABLED="false",
               TF_CPP_MIN_LOG_LEVEL="2", SQLALCHEMY_SILENCE_UBER_WARNING="1",
               PYTHONPATH=str(ROOT))
    if intra:
        env["TF_INTRA_OP_PARALLELISM_THREADS"] = intra
    if inter:
        env["TF_INTER_OP_PARALLELISM_THREADS"] = inter
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", "--endpoints",
            str(endpoints), *(f"--visitor={v}" for v in visitors)]
    if cprofile:
        argv.append("--cprofile")
    if not cached_check:
        argv.append("--rasa-check")
    actions_cpu = cpu_seconds(stack.processes["actions"].pid)
    backend_cpu = cpu_seconds(stack.processes["backend"].pid)
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"in-process run failed ({label}):\n{done.stderr[-3000:]}")
    line = next(l for l in reversed(done.stdout.splitlines()) if l.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    turns = len(result["turns"]) * (2 if cprofile else 1) + len(visitor_turns(99))
    result["label"] = label
    result["seconds"] = time.monotonic() - started
    result["cpu_mean_ms"] = statistics.mean(t["cpu"]["total"] for t in result["turns"]) * 1000
    result["actions_cpu_ms"] = (cpu_seconds(stack.processes["actions"].pid) - actions_cpu) / turns * 1000
    result["backend_cpu_ms"] = (cpu_seconds(stack.processes["backend"].pid) - backend_cpu) / turns * 1000
    return result


# ------------------------------------------------------------------------------- report


def ms(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def breakdown_table(result: dict) -> str:
    turns = result["turns"]
    total_wall = median([t["wall"]["total"] for t in turns]) * 1000
    total_cpu = median([t["cpu"]["total"] for t in turns]) * 1000
    rows = ["| part of the turn | calls per turn (median) | wall ms (median) | share of the turn "
            "| CPU ms (median) |", "|---|---:|---:|---:|---:|"]
    accounted = 0.0
    for key, label in COMPONENTS:
        walls = [t["wall"].get(key, 0.0) * 1000 for t in turns]
        cpus = [t["cpu"].get(key, 0.0) * 1000 for t in turns]
        calls = [t["calls"].get(key, 0) for t in turns] if key != "lock" else [1]
        if key != "decrypt":
            accounted += statistics.mean(walls)
        rows.append(f"| {label} | {median(calls):.0f} | {ms(median(walls))} | "
                    f"{median(walls) / total_wall:.0%} | {ms(median(cpus))} |")
    mean_total = statistics.mean(t["wall"]["total"] for t in turns) * 1000
    rows.append(f"| everything else in Rasa (events, rules, forms, responses; mean) | | "
                f"{ms(mean_total - accounted)} | {(mean_total - accounted) / mean_total:.0%} | |")
    rows.append(f"| **whole turn** (`Agent.handle_message`) | | **{ms(total_wall)}** | 100% | "
                f"**{ms(total_cpu)}** |")
    return "\n".join(rows)


def length_table(result: dict) -> str:
    buckets = ((1, 6), (7, 12), (13, 17))
    rows = ["| turns of the conversation | tracker load ms (median) | tracker save ms (median) |",
            "|---|---:|---:|"]
    for low, high in buckets:
        chosen = [t for t in result["turns"] if low <= t["index"] <= high]
        rows.append(f"| {low}–{high} | {ms(median([t['wall'].get('load', 0) * 1000 for t in chosen]))}"
                    f" | {ms(median([t['wall'].get('save', 0) * 1000 for t in chosen]))} |")
    return "\n".join(rows)


def tf_table(runs: list[dict]) -> str:
    by_label: dict[str, list[dict]] = defaultdict(list)
    for run in runs:
        by_label[run["label"]].append(run)
    rows = ["| TF_INTRA / TF_INTER threads | runs | turns | wall ms per turn (median) | "
            "CPU ms per turn (mean) | CPU ms per turn (median) | NLU CPU ms (median) | "
            "policies CPU ms (median) | model load s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, group in by_label.items():
        turns = [t for run in group for t in run["turns"]]
        rows.append(
            f"| {label} | {len(group)} | {len(turns)} | "
            f"{ms(median([t['wall']['total'] * 1000 for t in turns]))} | "
            f"{ms(statistics.mean(t['cpu']['total'] * 1000 for t in turns))} | "
            f"{ms(median([t['cpu']['total'] * 1000 for t in turns]))} | "
            f"{ms(median([t['cpu'].get('nlu', 0) * 1000 for t in turns]))} | "
            f"{ms(median([t['cpu'].get('policies', 0) * 1000 for t in turns]))} | "
            f"{statistics.mean(run['load_seconds'] for run in group):.1f} |"
        )
    return "\n".join(rows)


def runs_table(runs: list[dict]) -> str:
    rows = ["| run (in order) | TF_INTRA / TF_INTER threads | CPU ms per turn (mean) | "
            "wall ms per turn (median) |", "|---:|---|---:|---:|"]
    for number, run in enumerate(runs, start=1):
        rows.append(f"| {number} | {run['label']} | {ms(run['cpu_mean_ms'])} | "
                    f"{ms(median([t['wall']['total'] * 1000 for t in run['turns']]))} |")
    return "\n".join(rows)


def tf_means(runs: list[dict]) -> dict[str, float]:
    by_label: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        by_label[run["label"]] += [t["cpu"]["total"] * 1000 for t in run["turns"]]
    return {label: statistics.mean(values) for label, values in by_label.items()}


def hops_table(hops: dict) -> str:
    direct, gateway = median(hops["direct_ms"]), median(hops["gateway_ms"])
    pairs = [g - d for g, d in zip(hops["gateway_ms"], hops["direct_ms"])]
    rows = [
        "| hop | median ms | p90 ms |", "|---|---:|---:|",
        f"| turn straight to Rasa's REST channel (`POST /webhooks/rest/webhook`) | {ms(direct)} | "
        f"{ms(quantile(hops['direct_ms'], 0.9))} |",
    ]
    if hops["channel_ms"]:
        rows.append(
            f"| turn straight to the gateway's channel (`POST {CHANNEL_WEBHOOK}`, with the turn's "
            f"summary) | {ms(median(hops['channel_ms']))} | "
            f"{ms(quantile(hops['channel_ms'], 0.9))} |")
    rows += [
        f"| turn through the gateway (`POST /api/v1/conversations/<id>/messages`) | {ms(gateway)} | "
        f"{ms(quantile(hops['gateway_ms'], 0.9))} |",
        f"| gateway overhead (same turn, gateway − REST channel) | {ms(median(pairs))} | "
        f"{ms(quantile(pairs, 0.9))} |",
        f"| a read of the tracker (`GET /conversations/<id>/tracker?include_events=AFTER_RESTART`;"
        f" no longer on the turn's path) | {ms(median(hops['tracker_get_ms']))} | "
        f"{ms(quantile(hops['tracker_get_ms'], 0.9))} |",
    ]
    return "\n".join(rows)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_hops_table(hops: dict) -> str:
    rows = ["| path | " + " | ".join(SERVICES) + " |", "|---|" + "---:|" * len(SERVICES)]
    for path in ("direct", "channel", "gateway"):
        if path not in hops["cpu"]:
            continue
        rows.append(f"| {path} | " + " | ".join(ms(hops["cpu"][path][s]) for s in SERVICES) + " |")
    return "\n".join(rows)


def memory_table(memory: dict[str, dict[str, int]]) -> str:
    rows = ["| service | VmRSS after the turns, MiB | VmHWM (peak), MiB |", "|---|---:|---:|"]
    for name in SERVICES:
        values = memory[name]
        rows.append(f"| {name} | {values['VmRSS'] / 1024:.0f} | {values['VmHWM'] / 1024:.0f} |")
    return "\n".join(rows)


def machine() -> str:
    cpus = os.cpu_count()
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{cpus} logical CPUs, {model}, Linux {platform.release()}, Python {platform.python_version()}"


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def report(hops: dict, runs: list[dict], memory: dict, startup: float, visitors: int,
           load: dict) -> str:
    default = next(run for run in runs if run["label"] == TF_SETTINGS[0][0] and run["profile"])
    defaults = [run for run in runs if run["label"] == TF_SETTINGS[0][0]]
    merged = {"turns": [t for run in defaults for t in run["turns"]]}
    means = tf_means([run for run in runs if run["label"] != RASA_CHECK_LABEL])
    own_check = {"turns": [t for run in runs if run["label"] == RASA_CHECK_LABEL
                           for t in run["turns"]]}
    before_cpu = median([t["cpu"]["total"] * 1000 for t in own_check["turns"]])
    after_cpu = median([t["cpu"]["total"] * 1000 for t in merged["turns"]])
    base = means[TF_SETTINGS[0][0]]
    best_label = min(means, key=means.get)
    verdict = (
        f"The lowest CPU per turn was **{best_label}** ({means[best_label]:.0f} ms against "
        f"{base:.0f} ms unset, {(means[best_label] - base) / base:+.0%})."
    )
    profile = default["profile"].strip()
    actions_ms = statistics.mean(run["actions_cpu_ms"] for run in runs)
    backend_ms = statistics.mean(run["backend_cpu_ms"] for run in runs)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    n_turns = len(merged["turns"])
    return f"""# Where a turn's time goes

`make profile-turn` (`scripts/profile_turn.py`) — written by the script; re-run it to refresh.

- date: {now}
- machine: {machine()}
- commit: {commit()}

## Method

All five services run as real processes (`harness/stack.py`: SQLite databases, the real
tracker store, the model `var/models/pomocnik.tar.gz`); the stack was healthy after
{startup:.0f} s. The turns are the 17 of `make bench`'s four journeys (password reset, packages,
phone pairing, registration stopped before anything is sent) as one conversation per visitor,
{visitors} visitors, one turn at a time (no queue: what one turn costs, not how turns wait).

1. **HTTP hops**: the same {hops['turns']} turns straight to Rasa's REST channel, straight to
   the gateway's channel (`bot/rasa_ext/channel.py`: the REST channel whose answer also
   carries the turn's summary) and through the gateway's JSON API (each gateway turn followed
   by 0.3 s, in which the gateway records the turn's summary in the background); a read of
   Rasa's tracker, which the gateway made after every answer before the channel answered the
   summary, is timed on its own after each direct turn. CPU per turn is each service process's user +
   system time (`/proc/<pid>/stat`) over the run divided by the turns.
2. **In process**: a child process loads Rasa's `Agent` (`rasa.core.agent.load_agent`, as
   `rasa run` does, after Rasa's `setup_tf_environment`) with the same endpoints — the stack's
   action server, the secret-protecting tracker store on an SQLite file of its own — and calls
   `Agent.handle_message` for each turn, after a warm-up conversation of 17 turns, with the two
   patches `bot.rasa_cli` installs (`bot/rasa_ext/action_check.py`, `bot/rasa_ext/rule_cache.py`;
   the second also in the run with Rasa's own check). Rasa's own
   methods are wrapped with timers (wall: `perf_counter`; CPU: `process_time`, which counts
   every thread of the process, TensorFlow's pools included): `MessageProcessor.parse_message`
   (NLU), `MessageProcessor._predict_next_with_tracker` (policies, once per predicted action),
   the tracker store's `retrieve` (with `_decrypt` inside it) and `save`, `EndpointConfig.request`
   (the HTTP round trip to the action server, which includes the action's own work and its
   calls to the backend), `RemoteAction._validate_action_result` (Rasa's jsonschema check of
   the action server's answer) and the lock store's lock. Medians over {n_turns} turns
   ({len(defaults)} runs with TensorFlow's thread settings unset). One run then repeated the turns under
   cProfile (its times are inflated by the profiler; read the proportions).
3. **TensorFlow threads, and Rasa's own check**: the in-process run with Rasa's
   `TF_INTRA_OP_PARALLELISM_THREADS` / `TF_INTER_OP_PARALLELISM_THREADS` unset and set, and
   with Rasa's own check of the action server's answers instead of the cached one
   (`bot/rasa_ext/action_check.py`, which `bot.rasa_cli` installs; every other in-process run
   installs it too), the settings interleaved (every other round in reverse order), each run in
   a fresh process. CPU per turn is the process's CPU time during `handle_message` (the action server's
   and the backend's are not in it).

The machine has 2 shared cores and other jobs ran on it: wall times move with that load,
the CPU times much less. During this run the machine was busy {load['busy']:.2f} cores on
average, {load['other']:.2f} of them with other jobs (everything but this stack and the
script's children); with other jobs present, compare the CPU columns, not the wall ones.

## One turn over HTTP (one visitor, no queue)

{hops_table(hops)}

A read of the tracker (which the gateway made after every turn until Rasa's channel answered
the turn's summary with the reply) costs Rasa {ms(hops['tracker_get_cpu_ms'])} ms of CPU per turn on its own.

CPU ms per turn by service process (direct: Rasa's REST channel; channel: the gateway's channel
with the turn's summary; gateway: through the gateway, which relays to that channel):

{cpu_hops_table(hops)}

## Inside Rasa: one turn, in process (TensorFlow threads unset, the cached check)

{breakdown_table(merged)}

The action server's round trip includes its own work: {ms(actions_ms)} ms of the action server's
CPU and {ms(backend_ms)} ms of the backend's per turn (mean over all in-process runs).

Tracker load and save against the length of the conversation (every turn reloads every event of
the session):

{length_table(merged)}

## The same turns with Rasa's own check of the action server's answers

Rasa 3.6 as it is, without `bot/rasa_ext/action_check.py` (which `bot.rasa_cli` installs; the
runs above have it), TensorFlow threads unset, {len(own_check["turns"])} turns:

{breakdown_table(own_check)}

CPU of the whole turn, median: **{ms(before_cpu)} ms** with Rasa's own check, **{ms(after_cpu)} ms**
with the cached one ({(after_cpu - before_cpu) / before_cpu:+.0%}).

## TensorFlow thread settings

{tf_table(runs)}

Each run on its own (a setting that is better only on average over unequal runs is not better):

{runs_table(runs)}

{verdict}

## Memory of each service after the turns

{memory_table(memory)}

## cProfile of the in-process turns (one run, threads unset)

```
{profile}
```
"""


# ------------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, default=2, help="conversations of 17 turns")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over the TF settings")
    parser.add_argument("--quick", action="store_true", help="1 visitor, 1 round; write nothing")
    parser.add_argument("--hops-only", action="store_true",
                        help="only the HTTP hops (no in-process runs); print, write nothing")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--endpoints", help=argparse.SUPPRESS)
    parser.add_argument("--visitor", type=int, action="append", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--cprofile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rasa-check", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.child:
        child(args)
        return
    if args.quick:
        args.visitors, args.rounds = 1, 1
    if not MODEL.exists():
        sys.exit(f"{MODEL} is missing: run `make model` first")
    visitors = list(range(args.visitors))
    with tempfile.TemporaryDirectory(prefix="pomocnik-profile-") as tmp:
        workdir = Path(tmp)
        started = time.monotonic()
        stack = start_stack(workdir, extra_env={
            "GATEWAY_SESSION_MESSAGES_PER_MINUTE": "100000",
            "GATEWAY_ADDRESS_MESSAGES_PER_MINUTE": "100000",
        })
        startup = time.monotonic() - started
        try:
            print(f"==> stack healthy after {startup:.0f} s; HTTP hops", flush=True)
            busy_before, wall_before = busy_cpu_seconds(), time.monotonic()
            ours_before = sum(cpu_seconds(p.pid) for p in stack.processes.values())
            ours_before += cpu_seconds(os.getpid())
            hops = http_hops(stack, visitors)
            if args.hops_only:
                print(hops_table(hops))
                print(f"tracker read: {ms(hops['tracker_get_cpu_ms'])} ms of Rasa's CPU per turn")
                print(cpu_hops_table(hops))
                return
            runs = []
            for round_number in range(args.rounds):
                # Every other round in reverse order, so that a setting's place in a round is not
                # read as its effect (with one round, the first child's NLU and policies came out
                # ~30% slower than the last child's in two runs out of two).
                order = TF_SETTINGS if round_number % 2 == 0 else TF_SETTINGS[::-1]
                for setting in order:
                    print(f"==> in process, round {round_number + 1}: {setting[0]}", flush=True)
                    cprofile = round_number == 0 and setting is TF_SETTINGS[0]
                    runs.append(in_process(stack, workdir, visitors, setting, cprofile))
            memory = {name: memory_kib(stack.processes[name].pid) for name in SERVICES}
            ours = sum(cpu_seconds(p.pid) for p in stack.processes.values())
            ours += cpu_seconds(os.getpid()) - ours_before  # children reaped: counted here
            elapsed = time.monotonic() - wall_before
            busy = busy_cpu_seconds() - busy_before
            load = {"busy": busy / elapsed, "other": max(0.0, busy - ours) / elapsed}
        finally:
            stop_stack(stack)
    text = report(hops, runs, memory, startup, len(visitors), load)
    if args.quick:
        print(text)
        return
    REPORT.write_text(text, encoding="utf-8")
    print(f"==> wrote {REPORT.relative_to(ROOT)}")
    print(tf_table(runs))


if __name__ == "__main__":
    main()
