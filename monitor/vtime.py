"""An asyncio event loop on virtual time: sleeps and timeouts complete instantly.

When nothing is ready to run, the loop jumps its clock to the next timer instead of
waiting for it. Socket I/O still works (it is polled without blocking), so this suits
in-process work such as the simulator; it is what the test suite and the fault
campaign use to run thousands of probe cycles in seconds.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

from monitor.clock import Clock

T = TypeVar("T")

EPOCH = 1_790_000_000.0  # a fixed wall-clock origin, so virtual runs are reproducible


class _JumpingSelector(selectors.DefaultSelector):
    """Never blocks on a timeout: advances the loop's virtual clock instead."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0 if timeout is not None else None)
        if not events and timeout is not None and timeout > 0:
            self.now += timeout
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose `time()` is virtual."""

    def __init__(self) -> None:
        self._jumper = _JumpingSelector()
        super().__init__(self._jumper)
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self._jumper.now


def virtual_clock() -> Clock:
    """A clock whose wall time follows the virtual loop's time from a fixed origin."""
    return Clock(wall=lambda: EPOCH + asyncio.get_running_loop().time())


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
