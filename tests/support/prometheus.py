"""A real Prometheus on 127.0.0.1 for tests and benchmarks: config, start, query, stop.

Runs the Debian `prometheus` binary with its TSDB in a temporary directory, scraping
whatever the test serves. No pytest dependency: tests find the binary with
`support.components.require_binary("prometheus", package="prometheus")`.

    config = scrape_config(["127.0.0.1:9465"], rule_files=[...])
    async with running_prometheus(binary, config, tmp_path / "prometheus") as prom:
        rows = await prom.query('up{job="consistency-monitor"}')
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from support.server_process import ServerProcess

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


class Prometheus(ServerProcess):
    """One Prometheus process; `url` is its base URL once started."""

    name = "prometheus"
    config_file = "prometheus.yml"

    def flags(self, config_file: Path, port: int) -> list[str]:
        return [
            f"--config.file={config_file}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=info",
        ]

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
