"""The monitor's own time per probe run over HTTP, outside waiting on the target.

Every probe runs one after another through the real runner against `simulate` in its
own process, so this process's CPU time (`time.process_time()`) over a run is the
monitor's alone: probe logic, the convergence helper, and the HTTP client's own work
(building requests, parsing answers). Second view, on the wall clock: a run's duration
minus the time during which an adapter call or a sleep was under way (the union of
their intervals, from the traced sides and a clock that records its sleeps), which is
the time the run spent in its own code on its critical path.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from bench.simulate_proc import Simulate
from bench.tracing import TracingClock, covered, new_trace, trace_target
from monitor.runner import run_probe
from monitor.settings import ProbeSettings
from monitor.targets.base import Target


@dataclass(frozen=True)
class Cost:
    """One probe's runs in one repeat: means per run, in seconds."""

    probe: str
    runs: int
    cpu: float
    outside: float  # wall time outside adapter calls and sleeps
    duration: float  # the run's whole wall time
    calls: float  # adapter calls per run (reads inside waits included)
    failed: int


async def measure_costs(sim: Simulate, probes: list[str], *, runs: int) -> list[Cost]:
    config = sim.config()
    target = trace_target(sim.target(config, clock=TracingClock()))
    costs = []
    try:
        for probe in probes:
            settings = config.probe_settings(config.targets[0], probe)
            await run_probe(target, probe, settings)  # warm: connections, the pacers' history
            costs.append(await _cost(target, probe, settings, runs))
    finally:
        await target.close()
    return costs


async def _cost(target: Target, probe: str, settings: ProbeSettings, runs: int) -> Cost:
    cpu, outside, duration, calls, failed = [], [], [], [], 0
    for _ in range(runs):
        trace = new_trace()
        started = time.process_time()
        result = await run_probe(target, probe, settings)
        cpu.append(time.process_time() - started)
        busy = covered((c.started, c.ended) for c in trace)
        outside.append(max(0.0, result.duration_seconds - busy))
        duration.append(result.duration_seconds)
        calls.append(sum(1 for c in trace if c.name != "clock.sleep"))
        failed += 0 if result.outcome == "pass" else 1
    mean = statistics.fmean
    return Cost(probe, runs, mean(cpu), mean(outside), mean(duration), mean(calls), failed)
