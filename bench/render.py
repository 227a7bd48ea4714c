"""/metrics rendering against the number of series: prometheus_client vs our exposition.

    python -m bench.render [--sizes 10,100,300] [--repeats 7]

Builds, in process, the metrics of N simulator targets × every probe as a daemon has them
once every job ran (each probe run for real on a simulator, its results recorded for every
target), then times, median of `--repeats` renders each:
- before: prometheus_client's `generate_latest` over the same metrics held in
  prometheus_client objects (what the daemon rendered in a thread until now);
- after: `monitor.exposition.render`, text and OpenMetrics;
- the longest stretch `render_async` holds the event loop (the largest gap a task
  yielding in a loop sees meanwhile), without and with gzip;
- gzip of the body at levels 1 and 6: time and size.
Printed only; nothing is written to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import statistics
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import prometheus_client as pc
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric

from monitor.alerts.service import AlertsCollector
from monitor.config import Config
from monitor.daemon import config_deadlines
from monitor.exposition import Registry
from monitor.metric_types import Counter, Gauge, Histogram
from monitor.metrics import LastRunCollector, Metrics
from monitor.probes import PROBE_NAMES, REGISTRY
from monitor.recorder import Recorder
from monitor.results import ProbeResult
from monitor.runner import run_probe
from monitor.scrape import chunks, render, render_async
from monitor.targets.simulator import simulator_target
from monitor.vtime import run_virtual, virtual_clock

CONFIG = Config.model_validate({"targets": [{"name": "sim", "simulator": {"seed": 1}}]})


def probe_results(rounds: int = 3) -> list[ProbeResult]:
    """Every probe run `rounds` times on a simulator (virtual time): real steps and syncs."""
    target_config = CONFIG.targets[0]

    async def run() -> list[ProbeResult]:
        target = simulator_target(target_config, clock=virtual_clock())
        settings = {p: CONFIG.probe_settings(target_config, p) for p in PROBE_NAMES}
        return [await run_probe(target, p, settings[p]) for _ in range(rounds) for p in PROBE_NAMES]

    return run_virtual(run())


def daemon_metrics(targets: int, results: Sequence[ProbeResult]) -> tuple[Registry, Metrics]:
    """A registry as the daemon's: our metrics, the last-run and alert collectors."""
    registry = Registry()
    metrics = Metrics(registry, deadlines=config_deadlines(CONFIG))
    recorder = Recorder(metrics, history=3)
    registry.register(LastRunCollector(recorder))
    registry.register(AlertsCollector(lambda: []))
    for i in range(targets):
        name = f"sim-{i:03d}"
        for probe in PROBE_NAMES:
            recorder.add_job(name, probe, interval=30.0, kinds=REGISTRY[probe].KINDS)
        for result in results:
            recorder.record(dataclasses.replace(result, target=name))
    return registry, metrics


class WithoutCreated:
    """prometheus_client's metrics as the project exported them: no `_created` series."""

    def __init__(self, inner: pc.CollectorRegistry) -> None:
        self._inner = inner

    def collect(self) -> Iterator[Metric]:
        for family in self._inner.collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


def prometheus_client_twin(registry: Registry, metrics: Metrics) -> pc.CollectorRegistry:
    """The same series in prometheus_client objects, registered as the daemon did before."""
    own = pc.CollectorRegistry()
    ours = [m for m in vars(metrics).values() if isinstance(m, Counter | Gauge | Histogram)]
    for metric in ours:
        _mirror(metric, own)
    twin = pc.CollectorRegistry()
    twin.register(WithoutCreated(own))
    for item in registry._items:  # the collectors: their collect() is what was rendered
        if not isinstance(item, Counter | Gauge | Histogram):
            twin.register(item)
    return twin


