"""The daemon with counters, for `bench cpu`:
`python -m bench.counted_daemon OUT [--sparse | --no-probe-work | --profile] ARGS`.

Runs `consistency-monitor ARGS` after wrapping a few functions to count what a run
costs the event loop: loop turns (`_run_once`), turns that slept in `epoll_wait`,
Backend reads through the simulator adapter, and recorded results. On SIGUSR1 it
writes the counters so far, with the process's CPU time, as one JSON line to OUT, so
the bench can take the difference over a window that excludes start-up.

`--sparse` replaces the convergence wait's dense read window (14 reads, 1 ms apart at
the least) with 2 reads at least 10 ms apart: an experiment that measures what the
dense reads cost, not a setting the monitor has. `--no-probe-work` makes every run
return a passing result at once, without touching its target: another experiment, which
measures what the daemon costs around the probes (APScheduler, the scheduler, recording
a result, the alert rules, the event loop). `--profile` runs cProfile from the
first SIGUSR1 to the second and writes its statistics to OUT with `.prof` appended.
"""

from __future__ import annotations

import asyncio.base_events
import asyncio.selector_events
import cProfile
import json
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from monitor import scheduler
from monitor.probes import _convergence
from monitor.recorder import Recorder
from monitor.results import ProbeResult
from monitor.settings import ProbeSettings
from monitor.targets.base import Target
from monitor.targets.simulator import SimBackendSide

COUNTS: Counter[str] = Counter()
OPTIONS = ("--sparse", "--no-probe-work", "--profile")


def _counted(owner: type, name: str, key: str) -> None:
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        COUNTS[key] += 1
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def _slept(selector: Any) -> None:
    """Count the loop turns that block: a timeout above 0 is a sleep and a wake-up."""
    original = selector.select

    def select(timeout: float | None = None) -> Any:
        if timeout is None or timeout > 0:
            COUNTS["sleeps"] += 1
        return original(timeout)

    selector.select = select


async def _passing(target: Target, probe: str, settings: ProbeSettings) -> ProbeResult:
    """A run that does no probe work: a pass, recorded like any other result."""
    return ProbeResult(target.name, probe, "pass", target.clock.wall(), 0.0)


def install(option: str | None) -> None:
    _counted(asyncio.base_events.BaseEventLoop, "_run_once", "turns")
    _counted(Recorder, "record", "runs")
    for read in ("get_user", "count_users", "get_dependents"):
        _counted(SimBackendSide, read, "reads")
    loop_class = asyncio.selector_events.BaseSelectorEventLoop
    original_init = loop_class.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        _slept(self._selector)

    loop_class.__init__ = init  # type: ignore[method-assign]
    if option == "--sparse":
        _convergence.DENSE_READS = 2
        _convergence.MIN_GAP = 0.01
    if option == "--no-probe-work":
        scheduler.run_probe = _passing  # type: ignore[attr-defined]


def snapshot(out: Path, profiler: cProfile.Profile | None) -> None:
    line = {"at": time.monotonic(), "cpu": time.process_time(), **COUNTS}
    with out.open("a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
    if profiler is not None:
        if COUNTS["snapshots"] == 0:
            profiler.enable()
        else:
            profiler.disable()
            profiler.dump_stats(f"{out}.prof")
    COUNTS["snapshots"] += 1


def main() -> None:
    out = Path(sys.argv[1])
    args = sys.argv[2:]
    option = args[0] if args and args[0] in OPTIONS else None
    install(option)
    profiler = cProfile.Profile() if option == "--profile" else None
    signal.signal(signal.SIGUSR1, lambda *_: snapshot(out, profiler))
    from monitor.cli import main as monitor_main

    sys.argv = ["consistency-monitor", *args[option is not None :]]
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    monitor_main()


if __name__ == "__main__":
    main()
