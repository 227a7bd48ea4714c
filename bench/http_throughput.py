"""Create→visible cycles per second over HTTP, through the monitor's adapters and wait.

Each of `concurrency` loops creates a tagged user through the target's Auth side
(`POST /admin/users`), then waits through the monitor's own convergence helper
(`wait_until` with a shared `Pacer`, as create_sync waits) until `GET /users/{id}`
on the Backend shows it, and starts over. Cycles completed within the window are
counted. The users are not deleted: the simulator process is thrown away after.
"""

from __future__ import annotations

import asyncio
import functools
import os
import statistics
import time
from dataclasses import dataclass

from bench.daemon_proc import cpu_seconds
from bench.simulate_proc import Simulate
from monitor.probes._convergence import Pacer, wait_until
from monitor.targets.base import Target

GIVE_UP = 5.0


@dataclass(frozen=True)
class Throughput:
    """One window at one concurrency: cycles, reads, and CPU on both sides per cycle."""

    concurrency: int
    cycles: int
    seconds: float
    reads: float  # Backend reads per cycle (mean)
    client_cpu: float  # seconds of this process's CPU per cycle
    server_cpu: float  # seconds of the simulate process's CPU per cycle
    timeouts: int
    load: float

    @property
    def rate(self) -> float:
        return self.cycles / self.seconds


@dataclass
class Counter:
    cycles: int = 0
    reads: int = 0
    timeouts: int = 0


async def cycles(target: Target, pacer: Pacer, stop: asyncio.Event, count: Counter) -> None:
    """Create, wait until visible, repeat until `stop`."""
    clock = target.clock
    while not stop.is_set():
        user_id = await target.auth.create({"email": target.new_email()})
        acked = clock.monotonic()
        obs = await wait_until(
            functools.partial(target.backend.get_user, user_id),
            lambda record: record is not None,
            acked=acked,
            deadline=acked + GIVE_UP,
            clock=clock,
            pacer=pacer,
        )
        count.cycles, count.reads = count.cycles + 1, count.reads + obs.reads
        count.timeouts += 0 if obs.converged else 1


async def measure_throughput(
    sim: Simulate, *, concurrency: int, seconds: float, warm_up: float
) -> Throughput:
    """Run the loops; count what completes between the end of the warm-up and `seconds` on."""
    target = sim.target(sim.config())
    pacer, stop, count = Pacer(), asyncio.Event(), Counter()
    loops = [asyncio.create_task(cycles(target, pacer, stop, count)) for _ in range(concurrency)]
    try:
        await asyncio.sleep(warm_up)
        before = _snapshot(sim, count)
        await asyncio.sleep(seconds)
        after = _snapshot(sim, count)
    finally:
        stop.set()
        ended = await asyncio.gather(*loops, return_exceptions=True)
        await target.close()
    if crashed := [e for e in ended if isinstance(e, BaseException)]:
        raise RuntimeError(f"a cycle loop failed: {crashed[0]!r}") from crashed[0]
    return _throughput(concurrency, before, after)


Snapshot = tuple[float, float, float, Counter, float]


def _snapshot(sim: Simulate, count: Counter) -> Snapshot:
    copy = Counter(count.cycles, count.reads, count.timeouts)
    load = os.getloadavg()[0]
    return time.monotonic(), time.process_time(), cpu_seconds(sim.pid), copy, load


def _throughput(concurrency: int, before: Snapshot, after: Snapshot) -> Throughput:
    (t0, c0, s0, n0, load), (t1, c1, s1, n1, _) = before, after
    done = n1.cycles - n0.cycles
    per = 1 / done if done else float("nan")
    return Throughput(
        concurrency=concurrency,
        cycles=done,
        seconds=t1 - t0,
        reads=(n1.reads - n0.reads) * per,
        client_cpu=(c1 - c0) * per,
        server_cpu=(s1 - s0) * per,
        timeouts=n1.timeouts - n0.timeouts,
        load=load,
    )


def best(windows: list[Throughput]) -> Throughput:
    """The window with the highest rate."""
    return max(windows, key=lambda w: w.rate)


def median_rate(windows: list[Throughput]) -> float:
    return statistics.median(w.rate for w in windows)
