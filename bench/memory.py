"""Where the daemon's memory goes: what one recorded result holds, and what reloads leave.

    python -m bench memory [--reloads 15] [--targets 20]

Diagnostics behind the soak's RSS figures (printed, no BENCHMARKS.md section):
1. bytes one ProbeResult holds, over 300 simulator results on virtual time (tracemalloc);
2. an in-process daemon with simulator targets, reloaded every 4 s, once with a new
   fault mix each time (every target rebuilt) and once unchanged: the exported samples
   before and after, and the source lines that hold the most new memory.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import random
import tempfile
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

from bench.daemon_proc import sim_targets, target_names, write_config
from bench.soak import random_mix
from monitor.config import Config, load_config
from monitor.daemon import Daemon
from monitor.history import History
from monitor.probes import PROBE_NAMES
from monitor.results import ProbeResult
from monitor.runner import run_probe
from monitor.targets.simulator import simulator_target
from monitor.vtime import run_virtual, virtual_clock

DEFAULTS = {
    "interval": "5s",
    "timeout": "5s",
    "deadlines": {"sync": "250ms", "give_up": "1s", "load": "3s"},
}


def simulator_results(rounds: int) -> list[ProbeResult]:
    """Every probe `rounds` times against one simulator target, on virtual time."""
    config = Config.model_validate({"targets": [{"name": "sim", "simulator": {"seed": 1}}]})
    target_config = config.targets[0]

    async def results() -> list[ProbeResult]:
        target = simulator_target(target_config, clock=virtual_clock())
        found = []
        for _ in range(rounds):
            for probe in PROBE_NAMES:
                settings = config.probe_settings(target_config, probe)
                found.append(await run_probe(target, probe, settings))
        return found

    return run_virtual(results())


def bytes_per_result(rounds: int = 100) -> tuple[float, float]:
    """Traced memory per ProbeResult (every probe, `rounds` times): held as objects, and
    kept in the daemon's compressed history (by default a full ring's worth, over which
    the job's dictionary and its last, open block are shared)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = simulator_results(rounds)
    gc.collect()
    size = (tracemalloc.get_traced_memory()[0] - before) / len(held)
    rings = {probe: History(rounds) for probe in PROBE_NAMES}
    for seq, result in enumerate(held):
        rings[result.probe].append(seq, result)
    del held
    gc.collect()
    kept = (tracemalloc.get_traced_memory()[0] - before) / sum(map(len, rings.values()))
    tracemalloc.stop()
    return size, kept


def _write(path: Path, targets: int, rng: random.Random, change: bool) -> None:
    faults = {n: random_mix(rng) for n in target_names(targets)} if change else {}
    targets_config = sim_targets(targets, faults=faults, auth_latency="5ms", sync_delay="10ms")
    # a 3-result ring fills in seconds, so what grows is not the history
    write_config(path, targets_config, DEFAULTS, {"history": 3})


def _samples(daemon: Daemon) -> int:
    return sum(len(family.samples) for family in daemon.registry.collect())


async def reloads(targets: int, count: int, *, change: bool) -> None:
    """Reload `count` times, 4 s apart; print samples and the top new allocations."""
    tmp = Path(tempfile.mkdtemp())
    path, rng = tmp / "monitor.yaml", random.Random(1)
    _write(path, targets, rng, change)
    daemon = Daemon(
        load_config(path), config_path=path, state_dir=tmp / "state", listen="127.0.0.1:0"
    )
    await daemon.start()
    for _ in range(3):  # warm up: every ring full, every series there
        _write(path, targets, rng, change)
        await daemon.reload()
        await asyncio.sleep(4)
    before_samples = _samples(daemon)
    gc.collect()
    tracemalloc.start(1)
    first = tracemalloc.take_snapshot()
    for _ in range(count):
        _write(path, targets, rng, change)
        await daemon.reload()
        await asyncio.sleep(4)
    gc.collect()
    stats = tracemalloc.take_snapshot().compare_to(first, "lineno")
    tracemalloc.stop()
    what = "a new fault mix each time" if change else "nothing changed"
    total = sum(s.size_diff for s in stats)
    print(f"{count} reloads, {what}: {total / 1024:+.0f} KiB traced; samples", end=" ")
    print(f"{before_samples} -> {_samples(daemon)}")
    for stat in stats[:8]:
        where = stat.traceback[0]
        size = f"{stat.size_diff / 1024:+8.0f} KiB {stat.count_diff:+7d}"
        print(f"  {size}  {where.filename}:{where.lineno}")
    await daemon.stop(grace=1)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench memory", description=__doc__)
    parser.add_argument("--reloads", type=int, default=15, help="reloads measured (15)")
    parser.add_argument("--targets", type=int, default=20, help="simulator targets (20)")
    parser.add_argument("--quick", action="store_true", help="5 reloads")
    parser.add_argument("--write", action="store_true", help="accepted for `all`; writes nothing")
    args = parser.parse_args(list(argv))
    logging.disable(logging.CRITICAL)  # probe results would drown the figures
    held, kept = bytes_per_result()
    print(f"one result holds {held:.0f} B as objects, {kept:.0f} B in the history (tracemalloc)")
    count = 5 if args.quick else args.reloads
    for change in (True, False):
        asyncio.run(reloads(args.targets, count, change=change))
    return 0
