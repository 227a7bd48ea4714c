"""The clock shared by the simulator and the probes, injectable so tests run on virtual time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


@dataclass(frozen=True)
class Clock:
    """Monotonic time from the running event loop, wall time for people.

    The loop's own clock is the monotonic source, so a loop with virtual time
    (see `monitor.vtime`) makes every sleep, timeout and measurement virtual at once.
    """

    monotonic: Callable[[], float] = field(default=_loop_time)
    wall: Callable[[], float] = field(default=time.time)

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop (virtual when the loop is)."""
        await asyncio.sleep(max(0.0, seconds))


SYSTEM_CLOCK = Clock()
