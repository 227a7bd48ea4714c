"""Every metric the project exports, defined once, on a registry passed in.

Label vocabularies are fixed: `target` and `probe` come from the config, `operation`
is create|update|delete, `side` auth|backend, `call` one of the adapter calls, `kind`
one of the inconsistency kinds, `outcome` pass|fail|error, `reason` overlap|misfire.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.results import OPERATIONS, OUTCOMES

SKIP_REASONS = ("overlap", "misfire")
SYNC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PROBE_BUCKETS = (0.5, 1.0, 5.0, 10.0, 30.0)
CALL_BUCKETS = (0.005, 0.025, 0.1, 0.5, 2.5, 10.0)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0)


def sync_buckets(deadlines: Iterable[float]) -> tuple[float, ...]:
    """The standard bounds plus every configured `sync` and `give_up` deadline."""
    return tuple(sorted(set(SYNC_BUCKETS) | {round(d, 6) for d in deadlines}))


@dataclass(frozen=True)
class LastRun:
    """What the last-result gauges show for one target × probe."""

    target: str
    probe: str
    interval: float
    success: float | None = None  # 1/0 once a run completed
    last_run: float | None = None
    last_success: float | None = None


class LastRunCollector(Collector):
    """Gauges describing the last result, read from the recorder's state at scrape time."""

    def __init__(self, source: LastRunSource) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        rows = self._source.last_runs()
        yield _family(
            "consistency_probe_success",
            "1 if the last run of this probe passed, 0 if it failed or errored; absent until "
            "the first run. Alert on 0; see consistency_probe_runs_total for rates.",
            rows,
            lambda r: r.success,
        )
        yield _family(
            "consistency_probe_last_run_timestamp_seconds",
            "Unix time the last run of this probe completed. Compare with time() and the "
            "interval to spot a stuck scheduler.",
            rows,
            lambda r: r.last_run,
        )
        yield _family(
            "consistency_probe_last_success_timestamp_seconds",
            "Unix time of the last passing run of this probe: how long it has been broken.",
            rows,
            lambda r: r.last_success,
        )
        yield _family(
            "consistency_probe_interval_seconds",
            "Configured interval between runs of this probe, for staleness rules.",
            rows,
            lambda r: r.interval,
        )


class LastRunSource:
    """Anything that can list the last runs (the recorder)."""

    def last_runs(self) -> Sequence[LastRun]:
        raise NotImplementedError


def _family(name: str, doc: str, rows: Sequence[LastRun], value: object) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=("target", "probe"))
    for row in rows:
        v = value(row)  # type: ignore[operator]
        if v is not None:
            family.add_metric((row.target, row.probe), float(v))
    return family


