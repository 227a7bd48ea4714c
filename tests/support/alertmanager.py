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

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from support.network import free_port, wait_ready

BINARY = "prometheus-alertmanager"
START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it


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


class Alertmanager:
    """One Alertmanager process; `url` is its base URL once started."""

    def __init__(self, binary: str, config: Mapping[str, Any], workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.url = ""
        self._config = config
        self._process: asyncio.subprocess.Process | None = None
        self._log = workdir / "alertmanager.log"

    async def start(self, *, within: float = 30.0) -> None:
        """Start on a free port and wait until `/-/ready` answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_file = self.workdir / "alertmanager.yml"
        config_file.write_text(yaml.safe_dump(dict(self._config)))
        for _ in range(START_ATTEMPTS):
            port = free_port()
            self._process = await self._spawn(config_file, port)
            self.url = f"http://127.0.0.1:{port}"
            if await self._ready(within):
                return
            await self.stop()
        raise RuntimeError(f"alertmanager did not become ready; its log:\n{self.log_tail()}")

    async def _spawn(self, config_file: Path, port: int) -> asyncio.subprocess.Process:
        with self._log.open("ab") as log:
            return await asyncio.create_subprocess_exec(
                self.binary,
                f"--config.file={config_file}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=debug",
                stdout=log,
                stderr=log,
            )

    async def _ready(self, within: float) -> bool:
        assert self._process is not None
        return await wait_ready(self._process, f"{self.url}/-/ready", within=within)

    async def alerts(self) -> list[dict[str, Any]]:
        """`GET /api/v2/alerts`: every alert Alertmanager holds (active, silenced, inhibited)."""
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(f"{self.url}/api/v2/alerts") as resp,
        ):
            resp.raise_for_status()
            found: list[dict[str, Any]] = await resp.json()
            return found

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            process.kill()
            await process.wait()


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
