"""Start every service from the Procfile under honcho, wait for their health checks, report.

Prints how long each service took to become healthy and its peak memory; if a service exits
or does not become healthy in time, stops everything and shows that service's last log lines.
Ctrl-C stops every process.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from honcho.environ import parse_procfile
from honcho.manager import Manager
from honcho.printer import Printer

ROOT = Path(__file__).resolve().parent.parent
LAST_LINES = 30


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


@dataclass
class Service:
    name: str
    health_url: str
    timeout_seconds: float
    healthy_after: float | None = None
    peak_rss: int = 0
    lines: collections.deque = field(default_factory=lambda: collections.deque(maxlen=LAST_LINES))


def services() -> dict[str, Service]:
    host = "127.0.0.1"
    checks = [
        Service("mailsink", f"http://{host}:{_port('MAILSINK_WEB_PORT', 8025)}/health", 60),
        Service("backend", f"http://{host}:{_port('BACKEND_PORT', 8100)}/health", 60),
        Service("actions", f"http://{host}:{_port('ACTIONS_PORT', 5055)}/health", 120),
        # Rasa answers "/" only once its model is loaded.
        Service("rasa", f"http://{host}:{_port('RASA_PORT', 5005)}/", 300),
        Service("gateway", f"http://{host}:{_port('GATEWAY_PORT', 8000)}/health", 60),
    ]
    return {service.name: service for service in checks}


class RecordingPrinter(Printer):
    """Honcho's printer, also keeping each service's last lines for failure reports."""

    def __init__(self, table: dict[str, Service]) -> None:
        super().__init__(sys.stdout)
        self._table = table
        self.first_stopped: Service | None = None
        self.interrupted = False

    def write(self, message) -> None:
        text = message.data
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        service = self._table.get(message.name)
        if service is not None:
            service.lines.append(text.rstrip("\n"))
        elif message.name == "system":
            self._note_system_event(text)
        super().write(message)

    def _note_system_event(self, text: str) -> None:
        # Honcho announces "SIGINT received" and "<name> stopped (rc=N)" as system lines.
        if " received" in text:
            self.interrupted = True
        name, _, rest = text.partition(" stopped ")
        if rest and self.first_stopped is None and name in self._table:
            self.first_stopped = self._table[name]


def is_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def rss_by_service() -> dict[str, int]:
    totals: dict[str, int] = collections.Counter()
    for process in psutil.Process().children(recursive=True):
        try:
            name = process.environ().get("POMOCNIK_SERVICE")
            if name:
                totals[name] += process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return totals


class Monitor(threading.Thread):
    def __init__(self, manager: Manager, table: dict[str, Service]) -> None:
        super().__init__(daemon=True)
        self.manager = manager
        self.table = table
        self.failed: Service | None = None
        self.reason = ""

    def run(self) -> None:
        started = time.monotonic()
        while not self._all_healthy():
            elapsed = time.monotonic() - started
            self._sample_memory()
            for service in self.table.values():
                if service.healthy_after is None and is_healthy(service.health_url):
                    service.healthy_after = elapsed
                elif service.healthy_after is None and elapsed > service.timeout_seconds:
                    return self._fail(service, f"not healthy after {service.timeout_seconds:.0f} s")
            time.sleep(0.5)
        self._sample_memory()
        self._report(time.monotonic() - started)
        while True:
            time.sleep(5)
            self._sample_memory()

    def _all_healthy(self) -> bool:
        return all(service.healthy_after is not None for service in self.table.values())

    def _sample_memory(self) -> None:
        for name, rss in rss_by_service().items():
            if name in self.table:
                self.table[name].peak_rss = max(self.table[name].peak_rss, rss)

    def _fail(self, service: Service, reason: str) -> None:
        self.failed, self.reason = service, reason
        self.manager.terminate()

    def _report(self, total: float) -> None:
        lines = [f"==> all {len(self.table)} services healthy in {total:.1f} s"]
        for service in self.table.values():
            lines.append(
                f"    {service.name:<9} healthy after {service.healthy_after:6.1f} s"
                f"   peak RSS {service.peak_rss / 2**20:7.1f} MiB"
            )
        gateway = _port("GATEWAY_PORT", 8000)
        mailbox = _port("MAILSINK_WEB_PORT", 8025)
        metrics = ", ".join(
            f"http://127.0.0.1:{_port(f'{name.upper()}_METRICS_PORT', default)}/metrics ({name})"
            for name, default in (("gateway", 9400), ("backend", 9401), ("actions", 9402))
        )
        lines += [
            f"==> Chat:    http://localhost:{gateway}/",
            f"==> Mailbox: http://localhost:{mailbox}/",
            f"==> Metrics (loopback only, docs/operations.md): {metrics}",
            "==> Press Ctrl-C to stop every service.",
        ]
        print("\n".join(lines), flush=True)


def main() -> int:
    os.chdir(ROOT)
    procfile = parse_procfile((ROOT / "Procfile").read_text())
    table = services()
    printer = RecordingPrinter(table)
    manager = Manager(printer)
    for name, command in procfile.processes.items():
        manager.add_process(name, command, env=dict(os.environ), cwd=str(ROOT))
    monitor = Monitor(manager, table)
    monitor.start()
    manager.loop()

    failed = monitor.failed or (None if printer.interrupted else printer.first_stopped)
    if failed is not None:
        reason = monitor.reason or "exited during start-up"
        print(f"\n==> {failed.name} failed: {reason}. Its last log lines:", file=sys.stderr)
        for line in failed.lines:
            print(f"    {line}", file=sys.stderr)
        return 1
    peaks = ", ".join(f"{s.name} {s.peak_rss / 2**20:.0f} MiB" for s in table.values())
    print(f"==> stopped. Peak RSS: {peaks}")
    return manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