def _mirror(metric: Counter | Gauge | Histogram, into: pc.CollectorRegistry) -> None:
    labels = metric.labelnames
    if isinstance(metric, Histogram):
        twin = pc.Histogram(
            metric.name, metric.documentation, labels, buckets=metric.bounds, registry=into
        )
        for values in metric.label_values() if labels else [()]:
            counts, total = metric.labels(*values).snapshot()
            child = twin.labels(*values) if values else twin
            for i, count in enumerate(counts):  # prometheus_client keeps them per bucket
                child._buckets[i].set(count - (counts[i - 1] if i else 0.0))
            child._sum.set(total)
        return
    kind = pc.Counter if isinstance(metric, Counter) else pc.Gauge
    twin_single = kind(metric.name, metric.documentation, labels, registry=into)
    for values in metric.label_values() if labels else [()]:
        child_single = twin_single.labels(*values) if values else twin_single
        child_single._value.set(metric.labels(*values).get())


def median_seconds(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def longest_stretch(registry: Registry, gzip_level: int | None) -> float:
    """The largest gap between two turns of a task that only yields, while the body's
    chunks are made as /metrics makes them."""
    gaps: list[float] = []
    done = False

    async def ticker() -> None:
        while not done:
            started = time.perf_counter()
            await asyncio.sleep(0)
            gaps.append(time.perf_counter() - started)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    async for _ in chunks(registry, gzip_level=gzip_level):  # as /metrics streams them
        pass
    done = True
    await task
    return max(gaps)


def measure(targets: int, results: Sequence[ProbeResult], repeats: int) -> dict[str, Any]:
    registry, metrics = daemon_metrics(targets, results)
    twin = prometheus_client_twin(registry, metrics)
    body = render(registry)
    samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    row: dict[str, Any] = {"targets": targets, "samples": samples, "mb": len(body) / 1e6}
    row["before_ms"] = 1000 * median_seconds(lambda: generate_latest(twin), repeats)
    row["after_ms"] = 1000 * median_seconds(lambda: render(registry), repeats)
    om = 1000 * median_seconds(lambda: render(registry, openmetrics=True), repeats)
    row["after_om_ms"] = om
    for level in (1, 6):
        row[f"gzip{level}_ms"] = 1000 * median_seconds(
            lambda n=level: zlib.compress(body, n), repeats
        )
        row[f"gzip{level}_kb"] = len(zlib.compress(body, level)) / 1e3
    stretches = [asyncio.run(longest_stretch(registry, None)) for _ in range(repeats)]
    row["stretch_ms"] = 1000 * statistics.median(stretches)
    row["stretch_max_ms"] = 1000 * max(stretches)
    gz = [asyncio.run(longest_stretch(registry, 1)) for _ in range(repeats)]
    row["stretch_gzip_ms"] = 1000 * statistics.median(gz)
    row["async_gzip_ms"] = 1000 * median_seconds(
        lambda: asyncio.run(render_async(registry, gzip_level=1)), repeats
    )
    return row


def table(rows: Sequence[dict[str, Any]]) -> str:
    head = (
        "| targets | samples | MB | before (prometheus_client) | after (text) | after (OpenMetrics)"
        " | longest on-loop stretch (median / max) | with gzip 1 | gzip 1 | gzip 6 |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        per = 1000 / r["samples"]
        lines.append(
            f"| {r['targets']} | {r['samples']} | {r['mb']:.2f} "
            f"| {r['before_ms']:.1f} ms ({r['before_ms'] * per:.2f} µs/sample) "
            f"| {r['after_ms']:.1f} ms ({r['after_ms'] * per:.2f} µs/sample) "
            f"| {r['after_om_ms']:.1f} ms "
            f"| {r['stretch_ms']:.2f} / {r['stretch_max_ms']:.2f} ms "
            f"| {r['stretch_gzip_ms']:.2f} ms, {r['async_gzip_ms']:.1f} ms in all "
            f"| {r['gzip1_ms']:.1f} ms → {r['gzip1_kb']:.0f} kB "
            f"| {r['gzip6_ms']:.1f} ms → {r['gzip6_kb']:.0f} kB |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.render", description=__doc__)
    parser.add_argument("--sizes", default="10,100,300", help="targets (10,100,300)")
    parser.add_argument("--repeats", type=int, default=7, help="renders per figure (7)")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # every recorded result logs a line
    results = probe_results()
    rows = [measure(int(n), results, args.repeats) for n in args.sizes.split(",")]
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
