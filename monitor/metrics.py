"""Every metric the project exports, defined once, on a registry passed in.

Label vocabularies are fixed: `target` and `probe` come from the config, `operation`
is create|update|delete, `side` auth|backend, `call` one of the adapter calls, `kind`
one of the inconsistency kinds, `outcome` pass|fail|error, `reason` overlap|misfire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import PlatformCollector, ProcessCollector

from monitor import __version__
from monitor.exposition import Registry, Row, RowGauge, RowsCollector
from monitor.metric_types import Counter, Gauge, Histogram
from monitor.results import OPERATIONS, OUTCOMES

SKIP_REASONS = ("overlap", "misfire")
SYNC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PROBE_BUCKETS = (0.5, 1.0, 5.0, 10.0, 30.0)
CALL_BUCKETS = (0.005, 0.025, 0.1, 0.5, 2.5, 10.0)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)  # < 5 ms is told


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


class LastRunSource:
    """Anything that can list the last runs (the recorder)."""

    def last_runs(self) -> Sequence[LastRun]:
        raise NotImplementedError


JOB = ("target", "probe")


class LastRunCollector(RowsCollector):
    """Gauges describing the last result, read from the recorder's state at scrape time."""

    def __init__(self, source: LastRunSource) -> None:
        self._source = source
        self._gauges: tuple[tuple[RowGauge, Callable[[LastRun], float | None]], ...] = (
            (
                RowGauge(
                    "consistency_probe_success",
                    "1 if the last run of this probe passed, 0 if it failed or errored; absent "
                    "until the first run. Alert on 0; see consistency_probe_runs_total for rates.",
                    JOB,
                ),
                lambda r: r.success,
            ),
            (
                RowGauge(
                    "consistency_probe_last_run_timestamp_seconds",
                    "Unix time the last run of this probe completed. Compare with time() and "
                    "the interval to spot a stuck scheduler.",
                    JOB,
                ),
                lambda r: r.last_run,
            ),
            (
                RowGauge(
                    "consistency_probe_last_success_timestamp_seconds",
                    "Unix time of the last passing run of this probe: how long it has been broken.",
                    JOB,
                ),
                lambda r: r.last_success,
            ),
            (
                RowGauge(
                    "consistency_probe_interval_seconds",
                    "Configured interval between runs of this probe, for staleness rules.",
                    JOB,
                ),
                lambda r: r.interval,
            ),
        )

    def families(self) -> Iterator[tuple[RowGauge, Iterable[Row]]]:
        runs = self._source.last_runs()
        for gauge, value in self._gauges:
            yield gauge, _rows(runs, value)


def _rows(runs: Sequence[LastRun], value: Callable[[LastRun], float | None]) -> Iterator[Row]:
    return (((r.target, r.probe), float(v)) for r in runs if (v := value(r)) is not None)


class TasksCollector(RowsCollector):
    """`consistency_asyncio_tasks`, counted at scrape time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._gauge = RowGauge(
            "consistency_asyncio_tasks",
            "Asyncio tasks alive in the monitor; a steady climb is a task leak.",
        )

    def families(self) -> Iterator[tuple[RowGauge, Iterable[Row]]]:
        yield self._gauge, [((), float(len(asyncio.all_tasks(self._loop))))]


class Metrics:
    """The metric objects, registered on `registry` (no `_created` series: they double the
    series count for no use in PromQL)."""

    def __init__(
        self, registry: Registry, *, deadlines: Iterable[float] = (), shard: str = "none"
    ) -> None:
        self.registry = registry
        self.probe_duration = Histogram(
            "consistency_probe_duration_seconds",
            "Wall time of a probe run including cleanup. Slow runs hint at a slow target.",
            ("target", "probe"),
            buckets=PROBE_BUCKETS,
            registry=registry,
        )
        self.sync_latency = Histogram(
            "consistency_sync_latency_seconds",
            "Time from Auth's acknowledgement to Backend showing the change, per propagation "
            'that arrived. Share visible within 1 s: bucket{le="1.0"} / (count + timeouts).',
            ("target", "operation"),
            buckets=sync_buckets(deadlines),
            registry=registry,
        )
        self.sync_timeouts = Counter(
            "consistency_sync_timeouts",
            "Propagations that never became visible before give_up; count them as not visible "
            "so an outage cannot make latency look healthy.",
            ("target", "operation"),
            registry=registry,
        )
        self.call_duration = Histogram(
            "consistency_call_duration_seconds",
            "Duration of each adapter call (creation, update, deletion time) by side and call.",
            ("target", "side", "call"),
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        self.probe_runs = Counter(
            "consistency_probe_runs",
            "Completed probe runs by outcome (pass, fail = inconsistency found, error = could "
            "not finish). rate() of fail or error is what to alert on.",
            ("target", "probe", "outcome"),
            registry=registry,
        )
        self.inconsistencies = Counter(
            "consistency_inconsistencies",
            "Inconsistencies found, by kind: missing, stale, cascade, orphan, duplicate, "
            "partial, rollback, slow. cascade/orphan/rollback mean data that should be gone "
            "is not.",
            ("target", "probe", "kind"),
            registry=registry,
        )
        self.skipped = Counter(
            "consistency_probe_skipped",
            "Runs not started: overlap (the previous run was still going) or misfire (the "
            "scheduler was too late). A growing count means the interval is too short.",
            ("target", "probe", "reason"),
            registry=registry,
        )
        self.loop_lag = Histogram(
            "consistency_event_loop_lag_seconds",
            "How late the monitor's event loop woke up on a timer. When this is high, "
            "measured latencies are suspect.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.reload_ok = Gauge(
            "consistency_config_last_reload_successful",
            "1 if the last config (re)load succeeded; 0 means the old config is still running.",
            registry=registry,
        )
        self.reload_time = Gauge(
            "consistency_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config load.",
            registry=registry,
        )
        self.notifications = Counter(
            "consistency_notifications",
            "Alert notifications by notifier (log, alertmanager, webhook) and result: sent, "
            "failed (after retries) or dropped (queue full: the receiver is down or slow).",
            ("notifier", "result"),
            registry=registry,
        )
        self.janitor_removed = Counter(
            "consistency_janitor_removed",
            "Synthetic users the janitor removed (left by crashed or failed runs), per side. "
            "A steady rise means runs keep failing to clean up after themselves.",
            ("target", "side"),
            registry=registry,
        )
        self.build_info = Gauge(
            "consistency_build_info",
            "Always 1; labels say which version runs and which shard (i/n, or none).",
            ("version", "shard"),
            registry=registry,
        )
        self.build_info.labels(__version__, shard).set(1)
        registry.register(ProcessCollector(registry=None))
        registry.register(PlatformCollector(registry=None))

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
            self.probe_runs.remove(target, probe, outcome)
        for kind in kinds:
            self.inconsistencies.remove(target, probe, kind)
        for reason in SKIP_REASONS:
            self.skipped.remove(target, probe, reason)
        self.probe_duration.remove(target, probe)

    def remove_target(self, target: str) -> None:
        """Drop the per-target series (sync latency and timeouts, call times) of a target
        that no job probes any more."""
        for metric in (self.sync_latency, self.sync_timeouts, self.call_duration):
            for labels in metric.label_values():
                if labels[0] == target:
                    metric.remove(*labels)
