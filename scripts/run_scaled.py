"""`make run-scaled`: the scaled topology on this machine, from one command.

HAProxy in front of two gateways, two Rasa servers (tracker store on PostgreSQL, Redis lock
store), two action servers and two backends (PostgreSQL, outbox leases); the gateways fan out
through Redis. PostgreSQL and Redis are the ones on 127.0.0.1:5432 / 6379 (or
POMOCNIK_SCALED_POSTGRES_URL / POMOCNIK_SCALED_REDIS_URL); the databases are
`pomocnik_scaled_{backend,gateway,rasa}` (created when missing, kept between runs; `--fresh`
recreates them). Logs: var/scaled/<process>.log. Ctrl-C stops every process; if one exits, the
others are stopped and its last log lines are printed. The topology itself is described in
harness/scaled.py, shared with the tests and `make bench --scaled`.
"""

from __future__ import annotations

import argparse
import collections
import signal
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import scaled  # noqa: E402

START_TIMEOUT_SECONDS = 420


def rss_by_process(stack: scaled.ScaledStack) -> dict[str, int]:
    totals: dict[str, int] = collections.Counter()
    for name, process in stack.processes.items():
        try:
            root = psutil.Process(process.pid)
            for member in [root, *root.children(recursive=True)]:
                totals[name] += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="recreate the databases")
    args = parser.parse_args()
    try:
        stack, haproxy = scaled.prepare(
            ROOT / "var" / "scaled", name="pomocnik_scaled", fixed_ports=True,
            reuse_databases=not args.fresh,
        )
    except scaled.ScaledUnavailable as error:
        print(f"==> cannot start the scaled topology: {error}", file=sys.stderr)
        return 2
    interrupted = False

    def on_signal(signum, _frame):
        nonlocal interrupted
        interrupted = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"==> starting {len(scaled.commands(stack, haproxy))} processes; logs in {stack.workdir}/")
    scaled.start(stack, haproxy)
    started = time.monotonic()
    try:
        scaled.wait_healthy(
            stack, START_TIMEOUT_SECONDS,
            on_healthy=lambda name, after: print(f"    {name:<10} healthy after {after:6.1f} s",
                                                 flush=True),
        )
        scaled.wait_balanced(stack)
    except (RuntimeError, KeyboardInterrupt) as error:
        scaled.stop_all(stack)
        print(f"==> start-up failed: {error}", file=sys.stderr)
        return 1
    peaks = rss_by_process(stack)
    print(f"==> all {len(stack.processes)} processes healthy in {time.monotonic() - started:.1f} s")
    for name in stack.processes:
        print(f"    {name:<10} RSS {peaks.get(name, 0) / 2**20:7.1f} MiB")
    print(
        f"==> Chat (HAProxy → 2 gateways): {stack.url('gateway')}/\n"
        f"==> Mailbox: {stack.url('mailsink')}/\n"
        f"==> HAProxy statistics: {stack.url('stats')}/stats\n"
        "==> Press Ctrl-C to stop every process.",
        flush=True,
    )
    failed = None
    while not interrupted and failed is None:
        time.sleep(1)
        for name, process in stack.processes.items():
            if process.poll() is not None:
                failed = name
                break
    scaled.stop_all(stack)
    if failed is not None:
        print(f"\n==> {failed} exited (rc={stack.processes[failed].returncode}). Its last lines:",
              file=sys.stderr)
        for line in stack.log(failed).splitlines()[-30:]:
            print(f"    {line}", file=sys.stderr)
        return 1
    print("==> stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
