"""A real Prometheus on 127.0.0.1 for tests and benchmarks: config, start, query, stop.

Runs the Debian `prometheus` binary with its TSDB in a temporary directory, scraping
whatever the test serves. No pytest dependency: tests find the binary with
`support.components.require_binary("prometheus", package="prometheus")`.

    config = scrape_config(["127.0.0.1:9465"], rule_files=[...])
    async with running_prometheus(binary, config, tmp_path / "prometheus") as prom:
        rows = await prom.query('up{job="consistency-monitor"}')
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from support.network import free_port, wait_ready

START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it
JOB = "consistency-monitor"


def scrape_config(
    targets: Sequence[str],
    *,
    job: str = JOB,
    scrape_interval: str = "1s",
    rule_files: Sequence[Path] = (),
    metrics_path: str = "/metrics",
) -> dict[str, Any]:
    """One job scraping `targets` (`host:port`) every `scrape_interval`; rules evaluated
    as often."""
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,  # may not exceed the interval
            "evaluation_interval": scrape_interval,
        },
        "scrape_configs": [
            {
                "job_name": job,
                "metrics_path": metrics_path,
                "static_configs": [{"targets": list(targets)}],
            }
        ],
    }
    if rule_files:
        config["rule_files"] = [str(p) for p in rule_files]
    return config


class PrometheusError(Exception):
    """Prometheus answered an API call with an error."""


class Prometheus:
    """One Prometheus process; `url` is its base URL once started."""

    def __init__(self, binary: str, config: Mapping[str, Any], workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.url = ""
        self._config = config
        self._process: asyncio.subprocess.Process | None = None
        self._log = workdir / "prometheus.log"

    async def start(self, *, within: float = 30.0) -> None:
        """Start on a free port and wait until `/-/ready` answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_file = self.workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(dict(self._config), sort_keys=False))
        for _ in range(START_ATTEMPTS):
            port = free_port()
            self._process = await self._spawn(config_file, port)
            self.url = f"http://127.0.0.1:{port}"
            if await self._ready(within):
                return
            await self.stop()
        raise RuntimeError(f"prometheus did not become ready; its log:\n{self.log_tail()}")

    async def _spawn(self, config_file: Path, port: int) -> asyncio.subprocess.Process:
        with self._log.open("ab") as log:
            return await asyncio.create_subprocess_exec(
                self.binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=info",
                cwd=self.workdir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    async def _ready(self, within: float) -> bool:
        assert self._process is not None
        return await wait_ready(self._process, f"{self.url}/-/ready", within=within)

    async def api(self, path: str, **params: str) -> Any:
        """`GET /api/v1/<path>`: the `data` of a successful answer."""
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.get(f"{self.url}/api/v1/{path}", params=params) as resp,
        ):
            body = await resp.json()
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('error', body)}")
        return body["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector: `[{"metric": {...}, "value": [ts, "1"]}]`."""
        data = await self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    async def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets with their health and last error."""
        data = await self.api("targets", state="active")
        active: list[dict[str, Any]] = data["activeTargets"]
        return active

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def stop(self, *, within: float = 30.0) -> int | None:
        """SIGTERM and wait; the exit status (0 for a clean shutdown), None if not running."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=within)
            except TimeoutError:
                process.kill()
                await process.wait()
        return process.returncode


@contextlib.asynccontextmanager
async def running_prometheus(
    binary: str, config: Mapping[str, Any], workdir: Path
) -> AsyncIterator[Prometheus]:
    """A Prometheus for the duration of the block (stopped at exit if the block did not)."""
    prometheus = Prometheus(binary, config, workdir)
    await prometheus.start()
    try:
        yield prometheus
    finally:
        await prometheus.stop()
