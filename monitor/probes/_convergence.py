"""Waiting for convergence: poll Backend on an adaptive schedule until it agrees or give_up.

Latency is measured from Auth's acknowledgement to the start of the first read that
sees the change; the start of the last read that did not see it is a lower bound, and
only that bound proves a change late: a read is always made at the `checkpoint` (the
`slow` threshold), so lateness is decided there and not by the polling gap.

The schedule learns from recent latencies of the same target and operation: it reads
once at once (for synchronous systems), sleeps until shortly before the earliest
recent arrival, reads densely across the recent spread, then backs off geometrically.
Before it has history it backs off from 1 ms. The number of reads is bounded, so a
change that never arrives costs a known, small load.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from monitor.clock import Clock

T = TypeVar("T")

HISTORY = 64  # recent latencies kept per target and operation
DENSE_READS = 10  # reads spent across the expected arrival window
MIN_GAP = 0.001
MAX_GAP = 0.25
BACKOFF = 1.6
MAX_READS = 60


@dataclass(frozen=True)
class Observation(Generic[T]):
    """How a wait ended: whether the expected state was seen, the last value, the latency."""

    converged: bool
    value: T | None  # the last value read; None if nothing was read
    seconds: float | None  # latency from the ack; None when it never converged
    reads: int
    waited: float  # from the ack to the end of the wait
    after: float = 0.0  # from the ack to the start of the last read that did not see it


class Pacer:
    """The read schedule for one target and operation, learned from its recent latencies."""

    def __init__(self) -> None:
        self.history: deque[float] = deque(maxlen=HISTORY)

    def learn(self, latency: float) -> None:
        self.history.append(latency)

    def offsets(self) -> Iterator[float]:
        """Read times, in seconds after the acknowledgement."""
        yield 0.0
        if len(self.history) < 3:
            yield from _backoff(MIN_GAP, MIN_GAP)
            return
        lo, hi = _window(sorted(self.history))
        gap = max(MIN_GAP, (hi - lo) / DENSE_READS)
        at = lo
        while at < hi:
            yield at
            at += gap
        yield from _backoff(at, gap * BACKOFF)


def _window(latencies: list[float]) -> tuple[float, float]:
    n = len(latencies)
    lo, hi = latencies[max(0, n // 50)], latencies[min(n - 1, n - 1 - n // 50)]
    margin = max(0.002, 0.1 * statistics.median(latencies))
    return max(MIN_GAP, lo - margin), hi + margin


def _backoff(start: float, gap: float) -> Iterator[float]:
    at = start
    while True:
        yield at
        at += gap
        gap = min(MAX_GAP, gap * BACKOFF)


async def wait_until(
    read: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    acked: float,
    deadline: float,
    clock: Clock,
    pacer: Pacer,
    checkpoint: float | None = None,
) -> Observation[T]:
    """Poll `read` until `done(value)` or the deadline; never reads after the deadline.

    The last read starts at the deadline itself, so a change that never converged was
    not there at the deadline. When `checkpoint` (seconds after the ack) is given, one
    read starts exactly then unless the wait ended before.
    """
    reads, after = 0, 0.0
    value: T | None = None
    for planned in _read_times(pacer, acked, deadline, checkpoint):
        at = max(deadline if reads == MAX_READS - 1 else planned, clock.monotonic())
        if at > deadline:
            break
        await clock.sleep(at - clock.monotonic())
        started = max(clock.monotonic(), at)  # a timer may fire a rounding error early
        value = await read()
        reads += 1
        if done(value):
            pacer.learn(started - acked)
            waited = clock.monotonic() - acked
            return Observation(True, value, started - acked, reads, waited, after)
        after = started - acked
        if at >= deadline:
            break
    return Observation(False, value, None, reads, clock.monotonic() - acked, after)


def _read_times(
    pacer: Pacer, acked: float, deadline: float, checkpoint: float | None
) -> Iterator[float]:
    """When to read: the pacer's schedule with the checkpoint slotted in, cut at the
    deadline, and the deadline itself last."""
    for offset in _with_checkpoint(pacer.offsets(), checkpoint):
        if acked + offset >= deadline:
            break
        yield acked + offset
    yield deadline


def _with_checkpoint(offsets: Iterator[float], checkpoint: float | None) -> Iterator[float]:
    """The offsets, with `checkpoint` slotted in where it belongs."""
    for offset in offsets:
        if checkpoint is not None and offset >= checkpoint:
            if offset > checkpoint:
                yield checkpoint
            checkpoint = None
        yield offset


async def hold(
    read: Callable[[], Awaitable[T]],
    ok: Callable[[T], bool],
    *,
    until: float,
    clock: Clock,
    gap: float = 0.02,
) -> T | None:
    """Keep reading until `until`; return the first value that is not `ok`, else None."""
    while (now := clock.monotonic()) < until:
        await clock.sleep(min(gap, until - now))
        value = await read()
        if not ok(value):
            return value
        gap = min(MAX_GAP / 2, gap * BACKOFF)
    return None
