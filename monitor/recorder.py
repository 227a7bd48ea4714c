"""The only bridge from results to the outside: metrics, recent history, and alerting."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from monitor.history import Entry, History
from monitor.metrics import LastRun, LastRunSource, Metrics
from monitor.results import ProbeResult

log = logging.getLogger("monitor.results")

Listener = Callable[["Recorded"], None]


@dataclass(frozen=True)
class Recorded:
    """A result with the sequence number its detail page is found by."""

    seq: int
    result: ProbeResult


@dataclass
class Job:
    """What the recorder keeps per target × probe."""

    last: LastRun
    kinds: tuple[str, ...]
    history: History


class Recorder(LastRunSource):
    """Takes every ProbeResult: updates metrics, keeps the last N per job, tells listeners."""

    def __init__(self, metrics: Metrics, *, history: int = 100) -> None:
        self.metrics = metrics
        self._history = history
        self._jobs: dict[tuple[str, str], Job] = {}
        self._lock = threading.Lock()  # for readers on other threads (none in the daemon)
        self._seq = itertools.count(1)
        self.listeners: list[Listener] = []

    # -- jobs -------------------------------------------------------------------------

    def add_job(self, target: str, probe: str, *, interval: float, kinds: Sequence[str]) -> None:
        with self._lock:
            job = self._jobs.get((target, probe))
            if job is None:
                self._jobs[(target, probe)] = Job(
                    LastRun(target, probe, interval), tuple(kinds), History(self._history)
                )
            else:
                job.last = replace(job.last, interval=interval)
        self.metrics.add_job(target, probe, kinds)

    def remove_job(self, target: str, probe: str) -> None:
        with self._lock:
            job = self._jobs.pop((target, probe), None)
            target_gone = all(t != target for t, _ in self._jobs)
        if job is not None:
            self.metrics.remove_job(target, probe, job.kinds)
        if job is not None and target_gone:
            self.metrics.remove_target(target)

    def set_history(self, size: int) -> None:
        with self._lock:
            self._history = size
            for job in self._jobs.values():
                job.history.resize(size)

    # -- results ----------------------------------------------------------------------

    def record(self, result: ProbeResult) -> Recorded:
        recorded = Recorded(next(self._seq), result)
        self._observe(result)
        with self._lock:
            job = self._jobs.get((result.target, result.probe))
            if job is not None:
                job.history.append(recorded.seq, result)
                job.last = _advance(job.last, result)
        _log_result(result)
        for listener in self.listeners:
            try:
                listener(recorded)
            except Exception:  # a broken listener must not lose the result for the others
                log.exception("result listener failed")
        return recorded

    def skipped(self, target: str, probe: str, reason: str) -> None:
        self.metrics.skipped.labels(target, probe, reason).inc()
        log.warning("skipped %s:%s (%s)", target, probe, reason)

    def _observe(self, result: ProbeResult) -> None:
        m, t = self.metrics, result.target
        m.probe_runs.labels(t, result.probe, result.outcome).inc()
        m.probe_duration.labels(t, result.probe).observe(result.duration_seconds)
        for sync in result.syncs:
            if sync.seconds is None:
                m.sync_timeouts.labels(t, sync.operation).inc()
            else:
                m.sync_latency.labels(t, sync.operation).observe(sync.seconds)
        for step in result.steps:
            side, _, call = step.name.partition(".")
            if not call.startswith("wait_"):
                m.call_duration.labels(t, side, call).observe(step.seconds)
        for inconsistency in result.inconsistencies:
            m.inconsistencies.labels(t, result.probe, inconsistency.kind).inc()

    # -- reading ----------------------------------------------------------------------

    def last_runs(self) -> list[LastRun]:
        with self._lock:
            return [job.last for job in self._jobs.values()]

    def last_run(self, target: str, probe: str) -> LastRun | None:
        with self._lock:
            job = self._jobs.get((target, probe))
            return job.last if job else None

    def jobs(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._jobs)

    def history(self, target: str, probe: str, last: int | None = None) -> list[Entry]:
        """The job's kept results, oldest first (only the newest `last` when given)."""
        with self._lock:
            job = self._jobs.get((target, probe))
            return job.history.entries(last) if job else []

    def find(self, seq: int) -> Recorded | None:
        with self._lock:
            for job in self._jobs.values():
                entry = job.history.find(seq)
                if entry is not None:
                    return Recorded(seq, entry.result())
        return None


def _advance(last: LastRun, result: ProbeResult) -> LastRun:
    finished = result.started_at + result.duration_seconds
    passed = result.outcome == "pass"
    return replace(
        last,
        success=1.0 if passed else 0.0,
        last_run=finished,
        last_success=finished if passed else last.last_success,
    )


def _log_result(result: ProbeResult) -> None:
    """A failed or errored run is a warning; a pass is a debug line (at 100 targets that
    is 30 lines a second of "all is well", too much for a log shipper by default)."""
    if result.outcome == "pass":
        log.debug("%s:%s pass in %.3f s", result.target, result.probe, result.duration_seconds)
        return
    found = "; ".join(f"{i.kind}: {i.detail}" for i in result.inconsistencies)
    log.warning(
        "%s:%s %s in %.3f s%s%s",
        result.target,
        result.probe,
        result.outcome,
        result.duration_seconds,
        f" found {found}" if found else "",
        f" error {result.error}" if result.error else "",
    )
