"""A real Alertmanager on 127.0.0.1 for tests and benchmarks: config, start, query, stop.

Runs the Debian `prometheus-alertmanager` binary with clustering off and its storage in
a temporary directory. No pytest dependency: tests find the binary with
`support.components.require_binary("prometheus-alertmanager", package=...)`, the
benchmarks with `shutil.which`.

    config = webhook_config(receiver.url, group_wait="1s")
    async with running_alertmanager(binary, config, tmp_path / "am") as am:
        alerts = await am.alerts()
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from support.server_process import ServerProcess

BINARY = "prometheus-alertmanager"


def webhook_config(
    url: str,
    *,
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
    group_by: tuple[str, ...] = ("alertname", "target", "probe"),
) -> dict[str, Any]:
    """One route to one webhook receiver that is also told about resolved alerts."""
    return {
        "route": {
            "receiver": "hook",
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [
            {"name": "hook", "webhook_configs": [{"url": url, "send_resolved": True}]},
        ],
    }


class Alertmanager(ServerProcess):
    """One Alertmanager process; `url` is its base URL once started."""

    name = "alertmanager"
    config_file = "alertmanager.yml"

    def flags(self, config_file: Path, port: int) -> list[str]:
        return [
            f"--config.file={config_file}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ]

    async def alerts(self) -> list[dict[str, Any]]:
        """`GET /api/v2/alerts`: every alert Alertmanager holds (active, silenced, inhibited)."""
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(f"{self.url}/api/v2/alerts") as resp,
        ):
            resp.raise_for_status()
            found: list[dict[str, Any]] = await resp.json()
            return found


@contextlib.asynccontextmanager
async def running_alertmanager(
    binary: str, config: Mapping[str, Any], workdir: Path
) -> AsyncIterator[Alertmanager]:
    """An Alertmanager for the duration of the block."""
    manager = Alertmanager(binary, config, workdir)
    await manager.start()
    try:
        yield manager
    finally:
        await manager.stop()
