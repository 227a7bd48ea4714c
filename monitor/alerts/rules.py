"""The built-in rules: from a job's recent runs, the alerts whose condition holds now."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from monitor.alerts.config import Rules
from monitor.results import ProbeResult


@dataclass(frozen=True, slots=True)  # the rules' window of them per job
class Run:
    """What the rules need of one result."""

    seq: int
    outcome: str
    kinds: frozenset[str]
    max_latency: float | None  # the slowest propagation that arrived
    finished_at: float

    @classmethod
    def of(cls, seq: int, result: ProbeResult) -> Run:
        arrived = [s.seconds for s in result.syncs if s.seconds is not None]
        return cls(
            seq,
            result.outcome,
            result.kinds,
            max(arrived, default=None),
            result.started_at + result.duration_seconds,
        )


@dataclass(frozen=True)
class JobView:
    """A scheduled target × probe as the rules see it."""

    target: str
    probe: str
    interval: float
    since: float  # when the job was scheduled, for staleness before its first run
    runs: tuple[Run, ...]  # oldest first, bounded


@dataclass(frozen=True)
class Condition:
    """An alert whose condition holds: its labels, what was observed, against what."""

    alertname: str
    severity: str
    kind: str | None
    summary: str
    description: str
    seq: int | None  # the result that shows it, for the link


def conditions(job: JobView, rules: Rules, now: float) -> Iterator[Condition]:
    """Every rule's alerts for one job."""
    yield from _inconsistency(job, rules)
    yield from _sync_latency(job, rules)
    yield from _success_ratio(job, rules)
    yield from _probe_errors(job, rules)
    yield from _stale(job, rules, now)


def _where(job: JobView) -> str:
    return f"{job.probe} on {job.target}"


def _inconsistency(job: JobView, rules: Rules) -> Iterator[Condition]:
    rule = rules.inconsistency
    if not rule.enabled or not job.runs:
        return
    last = job.runs[-1]
    for kind in sorted(last.kinds & set(rule.kinds)):
        severity = "critical" if kind in rule.critical else "warning"
        yield Condition(
            "ConsistencyInconsistency",
            severity,
            kind,
            f"{kind} inconsistency found by {_where(job)}",
            f"the last run of {_where(job)} found a `{kind}` inconsistency "
            f"(threshold: any, kinds watched: {', '.join(rule.kinds)})",
            last.seq,
        )


def _last(runs: Sequence[Run], n: int) -> Sequence[Run] | None:
    return runs[-n:] if len(runs) >= n else None


def _sync_latency(job: JobView, rules: Rules) -> Iterator[Condition]:
    rule = rules.sync_latency
    recent = _last(job.runs, rule.runs) if rule.enabled else None
    if not recent or not all(
        r.max_latency is not None and r.max_latency > rule.threshold for r in recent
    ):
        return
    latest = recent[-1].max_latency or 0.0
    yield Condition(
        "ConsistencySyncLatencyHigh",
        "warning",
        None,
        f"sync latency high for {_where(job)}",
        f"sync latency {latest:.3f} s in the last run, above {rule.threshold:g} s for "
        f"{rule.runs} consecutive runs",
        recent[-1].seq,
    )


def _success_ratio(job: JobView, rules: Rules) -> Iterator[Condition]:
    rule = rules.success_ratio
    recent = _last(job.runs, rule.runs) if rule.enabled else None
    if not recent:
        return
    ratio = sum(r.outcome == "pass" for r in recent) / len(recent)
    if ratio < rule.threshold:
        yield Condition(
            "ConsistencySuccessRatioLow",
            "warning",
            None,
            f"success ratio low for {_where(job)}",
            f"pass ratio {ratio:.0%} over the last {rule.runs} runs, below {rule.threshold:.0%}",
            recent[-1].seq,
        )


def _probe_errors(job: JobView, rules: Rules) -> Iterator[Condition]:
    rule = rules.probe_errors
    recent = _last(job.runs, rule.runs) if rule.enabled else None
    if recent and all(r.outcome == "error" for r in recent):
        yield Condition(
            "ConsistencyProbeErrors",
            "warning",
            None,
            f"{_where(job)} cannot complete its check",
            f"outcome error for {rule.runs} consecutive runs (threshold {rule.runs})",
            recent[-1].seq,
        )


def _stale(job: JobView, rules: Rules, now: float) -> Iterator[Condition]:
    rule = rules.stale_probe
    if not rule.enabled:
        return
    last = job.runs[-1].finished_at if job.runs else job.since
    age = now - last
    if age > rule.intervals * job.interval:
        yield Condition(
            "ConsistencyProbeStale",
            "warning",
            None,
            f"no completed run of {_where(job)}",
            f"no completed run for {age:.0f} s, more than {rule.intervals:g} intervals of "
            f"{job.interval:g} s",
            job.runs[-1].seq if job.runs else None,
        )


def history_needed(rules: Rules) -> int:
    """How many recent runs per job the rules look at."""
    return max(rules.sync_latency.runs, rules.success_ratio.runs, rules.probe_errors.runs, 1)
