"""A shared/exclusive lock: most probes share a target, a few need it alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class SharedExclusiveLock:
    """Many shared holders or one exclusive holder; a waiting exclusive blocks new shared ones.

    Taking a free lock does not yield, and releasing never does: on one event loop the
    state changes between awaits are atomic, so no inner lock is needed, and a release
    that cannot be interrupted needs no shielded task (one per probe run, before).
    """

    def __init__(self) -> None:
        self._shared = 0
        self._exclusive = False
        self._waiting_exclusive = 0
        self._waiters: list[asyncio.Future[None]] = []

    @asynccontextmanager
    async def hold(self, *, exclusive: bool) -> AsyncIterator[None]:
        await (self._take_exclusive() if exclusive else self._take_shared())
        try:
            yield
        finally:
            if exclusive:
                self._exclusive = False
            else:
                self._shared -= 1
            self._wake()

    async def _take_shared(self) -> None:
        await self._until(lambda: not self._exclusive and not self._waiting_exclusive)
        self._shared += 1

    async def _take_exclusive(self) -> None:
        self._waiting_exclusive += 1
        try:
            await self._until(lambda: not self._exclusive and not self._shared)
        except BaseException:  # cancelled: the shared takers it held back may go now
            self._wake()  # they look again on a later turn, once this one is uncounted
            raise
        finally:
            self._waiting_exclusive -= 1
        self._exclusive = True

    async def _until(self, free: Callable[[], bool]) -> None:
        while not free():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                self._waiters.remove(waiter)

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