class TasksCollector(Collector):
    """`consistency_asyncio_tasks`, counted at scrape time (from the exposition thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "consistency_asyncio_tasks",
            "Asyncio tasks alive in the monitor; a steady climb is a task leak.",
            value=len(asyncio.all_tasks(self._loop)),
        )


class WithoutCreated(Collector):
    """Another registry's metrics minus their `_created` samples.

    The issue turns `_created` series off (they double the series count for no use in
    PromQL); prometheus_client can only do that process-wide, so they are filtered here.
    """

    def __init__(self, inner: CollectorRegistry) -> None:
        self._inner = inner

    def collect(self) -> Iterator[Metric]:
        for family in self._inner.collect():
            created = f"{family.name}_created"
            family.samples = [s for s in family.samples if s.name != created]
            yield family


class Metrics:
    """The metric objects, registered on `registry` (without `_created` series)."""

    def __init__(
        self, registry: CollectorRegistry, *, deadlines: Iterable[float] = (), shard: str = "none"
    ) -> None:
        self.registry = registry
        own = CollectorRegistry(auto_describe=True)
        self.probe_duration = Histogram(
            "consistency_probe_duration_seconds",
            "Wall time of a probe run including cleanup. Slow runs hint at a slow target.",
            ("target", "probe"),
            buckets=PROBE_BUCKETS,
            registry=own,
        )
        self.sync_latency = Histogram(
            "consistency_sync_latency_seconds",
            "Time from Auth's acknowledgement to Backend showing the change, per propagation "
            'that arrived. Share visible within 1 s: bucket{le="1.0"} / (count + timeouts).',
            ("target", "operation"),
            buckets=sync_buckets(deadlines),
            registry=own,
        )
        self.sync_timeouts = Counter(
            "consistency_sync_timeouts",
            "Propagations that never became visible before give_up; count them as not visible "
            "so an outage cannot make latency look healthy.",
            ("target", "operation"),
            registry=own,
        )
        self.call_duration = Histogram(
            "consistency_call_duration_seconds",
            "Duration of each adapter call (creation, update, deletion time) by side and call.",
            ("target", "side", "call"),
            buckets=CALL_BUCKETS,
            registry=own,
        )
        self.probe_runs = Counter(
            "consistency_probe_runs",
            "Completed probe runs by outcome (pass, fail = inconsistency found, error = could "
            "not finish). rate() of fail or error is what to alert on.",
            ("target", "probe", "outcome"),
            registry=own,
        )
        self.inconsistencies = Counter(
            "consistency_inconsistencies",
            "Inconsistencies found, by kind: missing, stale, cascade, orphan, duplicate, "
            "partial, rollback, slow. cascade/orphan/rollback mean data that should be gone "
            "is not.",
            ("target", "probe", "kind"),
            registry=own,
        )
        self.skipped = Counter(
            "consistency_probe_skipped",
            "Runs not started: overlap (the previous run was still going) or misfire (the "
            "scheduler was too late). A growing count means the interval is too short.",
            ("target", "probe", "reason"),
            registry=own,
        )
        self.loop_lag = Histogram(
            "consistency_event_loop_lag_seconds",
            "How late the monitor's event loop woke up on a timer. When this is high, "
            "measured latencies are suspect.",
            buckets=LAG_BUCKETS,
            registry=own,
        )
        self.reload_ok = Gauge(
            "consistency_config_last_reload_successful",
            "1 if the last config (re)load succeeded; 0 means the old config is still running.",
            registry=own,
        )
        self.reload_time = Gauge(
            "consistency_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config load.",
            registry=own,
        )
        self.notifications = Counter(
            "consistency_notifications",
            "Alert notifications by notifier (log, alertmanager, webhook) and result: sent, "
            "failed (after retries) or dropped (queue full: the receiver is down or slow).",
            ("notifier", "result"),
            registry=own,
        )
        self.janitor_removed = Counter(
            "consistency_janitor_removed",
            "Synthetic users the janitor removed (left by crashed or failed runs), per side. "
            "A steady rise means runs keep failing to clean up after themselves.",
            ("target", "side"),
            registry=own,
        )
        self.build_info = Gauge(
            "consistency_build_info",
            "Always 1; labels say which version runs and which shard (i/n, or none).",
            ("version", "shard"),
            registry=own,
        )
        self.build_info.labels(__version__, shard).set(1)
        registry.register(WithoutCreated(own))
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)

    def add_job(self, target: str, probe: str, kinds: Iterable[str]) -> None:
        """Start every counter a target × probe can move at 0, so rate() works from the start."""
        for outcome in OUTCOMES:
            self.probe_runs.labels(target, probe, outcome)
        for kind in kinds:
            self.inconsistencies.labels(target, probe, kind)
        for reason in SKIP_REASONS:
            self.skipped.labels(target, probe, reason)
        for operation in OPERATIONS:
            self.sync_timeouts.labels(target, operation)
            self.sync_latency.labels(target, operation)

    def remove_job(self, target: str, probe: str, kinds: Iterable[str]) -> None:
        """Drop a removed job's series so a reload does not leave them frozen."""
        for outcome in OUTCOMES:
            _forget(self.probe_runs, target, probe, outcome)
        for kind in kinds:
            _forget(self.inconsistencies, target, probe, kind)
        for reason in SKIP_REASONS:
            _forget(self.skipped, target, probe, reason)
        _forget(self.probe_duration, target, probe)

    def remove_target(self, target: str) -> None:
        """Drop the per-target series (sync latency and timeouts, call times) of a target
        that no job probes any more."""
        per_target = (
            (self.sync_latency, ("target", "operation")),
            (self.sync_timeouts, ("target", "operation")),
            (self.call_duration, ("target", "side", "call")),
        )
        for metric, names in per_target:
            for labels in _label_values(metric, names):
                if labels[0] == target:
                    _forget(metric, *labels)


def _label_values(metric: Counter | Histogram, names: Sequence[str]) -> set[tuple[str, ...]]:
    """The label values of every child of `metric`, read back through its public collect()."""
    return {
        tuple(sample.labels[n] for n in names)
        for family in metric.collect()
        for sample in family.samples
        if all(n in sample.labels for n in names)
    }


def _forget(metric: Counter | Histogram, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)
