"""The virtual-time loop: sleeps and timeouts take no real time, and time stays consistent."""

from __future__ import annotations

import asyncio
import time

import pytest

from monitor.vtime import EPOCH, run_virtual, virtual_clock


def test_a_long_sleep_takes_no_real_time_but_advances_the_loop_clock() -> None:
    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(3600)
        return loop.time() - start

    started = time.monotonic()
    slept = run_virtual(scenario())

    assert slept == pytest.approx(3600)
    assert time.monotonic() - started < 1.0


def test_timers_fire_in_order_of_their_virtual_deadlines() -> None:
    async def scenario() -> list[str]:
        fired: list[str] = []

        async def after(seconds: float, name: str) -> None:
            await asyncio.sleep(seconds)
            fired.append(name)

        await asyncio.gather(after(2.0, "late"), after(0.5, "early"), after(1.0, "middle"))
        return fired

    assert run_virtual(scenario()) == ["early", "middle", "late"]


def test_a_timeout_expires_on_virtual_time() -> None:
    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(5.0):
                await asyncio.sleep(60)
        return loop.time() - start

    assert run_virtual(scenario()) == pytest.approx(5.0)


def test_the_virtual_clock_shows_wall_time_from_a_fixed_origin() -> None:
    clock = virtual_clock()

    async def scenario() -> tuple[float, float]:
        before = clock.wall()
        await clock.sleep(10.0)
        return before, clock.wall()

    before, after = run_virtual(scenario())

    assert before == EPOCH
    assert after == pytest.approx(EPOCH + 10.0)


def test_each_run_starts_a_fresh_clock_at_zero() -> None:
    async def now() -> float:
        await asyncio.sleep(1.0)
        return asyncio.get_running_loop().time()

    assert run_virtual(now()) == run_virtual(now()) == pytest.approx(1.0)
