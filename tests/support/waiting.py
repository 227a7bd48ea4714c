"""Waiting on a condition with a deadline: tests never sleep to wait for something."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    ok: Callable[[T], bool],
    *,
    within: float = 30.0,
    every: float = 0.1,
    what: str = "condition",
) -> T:
    """Poll `probe` until `ok(value)`; fail with the last value after `timeout` seconds."""
    deadline = time.monotonic() + within
    value = await probe()
    while not ok(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within} s; last value: {value!r}")
        await asyncio.sleep(every)
        value = await probe()
    return value


def eventually_sync(
    probe: Callable[[], T],
    ok: Callable[[T], bool],
    *,
    within: float = 30.0,
    every: float = 0.1,
    what: str = "condition",
) -> T:
    """The same for synchronous code (subprocesses)."""
    deadline = time.monotonic() + within
    value = probe()
    while not ok(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within} s; last value: {value!r}")
        time.sleep(every)
        value = probe()
    return value


def polled(read: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    """A synchronous read, in the form `eventually` polls."""

    async def value() -> T:
        return read()

    return value
