"""Fault campaign: many probe cycles against the simulator with faults switched on and off at
random, each run scored against the ground truth (bench/fault_scoring.py).

Every cycle runs one probe, chosen at random, on a target whose fault mix changes now and
then: none, one to four faults, or all of them at once, each at a random probability
(`drop_sync` per operation). The simulator's delays change every segment of cycles,
through the profiles in turn: the default delays, near the `slow` threshold, beyond
it, and near it with Backend reads that take time. In-process the whole campaign runs
on virtual time, so ten thousand cycles take seconds; `--http` drives the same through
`consistency-monitor simulate` over HTTP on the real clock (bench/campaign_http.py).
A run is replayed by its seed and cycle number: the draws do not depend on `--cycles`.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bench.campaign_report import Outcome, write_campaign
from bench.campaign_report import render as render_report
from bench.fault_scoring import Run, Tally, judge, own
from monitor.config import FaultsConfig, TargetConfig
from monitor.probes import PROBE_NAMES
from monitor.runner import run_probe
from monitor.settings import ProbeSettings
from monitor.sim.faults import FAULT_NAMES
from monitor.sim.world import World
from monitor.targets.base import Target
from monitor.targets.simulator import simulator_target
from monitor.vtime import run_virtual, virtual_clock

OPERATIONS = ("create", "update", "delete")
SWITCHES = tuple(
    name
    for fault in FAULT_NAMES
    for name in ([f"{fault}.{op}" for op in OPERATIONS] if fault == "drop_sync" else [fault])
)
PROBABILITIES = (0.05, 0.2, 0.5, 1.0)
SWITCH_EVERY = 8  # cycles a fault mix lasts on average
SEGMENT = 200  # cycles on one simulated deployment before the delays change
# Simulator delays, one profile per segment in turn: the defaults (with jitter), around
# `deadlines.sync` (some changes `slow`, reordered updates late), beyond it (most
# `slow`), and around it with Backend reads that take 20 ms, as real ones do.
PROFILES: dict[str, dict[str, float]] = {
    "default": {"latency_jitter": 0.01},
    "near_sync": {"sync_delay": 0.7, "latency_jitter": 0.5, "reorder_hold": 1.0},
    "beyond_sync": {"sync_delay": 1.4, "latency_jitter": 0.3, "reorder_hold": 0.5},
    "slow_reads": {
        "backend_latency": 0.02,
        "sync_delay": 0.8,
        "latency_jitter": 0.3,
        "reorder_hold": 0.6,
    },
}


@dataclass(frozen=True)
class Plan:
    """What a campaign runs: how many cycles, from which seed, with which settings."""

    cycles: int
    seed: int = 1
    settings: ProbeSettings = field(default_factory=ProbeSettings)
    segment: int = SEGMENT
    profiles: tuple[str, ...] = tuple(PROFILES)  # taken in turn, a segment each

    def profile_of(self, number: int) -> str:
        """The delay profile cycle `number` ran under (in-process)."""
        return self.profiles[number // self.segment % len(self.profiles)]


@dataclass(frozen=True)
class Cycle:
    """One cycle's draw: the probe, and the new fault mix if it changes now."""

    number: int
    probe: str
    mix: dict[str, float] | None


def random_mix(rng: random.Random) -> dict[str, float]:
    """No fault (one mix in six), one to four, or all of them; each at a random probability."""
    roll = rng.random()
    if roll < 1 / 6:
        return {}
    names = list(SWITCHES) if roll > 0.9 else rng.sample(SWITCHES, rng.randint(1, 4))
    return {name: rng.choice(PROBABILITIES) for name in names}


def faults_document(mix: Mapping[str, float]) -> dict[str, Any]:
    """`{"drop_sync.update": 0.5}` → `{"drop_sync": {"update": 0.5}}`: the config's shape,
    which PUT /admin/faults takes too."""
    document: dict[str, Any] = {}
    for name, probability in mix.items():
        fault, _, op = name.partition(".")
        if op:
            document.setdefault(fault, {})[op] = probability
        else:
            document[fault] = probability
    return document


def cycles(rng: random.Random, count: int, first: int = 0) -> Iterator[Cycle]:
    """The cycles' draws; the first always sets a mix."""
    for number in range(first, first + count):
        changes = number == first or rng.random() < 1 / SWITCH_EVERY
        mix = random_mix(rng) if changes else None
        yield Cycle(number, rng.choice(PROBE_NAMES), mix)


