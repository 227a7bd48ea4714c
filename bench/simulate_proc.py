"""`simulate` as the benchmarks see it: a `python -m monitor simulate` child process on
loopback, its ground truth, and a target built from config/examples/http-sim.yaml.

A separate process, so the simulator and the monitor do not share an event loop or a
core: what the bench measures is the monitor's side of a real HTTP exchange.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from monitor.clock import SYSTEM_CLOCK, Clock
from monitor.config import Config, parse_config
from monitor.targets.base import Target
from monitor.targets.build import build_target

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "examples" / "http-sim.yaml"
SQL_EXAMPLE = ROOT / "config" / "examples" / "http-sql.yaml"
TOKEN = "bench-admin-token"
TOKEN_ENV = "SIMULATE_ADMIN_TOKEN"


@dataclass
class Simulate:
    """A running `simulate`: its process and both services' base URLs."""

    process: subprocess.Popen[bytes]
    auth: str
    backend: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def config(
        self,
        *,
        example: Path = EXAMPLE,
        dsn: str | None = None,
        defaults: Mapping[str, Any] | None = None,
        **side: Any,
    ) -> Config:
        """An example config pointed at this process (an `http` side at its URL, a `sql`
        side at `dsn`); `side` options apply to the http sides, `defaults` are laid over
        the file's."""
        document = yaml.safe_load(example.read_text(encoding="utf-8"))
        document["defaults"] |= dict(defaults or {})
        target = document["targets"][0]
        for name, url in (("auth", self.auth), ("backend", self.backend)):
            if target[name]["kind"] == "http":
                target[name] |= {"base_url": url, **side}
            else:
                target[name]["dsn"] = dsn
        return parse_config(document, source=str(example))

    def target(self, config: Config, clock: Clock = SYSTEM_CLOCK) -> Target:
        """The target built the way `check` and the daemon build it (no ledger)."""
        return build_target(config.targets[0], clock=clock)

    async def truth(self, http: aiohttp.ClientSession, since_seq: int = 0) -> dict[str, Any]:
        """GET /admin/truth: changes with emitted_at/visible_at on the server's loop clock
        (time.monotonic(), the same clock as this process's loop on Linux)."""
        url = f"{self.auth}/admin/truth?since_seq={since_seq}"
        async with http.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            resp.raise_for_status()
            body: dict[str, Any] = await resp.json()
            return body


def flags(**simulator: str) -> list[str]:
    """`auth_latency="0s"` → `["--auth-latency", "0s"]`."""
    out: list[str] = []
    for name, value in simulator.items():
        out += ["--" + name.replace("_", "-"), value]
    return out


@contextmanager
def running_simulate(**simulator: str) -> Iterator[Simulate]:
    """`simulate` on free loopback ports with the given simulator flags, until exit."""
    argv = [sys.executable, "-m", "monitor", "simulate", "--log-level", "warning"]
    argv += ["--auth-listen", "127.0.0.1:0", "--backend-listen", "127.0.0.1:0"]
    env = {**os.environ, TOKEN_ENV: TOKEN}
    process = subprocess.Popen(
        [*argv, *flags(**simulator)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    try:
        urls = _announced(process, within=30.0)
        yield Simulate(process, urls["auth"], urls["backend"])
    finally:
        _stop(process)


def _announced(process: subprocess.Popen[bytes], within: float) -> dict[str, str]:
    """The `auth URL` and `backend URL` lines `simulate` prints once both listen."""
    assert process.stdout is not None
    fd, text = process.stdout.fileno(), b""
    deadline = time.monotonic() + within
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while text.count(b"\n") < 2:
            if process.poll() is not None or not sel.select(deadline - time.monotonic()):
                raise RuntimeError(f"simulate did not start (exit status {process.poll()})")
            text += os.read(fd, 4096)  # unbuffered: a line must not hide in a reader's buffer
    lines = (line.partition(" ") for line in text.decode().splitlines())
    return {name: url for name, _, url in lines}


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
