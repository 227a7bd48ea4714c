"""One change measured two ways, on the same reads, and scored against ground truth.

The heartbeat (the way pt-heartbeat measures lag): the writer puts its wall-clock time
into the record it writes; the reader, once it reads the copy, subtracts that value
from its own wall clock. Two clocks, so whatever the reader's clock is off by lands in
the figure. The monitor: from the write's acknowledgement to the start of the first
read that sees the copy, both on this process's monotonic clock.

Both are taken from one wait through the monitor's own helper (`wait_until` with a
`Pacer`), so they share every read and differ only in the clocks they trust. The
reader's skew is added afterwards: a reader whose clock is `skew` ahead reads every
instant `skew` later, and nothing else about the reads changes, so one set of changes
serves every skew and the columns differ by the skew alone.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from bench.report import percentile
from monitor.clock import SYSTEM_CLOCK
from monitor.probes._convergence import Pacer, wait_until
from monitor.targets.base import Fields

STAMP_FIELD = "display_name"

Write = Callable[[Mapping[str, str]], Awaitable[str]]  # creates a user, returns its id
Read = Callable[[str], Awaitable[Fields | None]]


@dataclass(frozen=True)
class Pair:
    """One change as both methods measured it (seconds; the heartbeat without skew)."""

    user_id: str
    monitor: float
    heartbeat: float
    stamped: float  # monotonic instant the stamp was taken (just before the write)
    acked: float  # monotonic instant the write returned
    seen_read: float  # how long the read that returned the copy took
    reads: int

    @property
    def write(self) -> float:
        """The write's own time: the heartbeat's stamp is taken before it, the ack after."""
        return self.acked - self.stamped


async def measure(
    write: Write, read: Read, fields: Fields, *, pacer: Pacer, give_up: float
) -> Pair | None:
    """Write a user stamped with the writer's wall clock; wait for its copy; None if it
    never showed within `give_up`."""
    clock, answers = SYSTEM_CLOCK, []
    stamp, before = time.time(), clock.monotonic()
    user_id = await write({**fields, STAMP_FIELD: repr(stamp)})
    acked = clock.monotonic()

    async def read_copy() -> Fields | None:
        started = clock.monotonic()
        record = await read(user_id)
        # the reader's clock as the answer is in hand, and how long the read took
        answers.append((time.time(), clock.monotonic() - started))
        return record

    obs = await wait_until(
        read_copy, _has_stamp, acked=acked, deadline=acked + give_up, clock=clock, pacer=pacer
    )
    if not obs.converged or obs.value is None or obs.seconds is None:
        return None
    answered, took = answers[-1]
    heartbeat = answered - float(obs.value[STAMP_FIELD])
    return Pair(user_id, obs.seconds, heartbeat, before, acked, took, obs.reads)


def _has_stamp(record: Fields | None) -> bool:
    return record is not None and STAMP_FIELD in record


async def measure_many(
    write: Write,
    read: Read,
    new_fields: Callable[[], Fields],
    *,
    count: int,
    loops: int,
    give_up: float,
) -> list[Pair | None]:
    """`count` changes by `loops` concurrent writers sharing one pacer, in start order."""
    pacer, started = Pacer(), itertools.count()
    found: list[Pair | None] = [None] * count

    async def writer() -> None:
        while (n := next(started)) < count:
            found[n] = await measure(write, read, new_fields(), pacer=pacer, give_up=give_up)

    await asyncio.gather(*(writer() for _ in range(loops)))
    return found


@dataclass(frozen=True)
class Scored:
    """A pair next to the true latency of its change (visible_at - emitted_at)."""

    pair: Pair
    truth: float
    emitted_at: float  # monotonic (the simulator's loop clock: CLOCK_MONOTONIC too)

    @property
    def before_emission(self) -> float:
        """From the heartbeat's stamp to the change's emission: part of the write that the
        heartbeat counts as lag."""
        return self.emitted_at - self.pair.stamped

    def heartbeat_error(self, skew: float) -> float:
        """Signed: the heartbeat's figure, read with a clock `skew` ahead, minus the truth."""
        return self.pair.heartbeat + skew - self.truth

    @property
    def monitor_error(self) -> float:
        return self.pair.monitor - self.truth


@dataclass(frozen=True)
class Errors:
    """Absolute errors' p50, p99 and max, and the median signed error (the bias)."""

    p50: float
    p99: float
    max: float
    bias: float


def errors(signed: Sequence[float]) -> Errors:
    absolute = [abs(e) for e in signed]
    return Errors(
        percentile(absolute, 50),
        percentile(absolute, 99),
        max(absolute, default=float("nan")),
        percentile(signed, 50),
    )
