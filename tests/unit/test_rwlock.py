"""The shared/exclusive lock that keeps exclusive probes alone on a target."""

from __future__ import annotations

import asyncio

import pytest

from monitor.rwlock import SharedExclusiveLock


async def _hold(lock: SharedExclusiveLock, log: list[str], name: str, exclusive: bool) -> None:
    async with lock.hold(exclusive=exclusive):
        log.append(f"+{name}")
        await asyncio.sleep(0.01)
        log.append(f"-{name}")


async def test_shared_holders_overlap() -> None:
    lock, log = SharedExclusiveLock(), []
    await asyncio.gather(_hold(lock, log, "a", False), _hold(lock, log, "b", False))
    assert log == ["+a", "+b", "-a", "-b"]


async def _queued(
    lock: SharedExclusiveLock, log: list[str]
) -> tuple[asyncio.Task[None], asyncio.Task[None], asyncio.Task[None]]:
    """A shared holder (s1), then an exclusive waiter (x), then a shared taker (s2)."""
    tasks = []
    for name, exclusive in (("s1", False), ("x", True), ("s2", False)):
        tasks.append(asyncio.create_task(_hold(lock, log, name, exclusive)))
        await asyncio.sleep(0)
    return tasks[0], tasks[1], tasks[2]


async def test_exclusive_waits_for_shared_and_holds_back_new_shared_ones() -> None:
    lock, log = SharedExclusiveLock(), []
    await asyncio.gather(*await _queued(lock, log))
    assert log == ["+s1", "-s1", "+x", "-x", "+s2", "-s2"]


async def test_a_cancelled_exclusive_waiter_lets_the_shared_ones_it_held_back_go() -> None:
    lock, log = SharedExclusiveLock(), []
    first, exclusive, late = await _queued(lock, log)
    exclusive.cancel()
    with pytest.raises(asyncio.CancelledError):
        await exclusive
    await asyncio.wait_for(late, 1.0)  # goes at once, beside s1, not after it
    await first
    assert log[:3] == ["+s1", "+s2", "-s1"]


async def test_a_holder_cancelled_inside_releases_the_lock() -> None:
    lock, log = SharedExclusiveLock(), []
    holder = asyncio.create_task(_hold(lock, log, "x", True))
    await asyncio.sleep(0)
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    await asyncio.wait_for(_hold(lock, log, "y", True), 1.0)
    assert log == ["+x", "+y", "-y"]