class CleanupWatch:
    """Notes the instant a probe run starts its cleanup (the target's `on_cleanup` hook)."""

    def __init__(self, target: Target) -> None:
        self.at: float | None = None
        inner, clock = target.on_cleanup, target.clock

        def hook(user_ids: list[str]) -> None:
            self.at = clock.monotonic()
            inner(user_ids)

        target.on_cleanup = hook

    @classmethod
    def of(cls, target: Target) -> CleanupWatch:
        """The target's watch (installed once), cleared for the next run."""
        watch = target.state.get("campaign:cleanup")
        if not isinstance(watch, CleanupWatch):
            watch = target.state["campaign:cleanup"] = cls(target)
        watch.at = None
        return watch


def earlier_users(target: Target) -> set[str]:
    """The users of the target's earlier runs, to tell a run's own ground truth."""
    users = target.state.setdefault("campaign:users", set())
    assert isinstance(users, set)
    return users


# -- in-process, on virtual time --------------------------------------------------------


def segments(plan: Plan, rng: random.Random) -> Iterator[tuple[str, int, int, int]]:
    """(profile, world seed, first cycle, cycle count) per segment, the profiles in turn."""
    for first in range(0, plan.cycles, plan.segment):
        count = min(plan.segment, plan.cycles - first)
        yield plan.profile_of(first), rng.getrandbits(32), first, count


def described(plan: Plan) -> str:
    """The in-process set-up in words, for the report."""
    profiles = "; ".join(
        f"{name} ({', '.join(f'{k} {v * 1e3:g} ms' for k, v in PROFILES[name].items())})"
        for name in plan.profiles
    )
    return (
        "in-process on virtual time; simulator delays (the defaults: auth_latency 50 ms, "
        f"sync_delay 40 ms, reorder_hold 250 ms) changed every {plan.segment} cycles, "
        f"through the profiles in turn: {profiles}"
    )


def sim_target(profile: str, seed: int) -> Target:
    simulator = {**PROFILES[profile], "seed": seed}
    return simulator_target(TargetConfig(name="sim", simulator=simulator), clock=virtual_clock())


async def in_process(plan: Plan, tally: Tally | None = None) -> Tally:
    """The campaign on in-process simulators; every run judged into `tally`."""
    tally = tally or Tally()
    rng = random.Random(plan.seed)
    for profile, seed, first, count in segments(plan, rng):
        target = sim_target(profile, seed)
        try:
            for cycle in cycles(rng, count, first):
                tally.add(run := await run_cycle(target, cycle, plan), judge(run))
        finally:
            await target.close()
    return tally


async def run_cycle(target: Target, cycle: Cycle, plan: Plan) -> Run:
    """One probe run on a settled world with fresh ground truth, settled again after."""
    world = target.state["world"]
    assert isinstance(world, World)
    if cycle.mix is not None:
        world.dice.config = FaultsConfig.model_validate(faults_document(cycle.mix))
    await world.settle()
    world.truth.clear()
    watch = CleanupWatch.of(target)
    result = await run_probe(target, cycle.probe, plan.settings)
    await world.settle()
    truth = world.truth
    faults, changes = own(truth.faults, truth.changes.values(), earlier_users(target))
    deadlines, reads = plan.settings.deadlines, world.config.backend_latency
    return Run(cycle.number, cycle.probe, result, faults, changes, deadlines, watch.at, reads)


# -- the command ------------------------------------------------------------------------


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench campaign", description=__doc__)
    add = parser.add_argument
    add("--cycles", type=int, help="probe runs (10000 in-process, 300 over HTTP)")
    add("--seed", type=int, default=1, help="seed of the fault mixes, probes and worlds (1)")
    add("--quick", action="store_true", help="smoke run: 1000 cycles (60 over HTTP)")
    add("--http", action="store_true", help="through `simulate` over HTTP, on the real clock")
    add("--write", action="store_true", help="rewrite BENCHMARKS.md's section for this flavour")
    args = parser.parse_args(list(argv))
    if args.cycles is None:
        args.cycles = (60 if args.http else 1000) if args.quick else (300 if args.http else 10_000)
    return args


def main(argv: Sequence[str]) -> int:
    args = arguments(argv)
    logging.basicConfig(level=logging.ERROR)  # a failed cleanup is part of the campaign
    plan = Plan(args.cycles, args.seed)
    started = time.monotonic()
    if args.http:
        from bench.campaign_http import over_http, settings_over_http  # it builds on this

        plan = replace(plan, settings=settings_over_http())
        tally, setup = over_http(plan)
    else:
        tally, setup = run_virtual(in_process(plan)), described(plan)
    outcome = Outcome("http" if args.http else "in-process", plan, tally, setup)
    text = render_report(outcome, seconds=time.monotonic() - started, argv=argv)
    print(text)
    for problem in tally.problems:
        print(problem, file=sys.stderr)
    if args.write:
        write_campaign(outcome.flavour, text)
    return 1 if tally.problems else 0
