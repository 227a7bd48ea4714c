"""Convergence accuracy: the probes' measured sync latency against the simulator's truth.

The real probes run on the real clock against several independent in-process worlds
at once (simulator defaults, 10 ms latency jitter, no faults). Every `Sync` they report
is scored against the true latency of the change it waited for; a naive poller that
reads every 100 ms takes the same operations for comparison. The whole measurement is
repeated, and the report gives the median with min and max.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench import naive
from bench.convergence_report import render
from bench.loop_lag import Lag, LoopLag, idle_lag
from bench.report import write_section
from bench.scoring import Scored, Summary, by_op, last_seq, score, summarise
from monitor.clock import SYSTEM_CLOCK
from monitor.config import SimulatorConfig, TargetConfig
from monitor.probes._convergence import HISTORY, Pacer
from monitor.runner import run_probe
from monitor.settings import ProbeSettings
from monitor.sim.world import World
from monitor.targets.base import Target
from monitor.targets.simulator import simulator_target
from monitor.vtime import run_virtual

PLAN = ("create_sync", "update_propagation", "delete_cascade", "partial_update")
WARMUP = ("delete_cascade", "partial_update")  # the quickest way to every operation's history
OPS = ("create", "update", "delete")
JITTER = 0.010
SETTINGS = ProbeSettings()


class BenchError(Exception):
    """The measurement cannot go on; the message says why."""


@dataclass
class Tally:
    """What one world's runs produced: scored syncs, warm-up syncs, runs that did not pass."""

    scored: Scored = field(default_factory=lambda: Scored([]))
    warmup: Scored = field(default_factory=lambda: Scored([]))
    failed: list[str] = field(default_factory=list)

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.scored + other.scored, self.warmup + other.warmup, self.failed + other.failed
        )


@dataclass(frozen=True)
class Repeat:
    """One whole measurement: both waiting strategies, the loop's lag, the wall time."""

    adaptive: Summary
    naive: Summary
    warmup: Summary
    per_op: dict[str, Summary]
    naive_per_op: dict[str, Summary]
    lag: Lag
    naive_lag: Lag
    seconds: float
    failed: list[str]
    load: float  # the machine's 1-minute load average as the repeat started


def new_world(index: int, seed: int) -> tuple[Target, World]:
    simulator = SimulatorConfig(latency_jitter=JITTER, seed=seed)
    target = simulator_target(
        TargetConfig(name=f"bench-{index}", simulator=simulator), clock=SYSTEM_CLOCK
    )
    world = target.state["world"]
    assert isinstance(world, World)
    return target, world


async def probe_run(target: Target, world: World, probe: str) -> Tally:
    """Run one probe through the real runner and score the syncs it reports."""
    since = last_seq(world.truth)
    result = await run_probe(target, probe, SETTINGS)
    if result.outcome == "error":  # no fault is injected: an error is the bench's or a bug
        raise BenchError(f"{probe} on {target.name}: {result.error}")
    failed = [] if result.outcome == "pass" else [f"{probe}: {sorted(result.kinds)}"]
    return Tally(score(result.syncs, world.truth, since), failed=failed)


def warm(target: Target, arrivals: int) -> bool:
    """Every operation's pacer has learned from `arrivals` syncs."""
    pacers = [target.state.get(f"pacer:{op}") for op in OPS]
    return all(isinstance(p, Pacer) and len(p.arrivals()) >= arrivals for p in pacers)


async def adaptive_world(index: int, seed: int, quota: int, warm_up: int) -> Tally:
    """Warm a fresh world's pacers up, then run the plan until `quota` syncs are scored."""
    target, world = new_world(index, seed)
    tally = Tally()
    try:
        for probe in itertools.cycle(WARMUP):
            if warm(target, warm_up):
                break
            run = await probe_run(target, world, probe)
            tally.warmup, tally.failed = tally.warmup + run.scored, tally.failed + run.failed
        for probe in itertools.cycle(PLAN):
            if len(tally.scored.samples) >= quota:
                break
            tally += await probe_run(target, world, probe)
    finally:
        await target.close()
    return tally


