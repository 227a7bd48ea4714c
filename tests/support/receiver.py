"""A webhook receiver on 127.0.0.1 that records every POST and answers as it is told.

Used as Alertmanager's webhook receiver and as the monitor's own webhook target. It has
no pytest dependency, so the benchmarks use it too.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Delivery:
    """One request as it arrived: wall and monotonic time, path, headers, raw body, the
    status answered."""

    at: float
    monotonic: float
    path: str
    headers: Mapping[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Answers each POST with the next of `statuses` (then 200), or hangs when `hang` is set."""

    def __init__(self, *, statuses: Iterable[int] = (), hang: bool = False) -> None:
        self.deliveries: list[Delivery] = []
        self.hang = hang
        self._statuses = list(statuses)
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.hung = 0  # requests that arrived while hanging

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._runner is not None
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.hang:
            self.hung += 1
            await self._release.wait()
            return web.Response(status=503)
        status = self._statuses.pop(0) if self._statuses else 200
        self.deliveries.append(
            Delivery(
                time.time(), time.monotonic(), request.path, dict(request.headers), body, status
            )
        )
        return web.Response(status=status)

    def accepted(self) -> list[Delivery]:
        """The deliveries answered with a 2xx."""
        return [d for d in self.deliveries if d.status < 300]

    def alerts(self) -> list[tuple[float, str, dict[str, Any]]]:
        """Every alert of every accepted webhook payload: (arrival, status, alert)."""
        return [
            (d.at, alert["status"], alert) for d in self.accepted() for alert in d.json()["alerts"]
        ]

    async def close(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
