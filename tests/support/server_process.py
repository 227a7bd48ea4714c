"""A real server binary (Prometheus, Alertmanager) run by a test on a free loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from support.network import free_port, wait_ready

START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it


class ServerProcess:
    """One server process with its config in `workdir`; `url` is its base URL once started.

    Subclasses name the server and its config file and give its command-line flags.
    """

    name = "server"
    config_file = "config.yml"

    def __init__(self, binary: str, config: Mapping[str, Any], workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.url = ""
        self._config = config
        self._process: asyncio.subprocess.Process | None = None
        self._log = workdir / f"{self.name}.log"

    def flags(self, config_file: Path, port: int) -> list[str]:
        raise NotImplementedError

    async def start(self, *, within: float = 30.0) -> None:
        """Start on a free port and wait until `/-/ready` answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_file = self.workdir / self.config_file
        config_file.write_text(yaml.safe_dump(dict(self._config), sort_keys=False))
        for _ in range(START_ATTEMPTS):
            port = free_port()
            self._process = await self._spawn(config_file, port)
            self.url = f"http://127.0.0.1:{port}"
            if await wait_ready(self._process, f"{self.url}/-/ready", within=within):
                return
            await self.stop()
        raise RuntimeError(f"{self.name} did not become ready; its log:\n{self.log_tail()}")

    async def _spawn(self, config_file: Path, port: int) -> asyncio.subprocess.Process:
        with self._log.open("ab") as log:
            return await asyncio.create_subprocess_exec(
                self.binary,
                *self.flags(config_file, port),
                cwd=self.workdir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

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
