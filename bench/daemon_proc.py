"""The daemon as the benchmarks see it: a `python -m monitor run` child process, its
/proc counters, and the few /metrics and /api/status figures they sample.

Synchronous on purpose: a sample every few seconds needs no event loop in the bench,
and the bench must not compete with the daemon for CPU more than it has to.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
TOKEN = "bench-admin-token"
SERVING = re.compile(r"serving on (\S+) \(")
CLK_TCK = os.sysconf("SC_CLK_TCK")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)", re.MULTILINE)


# -- configs ---------------------------------------------------------------------------


def sim_targets(
    count: int, *, faults: Mapping[str, Mapping[str, Any]] | None = None, **simulator: Any
) -> list[dict[str, Any]]:
    """`count` simulator targets named sim-001…, each seeded by its number."""
    faults = faults or {}
    return [
        {
            "name": name,
            "simulator": {**simulator, "seed": i, "faults": dict(faults.get(name, {}))},
        }
        for i, name in enumerate(target_names(count), start=1)
    ]


def target_names(count: int) -> list[str]:
    return [f"sim-{i:03d}" for i in range(1, count + 1)]


def write_config(
    path: Path,
    targets: list[dict[str, Any]],
    defaults: Mapping[str, Any],
    server: Mapping[str, Any] | None = None,
) -> Path:
    """The whole file, written then renamed so a reload never reads half of it."""
    config = {
        "server": {"admin_token": TOKEN, **(server or {})},
        "defaults": dict(defaults),
        "targets": targets,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    tmp.replace(path)
    return path


# -- the process -----------------------------------------------------------------------


@dataclass
class Daemon:
    """A running `python -m monitor run` and where it serves."""

    process: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, within: float = 60.0) -> tuple[int, float]:
        """SIGTERM; the exit status and how long the graceful stop took."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        return code, time.monotonic() - started


@contextmanager
def running_daemon(
    config: Path, state_dir: Path, log_path: Path, launcher: Sequence[str] = ("-m", "monitor")
) -> Iterator[Daemon]:
    """The daemon on a free loopback port until it serves; killed at exit if still alive.
    `launcher`: what follows the interpreter, before `run` (the monitor's CLI)."""
    argv = [sys.executable, *launcher, "run", "--config", str(config)]
    argv += ["--listen", "127.0.0.1:0", "--state-dir", str(state_dir), "--grace", "5s"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    daemon = Daemon(process, log_path)
    try:
        daemon.url = "http://" + _serving_address(daemon, within=60)
        yield daemon
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _serving_address(daemon: Daemon, within: float) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if daemon.process.poll() is not None:
            raise RuntimeError(f"the monitor exited early; log:\n{daemon.log()}")
        found = SERVING.search(daemon.log())
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise RuntimeError(f"the monitor did not serve within {within} s")


# -- /proc -------------------------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (not of its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wakeups(pid: int) -> int:
    """Voluntary context switches: how often the process blocked (its loop went idle and
    woke up again), summed over its threads."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        text = Path(f"/proc/{pid}/task/{task}/status").read_text()
        found = re.search(r"^voluntary_ctxt_switches:\s+(\d+)", text, re.MULTILINE)
        total += int(found.group(1)) if found else 0
    return total


def wakeup_cost(wait: float = 0.001, seconds: float = 2.0) -> float:
    """CPU seconds one process spends per idle wait of `wait` seconds and wake-up on this
    machine (the kernel's and the hypervisor's share of an event loop's iteration). It
    grows with the wait: after a longer sleep the wake-up finds colder caches."""
    poller = select.epoll()
    count = max(100, int(seconds / wait))
    try:
        started = time.process_time()
        for _ in range(count):
            poller.poll(wait)
        return (time.process_time() - started) / count
    finally:
        poller.close()


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


# -- HTTP --------------------------------------------------------------------------------


def get(url: str, timeout: float = 30.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body: bytes = resp.read()
        return body


# What Prometheus 2.x sends when it scrapes: OpenMetrics preferred, gzip accepted.
SCRAPE_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
}


@dataclass(frozen=True)
class Scrape:
    text: str
    seconds: float  # request sent to the last byte of the body received
    wire_bytes: int  # as sent (compressed when the daemon gzips)


def scrape(url: str) -> Scrape:
    """One /metrics scrape as Prometheus makes it, timed to the last byte received."""
    request = urllib.request.Request(f"{url}/metrics", headers=SCRAPE_HEADERS)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as resp:
        body: bytes = resp.read()
        took = time.perf_counter() - started
        gzipped = resp.headers.get("Content-Encoding") == "gzip"
    text = (gzip.decompress(body) if gzipped else body).decode()
    return Scrape(text, took, len(body))


def post_reload(url: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/-/reload", method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        outcome: dict[str, Any] = json.loads(resp.read())
        return outcome


def status_runtime(url: str) -> dict[str, Any]:
    status = json.loads(get(f"{url}/api/status?history=0"))
    found: dict[str, Any] = status["runtime"]
    return found


@dataclass
class MetricsText:
    """The samples of one /metrics body the benchmarks read, without a full parse."""

    text: str
    samples: list[tuple[str, str, float]] = field(init=False)

    def __post_init__(self) -> None:
        self.samples = [(m[1], m[2] or "", float(m[3])) for m in SAMPLE.finditer(self.text) if m[3]]

    def total(self, name: str) -> float:
        return sum(v for n, _, v in self.samples if n == name)

    def buckets(self, name: str) -> dict[float, float]:
        """Cumulative histogram buckets by upper bound (`le`)."""
        found = {}
        for n, labels, value in self.samples:
            if n == f"{name}_bucket":
                le = re.search(r'le="([^"]+)"', labels)
                if le:
                    found[float(le.group(1))] = value
        return found


def bucket_quantile(before: Mapping[float, float], after: Mapping[float, float], q: float) -> float:
    """The upper bound of the bucket holding the q-quantile of what was observed between."""
    bounds = sorted(after)
    delta = {b: after[b] - before.get(b, 0.0) for b in bounds}
    total = delta[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return 0.0
    for bound in bounds:
        if delta[bound] >= q * total:
            return bound
    return bounds[-1]
