"""Daemon load: 100 simulator targets × every probe at 30 s, as one process would run them.

    python -m bench daemon-load [--minutes 10] [--repeat 3] [--targets 100] [--quick] [--write]

Measures the daemon (`python -m monitor run`, a child process) over the window: CPU as a
share of one core and RSS from /proc, /metrics size and scrape time (scraped every 15 s
from here with Prometheus' headers: OpenMetrics preferred, gzip), and the event-loop lag
the daemon's own sampler saw meanwhile. The window is repeated with a fresh daemon each
time; figures are the median of the runs with min and max. Then scrape time against the
number of series (10, 100, 300 targets) and the series one target adds at the defaults
(a scrape with 1 target against one with 2).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import daemon_load_report
from bench.daemon_proc import (
    RESULTS,
    Daemon,
    MetricsText,
    bucket_quantile,
    cpu_seconds,
    get,
    loadavg,
    rss_bytes,
    running_daemon,
    scrape,
    sim_targets,
    wakeup_cost,
    wakeups,
    write_config,
)
from bench.memory import bytes_per_result
from bench.report import percentile
from bench.soak_report import slope

LAG = "consistency_event_loop_lag_seconds"
RUNS = "consistency_probe_runs_total"
SIMULATOR: dict[str, Any] = {"auth_latency": "50ms", "sync_delay": "40ms", "latency_jitter": "10ms"}
DEFAULTS = {"interval": "30s", "timeout": "25s"}
FULL = {"minutes": 10.0, "warm_up": 60.0, "sizes": "10,100,300", "repeat": 3}
QUICK = {"minutes": 2.0, "warm_up": 35.0, "sizes": "10,100", "repeat": 1}


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench daemon-load", description=__doc__)
    parser.add_argument("--minutes", type=float, help="measured window (10; --quick: 2)")
    parser.add_argument("--targets", type=int, default=100, help="simulator targets (100)")
    parser.add_argument(
        "--scrape-every", type=float, default=15.0, help="seconds (15, Prometheus' default)"
    )
    parser.add_argument("--repeat", type=int, help="windows, each a fresh daemon (3; --quick: 1)")
    parser.add_argument("--warm-up", type=float, help="seconds not measured (60; --quick: 35)")
    parser.add_argument(
        "--sizes", help="targets for scrape vs series (10,100,300; --quick: 10,100)"
    )
    parser.add_argument("--scrapes", type=int, default=20, help="scrapes per size (20)")
    parser.add_argument("--quick", action="store_true", help="2 min window, sizes 10,100")
    parser.add_argument("--name", default="daemon-load", help="file stem under bench/results/")
    parser.add_argument("--context", default="", help="what else ran, for the report")
    parser.add_argument("--write", action="store_true", help="rewrite BENCHMARKS.md's section")
    parser.add_argument(
        "--from-results",
        action="store_true",
        help="measure nothing: render bench/results/NAME.json again (with --write, into "
        "BENCHMARKS.md)",
    )
    args = parser.parse_args(list(argv))
    chosen = QUICK if args.quick else FULL
    for key, value in chosen.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def start(name: str, targets: int, defaults: dict[str, Any] = DEFAULTS) -> Any:
    """The daemon with `targets` simulator targets; files under bench/results/NAME.*."""
    config = write_config(RESULTS / f"{name}.yaml", sim_targets(targets, **SIMULATOR), defaults)
    return running_daemon(config, RESULTS / f"{name}.state", RESULTS / f"{name}.monitor.log")


def wait_every_job_ran(daemon: Daemon, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status = json.loads(get(f"{daemon.url}/api/status?history=0"))
        if status["jobs"] and all(j["last"] is not None for j in status["jobs"]):
            return
        time.sleep(1.0)
    raise RuntimeError(f"not every job ran within {within} s")


def measure_window(daemon: Daemon, args: argparse.Namespace) -> dict[str, Any]:
    """Scrape every few seconds; sample CPU and RSS each time."""
    scrapes: list[dict[str, Any]] = []
    started = time.monotonic()
    end = started + args.minutes * 60
    while time.monotonic() < end:
        scraped = scrape(daemon.url)
        text = MetricsText(scraped.text)
        scrapes.append(
            {
                "t": time.monotonic() - started,
                "seconds": scraped.seconds,
                "bytes": len(scraped.text),
                "wire_bytes": scraped.wire_bytes,
                "samples": len(text.samples),
                "rss": rss_bytes(daemon.pid),
                "cpu": cpu_seconds(daemon.pid),
                "wakeups": wakeups(daemon.pid),
                "load1": loadavg(),
                "runs": text.total(RUNS),
                "lag": text.buckets(LAG),
                "lag_sum": text.total(f"{LAG}_sum"),
            }
        )
        time.sleep(max(0.0, started + len(scrapes) * args.scrape_every - time.monotonic()))
    return summarize_window(scrapes)


def summarize_window(scrapes: list[dict[str, Any]]) -> dict[str, Any]:
    first, last = scrapes[0], scrapes[-1]
    span = last["t"] - first["t"]
    lag_n = last["lag"].get(float("inf"), 0.0) - first["lag"].get(float("inf"), 0.0)
    times = [s["seconds"] for s in scrapes]
    rss = [s["rss"] for s in scrapes]
    return {
        "minutes": span / 60,
        "scrapes": len(scrapes),
        # seconds into the window, RSS and CPU seconds at each scrape: later stretches
        "timeline": [(s["t"], s["rss"], s["cpu"]) for s in scrapes],
        "cpu_percent": 100 * (last["cpu"] - first["cpu"]) / span,
        "wakeups_per_second": (last["wakeups"] - first["wakeups"]) / span,
        "runs_per_second": (last["runs"] - first["runs"]) / span,
        "rss_mb": (min(rss) / 2**20, statistics.median(rss) / 2**20, max(rss) / 2**20),
        "rss_growth_mb": slope([s["t"] for s in scrapes], rss) * span / 2**20,
        "bytes": statistics.median(s["bytes"] for s in scrapes),
        "wire_bytes": statistics.median(s["wire_bytes"] for s in scrapes),
        "samples": statistics.median(s["samples"] for s in scrapes),
        "scrape_ms": (
            1000 * percentile(times, 50),
            1000 * percentile(times, 99),
            1000 * max(times),
        ),
        "lag_p99_ms": 1000 * bucket_quantile(first["lag"], last["lag"], 0.99),
        "lag_p999_ms": 1000 * bucket_quantile(first["lag"], last["lag"], 0.999),
        "lag_mean_ms": 1000 * (last["lag_sum"] - first["lag_sum"]) / lag_n if lag_n else 0.0,
        "lag_over_5ms": share_over(first["lag"], last["lag"], 0.005),
        "load1": (
            min(s["load1"] for s in scrapes),
            statistics.median(s["load1"] for s in scrapes),
            max(s["load1"] for s in scrapes),
        ),
    }


def share_over(before: dict[float, float], after: dict[float, float], bound: float) -> float:
    """The share of what was observed between the two scrapes that exceeded `bound` (one
    of the histogram's bucket bounds)."""
    total = after.get(float("inf"), 0.0) - before.get(float("inf"), 0.0)
    within = after.get(bound, 0.0) - before.get(bound, 0.0)
    return 1 - within / total if total else 0.0


def scrape_times(daemon: Daemon, count: int) -> dict[str, Any]:
    """`count` scrapes back to back (a pause between): size and time p50/p99."""
    times, size, wire, samples = [], 0, 0, 0
    for _ in range(count):
        scraped = scrape(daemon.url)
        times.append(scraped.seconds)
        size, wire = len(scraped.text), scraped.wire_bytes
        samples = len(MetricsText(scraped.text).samples)
        time.sleep(0.5)
    return {
        "bytes": size,
        "wire_bytes": wire,
        "samples": samples,
        "p50_ms": 1000 * percentile(times, 50),
        "p99_ms": 1000 * percentile(times, 99),
    }


def series_vs_size(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Scrape time for each size, once every job has run (so every series exists)."""
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        with start(f"{args.name}-{size}", size) as daemon:
            wait_every_job_ran(daemon, within=90)
            rows.append({"targets": size, **scrape_times(daemon, args.scrapes)})
    return rows


def samples_per_target(args: argparse.Namespace) -> dict[str, float]:
    """Samples in a scrape with 2 targets minus those with 1: what one target adds."""
    counts = {}
    for size in (1, 2):
        with start(f"{args.name}-series{size}", size, {**DEFAULTS, "interval": "5s"}) as daemon:
            wait_every_job_ran(daemon, within=60)
            counts[size] = len(MetricsText(get(f"{daemon.url}/metrics").decode()).samples)
    return {"one": counts[1], "two": counts[2], "per_target": counts[2] - counts[1]}


def one_window(args: argparse.Namespace) -> dict[str, Any]:
    """A fresh daemon: warm up, then measure the window."""
    with start(args.name, args.targets) as daemon:
        time.sleep(args.warm_up)
        return measure_window(daemon, args)


def main(argv: Sequence[str]) -> int:
    args = arguments(argv)
    if args.from_results:
        return report(json.loads((RESULTS / f"{args.name}.json").read_text()), args.write)
    RESULTS.mkdir(parents=True, exist_ok=True)
    windows = []
    for run in range(1, args.repeat + 1):
        windows.append(one_window(args))
        print(f"window {run}/{args.repeat}: {json.dumps(windows[-1])}", flush=True)
    held, kept = bytes_per_result()
    # calibrated at the daemon's own mean time between wake-ups
    gap = 1 / statistics.median(w["wakeups_per_second"] for w in windows)
    cost = statistics.median(wakeup_cost(gap) for _ in range(5))
    result = {
        "args": vars(args),
        "windows": windows,
        "bytes_per_result": {"objects": held, "history": kept},
        "wakeup_cost_seconds": cost,
        "wakeup_gap_seconds": gap,
        "sizes": series_vs_size(args),
        "series": samples_per_target(args),
    }
    Path(RESULTS / f"{args.name}.json").write_text(json.dumps(result, indent=1))
    return report(result, args.write)


def report(result: dict[str, Any], write: bool) -> int:
    text = daemon_load_report.render(result)
    print(text)
    if write:
        daemon_load_report.write(text, result["args"]["name"])
    return 0
