"""Sync-latency error over HTTP: create_sync at a moderate rate, scored against /admin/truth.

Runs are started at a fixed rate (they overlap, as a daemon's would with several
targets); each run's created user id comes from the traced Auth side, and its measured
`Sync.seconds` is compared with `visible_at - emitted_at` of that user's create in the
simulator's ground truth. The simulator's loop clock and this process's are both
CLOCK_MONOTONIC, so the ack's lag behind the emission (the response's travel) and the
time the seeing read took are read off the same clock and reported as well.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.simulate_proc import Simulate
from bench.tracing import Call, new_trace, trace_target
from monitor.results import ProbeResult
from monitor.runner import run_probe
from monitor.settings import ProbeSettings
from monitor.targets.base import Target

PROBE = "create_sync"
STALL = 0.002  # an ack or a read on loopback that took longer (twice its median) was held up


@dataclass(frozen=True)
class Sample:
    """One measured create next to the truth about it (seconds)."""

    measured: float
    truth: float
    reads: int
    ack_offset: float  # the client's ack instant minus the server's emission instant
    seen_read: float  # how long the read that saw the user took

    @property
    def signed(self) -> float:
        return self.measured - self.truth

    @property
    def error(self) -> float:
        return abs(self.signed)

    @property
    def stalled(self) -> bool:
        return self.ack_offset > STALL or self.seen_read > STALL


@dataclass
class Accuracy:
    """One repeat: scored samples, the pacer's warm-up, runs that did not pass."""

    samples: list[Sample] = field(default_factory=list)
    warmup: list[Sample] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    unscored: int = 0
    load: float = 0.0
    seconds: float = 0.0


Traced = tuple[ProbeResult, list[Call]]


async def traced_run(target: Target, settings: ProbeSettings) -> Traced:
    calls = new_trace()
    return await run_probe(target, PROBE, settings), calls


async def fixed_rate(
    target: Target, settings: ProbeSettings, count: int, rate: float
) -> list[Traced]:
    """`count` runs, one started every 1/rate seconds on an absolute schedule."""
    start, tasks = time.monotonic(), []
    for i in range(count):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(traced_run(target, settings)))
    return list(await asyncio.gather(*tasks))


async def measure_accuracy(sim: Simulate, *, runs: int, warm_up: int, rate: float) -> Accuracy:
    config = sim.config()
    settings = config.probe_settings(config.targets[0], PROBE)
    target = trace_target(sim.target(config))
    out, started = Accuracy(load=os.getloadavg()[0]), time.monotonic()
    try:
        done = await fixed_rate(target, settings, warm_up + runs, rate)
    finally:
        await target.close()
    async with aiohttp.ClientSession() as http:
        truth = await sim.truth(http)
    creates = {c["user_id"]: c for c in truth["changes"] if c["op"] == "create"}
    for n, (result, calls) in enumerate(done):
        _score(out, result, calls, creates, warm=n < warm_up)
    out.seconds = time.monotonic() - started
    return out


def _score(
    out: Accuracy, result: ProbeResult, calls: list[Call], creates: dict[str, Any], *, warm: bool
) -> None:
    if result.outcome != "pass":  # no fault is injected: a failure is noise or a bug, shown
        out.failed.append(f"{result.outcome}: {result.error or sorted(result.kinds)}")
    sample = _sample(result, calls, creates)
    if sample is None:
        out.unscored += 1
    else:
        (out.warmup if warm else out.samples).append(sample)


def _sample(result: ProbeResult, calls: list[Call], creates: dict[str, Any]) -> Sample | None:
    ids = [c.result for c in calls if c.name == "auth.create"]
    syncs = [s for s in result.syncs if s.operation == "create"]
    if len(ids) != 1 or len(syncs) != 1 or ids[0] not in creates:
        return None
    sync, change = syncs[0], creates[ids[0]]
    if sync.seconds is None or change["visible_at"] is None:
        return None
    measured = sync.seconds
    reads = [c for c in calls if c.name == "backend.get_user"]
    seen = min(reads, key=lambda c: abs(c.started - (sync.acked + measured)))
    return Sample(
        measured=measured,
        truth=change["visible_at"] - change["emitted_at"],
        reads=sync.reads,
        ack_offset=sync.acked - change["emitted_at"],
        seen_read=seen.ended - seen.started,
    )
