"""Tracing a target's adapter calls and sleeps, per probe run, from outside the monitor.

The benchmarks wrap a built target's sides and give it a clock whose sleeps are
recorded, so each run's calls (the user ids they created, how long each read took) and
the time spent waiting on the target can be told apart from the monitor's own time.
Calls are kept in a context variable: each run (one task, and the cleanup task it
starts, which inherits the context) sees only its own.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from monitor.clock import Clock
from monitor.targets.base import Target


@dataclass(frozen=True)
class Call:
    """One adapter call (`auth.create`, `backend.get_user`) or sleep (`clock.sleep`)."""

    name: str
    args: tuple[Any, ...]
    started: float  # time.monotonic()
    ended: float
    result: Any = None


TRACE: ContextVar[list[Call] | None] = ContextVar("bench_trace", default=None)


def new_trace() -> list[Call]:
    """Start recording the calls of the current task (and tasks it starts) afresh."""
    calls: list[Call] = []
    TRACE.set(calls)
    return calls


def _record(call: Call) -> None:
    calls = TRACE.get()
    if calls is not None:
        calls.append(call)


class Traced:
    """A side whose coroutine methods are recorded; everything else passes through."""

    def __init__(self, inner: Any, side: str) -> None:
        self._inner = inner
        self._side = side

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        return _traced(attr, f"{self._side}.{name}")


def _traced(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        started, result = time.monotonic(), None
        try:
            result = await method(*args, **kwargs)
            return result
        finally:
            _record(Call(name, args, started, time.monotonic(), result))

    return call


@dataclass(frozen=True)
class TracingClock(Clock):
    """The system clock, with every sleep recorded as a `clock.sleep` call."""

    async def sleep(self, seconds: float) -> None:
        started = time.monotonic()
        try:
            await super().sleep(seconds)
        finally:
            _record(Call("clock.sleep", (seconds,), started, time.monotonic()))


def trace_target(target: Target) -> Target:
    """Record the target's adapter calls: under the synthetic guard on the Auth side (so
    the guard's own checks count as calls), and the whole Backend side."""
    target.auth.inner = Traced(target.auth.inner, "auth")
    target.backend = Traced(target.backend, "backend")
    return target


def covered(spans: Iterable[tuple[float, float]]) -> float:
    """The length of the union of the intervals: time when at least one was under way."""
    total, start, end = 0.0, None, 0.0
    for a, b in sorted(spans):
        if start is None or a > end:
            total += end - start if start is not None else 0.0
            start, end = a, b
        else:
            end = max(end, b)
    return total + (end - start if start is not None else 0.0)
