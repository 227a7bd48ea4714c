"""The monitor under test: fast simulator configs, the daemon in-process or as a
subprocess on a free loopback port, and its HTTP endpoints read back.

Fast means the simulator answers in milliseconds and every probe runs every second, so
a whole integration test sees many runs in a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from monitor.config import load_config
from monitor.daemon import Daemon
from support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]

FAST_DEFAULTS: dict[str, Any] = {
    "interval": "1s",
    "timeout": "5s",
    "deadlines": {"sync": "200ms", "give_up": "500ms", "load": "2s"},
}
FAST_SIMULATOR: dict[str, Any] = {"auth_latency": "2ms", "sync_delay": "5ms"}

# The daemon's "serving on 127.0.0.1:40123 (20 jobs)" line: how a subprocess started on
# port 0 tells which port it got.
SERVING = re.compile(r"serving on (\S+) \(")


# -- configs ---------------------------------------------------------------------------


def sim_target(
    name: str,
    *,
    faults: Mapping[str, Any] | None = None,
    probes: Mapping[str, Any] | Sequence[str] | None = None,
    **simulator: Any,
) -> dict[str, Any]:
    """A fast simulator target; `simulator` overrides FAST_SIMULATOR settings."""
    target: dict[str, Any] = {
        "name": name,
        "simulator": {**FAST_SIMULATOR, **simulator, "faults": dict(faults or {})},
    }
    if probes is not None:
        target["probes"] = probes if isinstance(probes, Mapping) else list(probes)
    return target


def monitor_config(
    *targets: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
    server: Mapping[str, Any] | None = None,
    alerts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A whole config file: FAST_DEFAULTS overlaid with `defaults`."""
    config: dict[str, Any] = {"defaults": {**FAST_DEFAULTS, **(defaults or {})}}
    config["targets"] = [dict(t) for t in targets]
    if server is not None:
        config["server"] = dict(server)
    if alerts is not None:
        config["alerts"] = dict(alerts)
    return config


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    return path


# -- the daemon in-process -------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_daemon(
    config_path: Path, state_dir: Path, *, grace: float = 0.5
) -> AsyncIterator[Daemon]:
    """The daemon on 127.0.0.1 port 0 in this event loop; stopped at exit unless the
    test stopped it already (then it is no longer ready)."""
    daemon = Daemon(
        load_config(config_path),
        config_path=config_path,
        state_dir=state_dir,
        listen="127.0.0.1:0",
    )
    await daemon.start()
    try:
        yield daemon
    finally:
        if daemon.ready:
            await daemon.stop(grace=grace)


def base_url(address: str) -> str:
    return f"http://{address}"


# -- the daemon as a subprocess ----------------------------------------------------------


@dataclass
class MonitorProcess:
    """`consistency-monitor run` in a child process, its stderr going to `log_path`."""

    process: asyncio.subprocess.Process
    log_path: Path
    address: str = ""

    @property
    def url(self) -> str:
        return base_url(self.address)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def send(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    async def wait(self, *, within: float) -> int:
        """The exit status; fails (after killing it) if the process runs on past `within`."""
        try:
            return await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(
                f"the monitor did not exit within {within} s; log:\n{self.log()}"
            ) from None


async def _serving_address(monitor: MonitorProcess, within: float) -> str:
    def found() -> str | None:
        match = SERVING.search(monitor.log())
        return match.group(1) if match else None

    async def look() -> str | None:
        if monitor.process.returncode is not None:
            raise AssertionError(
                f"the monitor exited with {monitor.process.returncode}; log:\n{monitor.log()}"
            )
        return found()

    address = await eventually(look, bool, within=within, what="the monitor serving")
    assert address is not None
    return address


@contextlib.asynccontextmanager
async def monitor_process(
    config_path: Path,
    state_dir: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
) -> AsyncIterator[MonitorProcess]:
    """`python -m monitor run --listen 127.0.0.1:0 ...` until it serves; SIGTERM at exit."""
    log_path = log_path or state_dir.parent / f"{config_path.stem}.monitor.log"
    argv = [
        *("-m", "monitor", "run", "--config", str(config_path)),
        *("--listen", "127.0.0.1:0", "--state-dir", str(state_dir), *args),
    ]
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *argv,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    monitor = MonitorProcess(process, log_path)
    try:
        monitor.address = await _serving_address(monitor, within=30)
        yield monitor
    finally:
        if process.returncode is None:
            process.terminate()
            await monitor.wait(within=30)


# -- reading it back -------------------------------------------------------------------


class Scrape:
    """One /metrics response, parsed: values looked up by sample name and exact labels."""

    def __init__(self, text: str, *, openmetrics: bool = False) -> None:
        self.text = text
        parse = openmetrics_families if openmetrics else text_string_to_metric_families
        self.families: list[Metric] = list(parse(text))

    def samples(self, name: str) -> list[Sample]:
        return [s for f in self.families for s in f.samples if s.name == name]

    def value(self, name: str, **labels: str) -> float | None:
        """The sample with exactly these labels, or None when there is no such series."""
        found = [s.value for s in self.samples(name) if s.labels == labels]
        assert len(found) <= 1, f"{name}{labels}: {len(found)} samples"
        return found[0] if found else None

    def label_sets(self, name: str, *keys: str) -> set[tuple[str, ...]]:
        """The distinct values of `keys` among the samples of `name`."""
        return {tuple(s.labels[k] for k in keys) for s in self.samples(name)}


async def scrape(session: aiohttp.ClientSession, url: str, *, accept: str = "") -> Scrape:
    headers = {"Accept": accept} if accept else {}
    async with session.get(f"{url}/metrics", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        text = await resp.text()
        openmetrics = resp.content_type == "application/openmetrics-text"
    return Scrape(text, openmetrics=openmetrics)


async def get_status(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(f"{url}/api/status") as resp:
        assert resp.status == 200, await resp.text()
        status: dict[str, Any] = await resp.json()
        return status


def jobs_of(status: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The status's jobs by id, `target:probe`."""
    return {f"{j['target']}:{j['probe']}": j for j in status["jobs"]}


async def get_text(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as resp:
        return resp.status, await resp.text()


async def every_job_ran(
    session: aiohttp.ClientSession, url: str, *, within: float = 20.0
) -> dict[str, Any]:
    """The status once every job has a completed run."""
    return await eventually(
        lambda: get_status(session, url),
        lambda s: bool(s["jobs"]) and all(j["last"] is not None for j in s["jobs"]),
        within=within,
        what="a completed run of every job",
    )


async def post_reload(
    session: aiohttp.ClientSession, url: str, *, token: str | None
) -> tuple[int, str]:
    """`POST /-/reload`, with `Authorization: Bearer <token>` when a token is given."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with session.post(f"{url}/-/reload", headers=headers) as resp:
        return resp.status, await resp.text()
