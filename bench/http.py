"""The monitor against `simulate` over HTTP: (a) sync-latency error vs ground truth,
(b) create→visible cycles per second, (c) the monitor's own time per probe run.

`python -m monitor simulate` runs as a child process on loopback (a fresh one per part
and repeat), and the monitor's side runs in this process with a target built from
config/examples/http-sim.yaml, so the two do not share an event loop. Each repeat
measures the three parts in turn; the report gives the median of the repeats with min
and max, and the machine's load average as each part started.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from bench.daemon_proc import loadavg
from bench.http_accuracy import Accuracy, measure_accuracy
from bench.http_cpu import Cost, measure_costs
from bench.http_report import render
from bench.http_throughput import Throughput, measure_throughput
from bench.report import percentile, write_section
from bench.simulate_proc import running_simulate
from monitor.probes import PROBE_NAMES
from monitor.probes._convergence import HISTORY

# (a) and (c): simulate's defaults (auth_latency 50 ms, sync_delay 40 ms) with 10 ms jitter
ACCURACY_SIM = {"latency_jitter": "10ms"}
# (b): the target as fast as it goes, so the monitor's side is what is measured
THROUGHPUT_SIM = {"auth_latency": "0s", "sync_delay": "5ms", "latency_jitter": "0s"}


@dataclass(frozen=True)
class Repeat:
    accuracy: Accuracy
    throughput: list[Throughput]
    costs: list[Cost]
    loads: dict[str, float]  # 1-minute load average as each part started


def one_repeat(args: argparse.Namespace) -> Repeat:
    with running_simulate(**ACCURACY_SIM) as sim:
        accuracy = asyncio.run(
            measure_accuracy(sim, runs=args.runs, warm_up=args.warm_up, rate=args.rate)
        )
    windows = []
    for concurrency in args.concurrency:
        with running_simulate(**THROUGHPUT_SIM) as sim:
            windows.append(
                asyncio.run(
                    measure_throughput(
                        sim, concurrency=concurrency, seconds=args.window, warm_up=1.0
                    )
                )
            )
    cost_load = loadavg()
    with running_simulate(**ACCURACY_SIM) as sim:
        costs = asyncio.run(measure_costs(sim, list(PROBE_NAMES), runs=args.cost_runs))
    return Repeat(accuracy, windows, costs, {"cpu": cost_load})


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench http", description=__doc__)
    parser.add_argument("--runs", type=int, default=300, help="(a) create_sync runs scored (300)")
    parser.add_argument(
        "--warm-up", type=int, default=HISTORY, help=f"(a) runs before scoring ({HISTORY})"
    )
    parser.add_argument("--rate", type=float, default=5.0, help="(a) runs started per second (5)")
    parser.add_argument(
        "--concurrency",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[8, 32, 128],
        help="(b) concurrent create+wait loops, one window each (8,32,128)",
    )
    parser.add_argument("--window", type=float, default=5.0, help="(b) seconds counted (5)")
    parser.add_argument("--cost-runs", type=int, default=10, help="(c) runs per probe (10)")
    parser.add_argument("--repeats", type=int, default=3, help="whole measurements (3)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 repeat, 60 runs, 2 s windows, 3 runs"
    )
    parser.add_argument("--write", action="store_true", help="rewrite BENCHMARKS.md's section")
    args = parser.parse_args(list(argv))
    if args.quick:
        args.repeats, args.runs, args.warm_up = 1, min(args.runs, 60), min(args.warm_up, 16)
        args.window, args.cost_runs = min(args.window, 2.0), min(args.cost_runs, 3)
    return args


def progress(n: int, of: int, r: Repeat) -> str:
    errors = [s.error for s in r.accuracy.samples]
    rates = ", ".join(f"{w.concurrency}: {w.rate:.0f}/s" for w in r.throughput)
    cpu = sum(c.cpu for c in r.costs) / max(1, len(r.costs))
    return (
        f"repeat {n + 1}/{of}: (a) p99 error {percentile(errors, 99) * 1e3:.2f} ms over "
        f"{len(errors)} syncs; (b) {rates}; (c) {cpu * 1e3:.1f} ms CPU per run (mean of probes)"
    )


def main(argv: Sequence[str]) -> int:
    args = arguments(argv)
    repeats = []
    for n in range(args.repeats):
        repeats.append(one_repeat(args))
        print(progress(n, args.repeats, repeats[-1]), file=sys.stderr)
    text = render(repeats, args=args, argv=argv)
    print(text)
    if args.write:
        write_section("http", text)
    return 0
