"""Waiting for convergence: poll Backend on an adaptive schedule until it agrees or give_up.

Latency is measured from Auth's acknowledgement to the start of the first read that
sees the change; the start of the last read that did not see it is a lower bound, and
only that bound proves a change late: a read is always made at the `checkpoint` (the
`slow` threshold), so lateness is decided there and not by the polling gap.

The schedule learns from recent arrivals of the same target and operation, each
bracketed by the reads around it: it reads once at once (for synchronous systems),
sleeps until the earliest recent lower bound, reads densely up to the latest recent
upper bound, then backs off geometrically. Before it has history it backs off from
1 ms; those first, coarse arrivals are set aside once finer ones are known. The number
of reads is bounded, so a change that never arrives costs a known, small load.
"""

from __future__ import annotations

import itertools
import math
import statistics
from array import array
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from monitor.clock import Clock

T = TypeVar("T")

HISTORY = 64  # recent arrivals kept per target and operation
LEARNED = 3  # arrivals needed before the schedule is learned from them
DENSE_READS = 14  # reads spent across the expected arrival window
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
    """The read schedule for one target and operation, learned from its recent arrivals.

    The dense window runs from the 2nd percentile of the arrivals' lower bounds to the
    98th of their upper bounds. Learning only the measured latency, which is up to a gap
    late, would ratchet the window's start upwards unless a wide margin (paid in reads on
    every wait) held it down; lower bounds need none. A change seen by the window's first
    read is censored (it came before the window, how long before is unknown): it is
    learned as a gap earlier, doubling while that repeats, so the window follows a
    system that speeds up within a few waits.

    An arrival is two floats in flat arrays (a daemon keeps HISTORY of them for every
    target and operation: as objects they were most of the collector's work).
    """

    def __init__(self) -> None:
        # when each recent change arrived, in seconds after its ack, oldest first: after
        # the start of the last read that missed it (a lower bound), by the start of the
        # read that saw it (the measured latency, an upper bound)
        self._after = array("d")
        self._by = array("d")
        self._coarse = 0  # how many of the oldest were seen on the cold schedule
        self._start = 0.0  # the current window's first read and gap, to tell censoring
        self._gap = MIN_GAP
        self._censored = 0  # censored arrivals in a row

    def arrivals(self) -> list[tuple[float, float]]:
        """(after, by) of the recent arrivals, oldest first."""
        return list(zip(self._after, self._by, strict=True))

    def learn(self, latency: float, after: float | None = None) -> None:
        """A change seen `latency` after the ack; the last read that missed it began `after`
        (None: the latency is exact)."""
        lower = latency if after is None else after
        if after is not None and after < self._start:
            self._censored = min(self._censored + 1, 30)
            lower = max(after, latency - self._gap * 2 ** (self._censored - 1))
        else:
            self._censored = 0
        if len(self._by) < LEARNED:  # the first ones come before any window is learned
            self._coarse += 1
        if len(self._by) == HISTORY:
            del self._after[0], self._by[0]
            self._coarse = max(0, self._coarse - 1)
        self._after.append(lower)
        self._by.append(latency)

    def offsets(self) -> Iterator[float]:
        """Read times, in seconds after the acknowledgement."""
        # the fine arrivals once there are enough of them, else all of them
        fine = 0 if len(self._by) - self._coarse < LEARNED else self._coarse
        if len(self._by) - fine < LEARNED:
            self._start, self._gap = 0.0, MIN_GAP
            yield 0.0
            yield from _backoff(MIN_GAP, MIN_GAP)
            return
        at, until, gap = _window(self._after[fine:], self._by[fine:])
        self._start, self._gap = at, gap
        yield 0.0
        while at < until:
            yield at
            at += gap
        yield from _backoff(at, gap * BACKOFF)


def _window(afters: Sequence[float], bys: Sequence[float]) -> tuple[float, float, float]:
    """The first dense read, where dense reads end, and the gap between them."""
    n, k = len(bys), len(bys) // 50
    lo = sorted(afters)[k]
    highs = sorted(bys)
    hi = highs[n - 1 - k]
    margin = max(0.002, 0.1 * statistics.median(highs))  # costs reads only when late
    return max(MIN_GAP, lo), hi + margin, max(MIN_GAP, (hi - lo) / DENSE_READS)


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
    read starts exactly then unless the wait ended before. Reads that fell due together
    (the wait began late, a read was slow, the loop lagged) are made once. A read that
    would still be running at the checkpoint or the deadline, going by how long the last
    one took, is left out: it would push the read due there late, and a change landing
    in between could then be proven neither late nor there in time.
    """
    reads, after, took = 0, 0.0, 0.0
    mark = deadline if checkpoint is None else acked + checkpoint
    value: T | None = None
    times = _read_times(pacer, acked, deadline, checkpoint)
    planned = next(times)
    for following in itertools.chain(times, (math.inf,)):
        now = clock.monotonic()
        # a read whose successor is due already is left out: a read made now serves both
        if following <= now:
            planned = following
            continue
        at = max(deadline if reads == MAX_READS - 1 else planned, now)
        planned = following
        if at > deadline:
            break
        # a read that would still be running at the checkpoint or the deadline
        if at < mark < at + took or at < deadline < at + took:
            continue
        if (pause := at - now) > 0:  # a read due now is made now, not a loop turn later
            await clock.sleep(pause)
            now = clock.monotonic()
        started = max(now, at)  # a timer may fire a rounding error early
        value = await read()
        took = clock.monotonic() - started
        reads += 1
        if done(value):
            pacer.learn(started - acked, after)
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