async def naive_world(index: int, seed: int, quota: int) -> Scored:
    """The same plan's operations on a fresh world, waited for by fixed-interval polling."""
    target, world = new_world(index, seed)
    scored = Scored([])
    try:
        for scenario in itertools.cycle(PLAN):
            if len(scored.samples) >= quota:
                break
            since = last_seq(world.truth)
            scored += score(await naive.NaiveUser(target).run(scenario), world.truth, since)
    finally:
        await target.close()
    return scored


async def measure(ops: int, worlds: int, seed: int, warm_up: int) -> Repeat:
    """One whole measurement: both strategies on fresh worlds, `worlds` of them at once."""
    quota, load = math.ceil(ops / worlds), os.getloadavg()[0]
    started = time.monotonic()
    async with LoopLag() as lag:
        runs = await asyncio.gather(
            *(adaptive_world(i, seed + i, quota, warm_up) for i in range(worlds))
        )
    async with LoopLag() as naive_lag:
        base = await asyncio.gather(*(naive_world(i, seed + 500 + i, quota) for i in range(worlds)))
    tally, naive_scored = sum(runs, Tally()), sum(base, Scored([]))
    return Repeat(
        adaptive=summarise(tally.scored),
        naive=summarise(naive_scored),
        warmup=summarise(tally.warmup),
        per_op=by_op(tally.scored, OPS),
        naive_per_op=by_op(naive_scored, OPS),
        lag=lag.summary(),
        naive_lag=naive_lag.summary(),
        seconds=time.monotonic() - started,
        failed=tally.failed,
        load=load,
    )


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench convergence", description=__doc__)
    parser.add_argument("--ops", type=int, default=600, help="syncs scored per repeat (600)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 150 syncs, 1 repeat, warm-up of 16"
    )
    parser.add_argument("--repeats", type=int, default=3, help="whole measurements (3)")
    parser.add_argument("--worlds", type=int, default=8, help="simulator worlds in parallel (8)")
    parser.add_argument(
        "--warm-up",
        type=int,
        default=HISTORY,
        help=f"syncs per operation a pacer learns before scoring ({HISTORY})",
    )
    parser.add_argument("--seed", type=int, default=1, help="first world's seed (1)")
    parser.add_argument("--write", action="store_true", help="rewrite BENCHMARKS.md's section")
    args = parser.parse_args(list(argv))
    if not 0 <= args.warm_up <= HISTORY:
        parser.error(f"--warm-up must be 0 to {HISTORY}: a pacer remembers {HISTORY} arrivals")
    if args.quick:
        args.ops, args.repeats, args.warm_up = min(args.ops, 150), 1, min(args.warm_up, 16)
    return args


def progress(n: int, of: int, r: Repeat) -> str:
    a = r.adaptive
    return (
        f"repeat {n + 1}/{of} ({r.seconds:.0f} s): p99 error {a.p99 * 1e3:.2f} ms, "
        f"{a.mean_reads:.2f} reads per sync, loop lag p99 {r.lag.p99 * 1e3:.2f} ms"
    )


def main(argv: Sequence[str]) -> int:
    args = arguments(argv)
    idle = asyncio.run(idle_lag())
    repeats: list[Repeat] = []
    for n in range(args.repeats):
        seed = args.seed + 1000 * n
        repeats.append(asyncio.run(measure(args.ops, args.worlds, seed, args.warm_up)))
        print(progress(n, args.repeats, repeats[-1]), file=sys.stderr)
    # the same measurement on virtual time: the schedule's own error, without the loop's
    schedule = run_virtual(measure(args.ops, args.worlds, args.seed, args.warm_up)).adaptive
    text = render(
        repeats, idle=idle, schedule=schedule, worlds=args.worlds, warm_up=args.warm_up, argv=argv
    )
    print(text)
    if args.write:
        write_section("convergence", text)
    return 0
