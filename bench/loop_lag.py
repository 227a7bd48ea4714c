"""Event-loop lag: how late a short sleep wakes while a benchmark runs in the same loop."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from types import TracebackType

from bench.report import percentile

PERIOD = 0.005


@dataclass(frozen=True)
class Lag:
    """Lateness of the sampler's wake-ups, in seconds (timer granularity included)."""

    p50: float
    p99: float
    max: float


class LoopLag:
    """Samples, in the background, how much later than asked `asyncio.sleep` wakes."""

    def __init__(self, period: float = PERIOD) -> None:
        self.period = period
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time() + self.period
            await asyncio.sleep(self.period)
            self.samples.append(loop.time() - asked)

    def summary(self) -> Lag:
        s = self.samples
        return Lag(percentile(s, 50), percentile(s, 99), max(s, default=float("nan")))


async def idle_lag(seconds: float = 1.0) -> Lag:
    """The lag of an otherwise idle loop: the floor that timer granularity sets."""
    async with LoopLag() as lag:
        await asyncio.sleep(seconds)
    return lag.summary()
