"""The alert engine, pure: (state, results, now) → (state, notifications).

Alerts go pending → firing (after the rule's `for:`) → resolved, as in Prometheus.
Silences do not stop an alert from firing; they mark its notifications `silenced`,
which mutes the built-in notifiers (webhook) while Alertmanager, with silences of its
own, still hears everything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from monitor.alerts.config import Rules, SilenceConfig
from monitor.alerts.rules import Condition, JobView, Run, conditions, history_needed
from monitor.results import ProbeResult

Key = tuple[tuple[str, str], ...]
JobKey = tuple[str, str]


@dataclass(frozen=True)
class Alert:
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: Literal["pending", "firing"]
    active_since: float
    fired_at: float | None = None
    notified: bool = False  # the built-in notifiers were told it fires

    @property
    def key(self) -> Key:
        return tuple(sorted(self.labels.items()))


@dataclass(frozen=True)
class Notification:
    status: Literal["firing", "resolved"]
    alert: Alert
    at: float
    silenced: bool


@dataclass(frozen=True)
class Silence:
    """A silence in force until `ends_at` (None: until removed)."""

    id: str
    matchers: Mapping[str, str]
    ends_at: float | None = None
    comment: str = ""

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        active = self.ends_at is None or now < self.ends_at
        return active and all(labels.get(k) == v for k, v in self.matchers.items())

    @classmethod
    def from_config(cls, index: int, config: SilenceConfig) -> Silence:
        ends = config.ends_at
        if ends is not None and ends.tzinfo is None:
            ends = ends.replace(tzinfo=dt.UTC)
        return cls(
            f"config-{index}",
            dict(config.matchers),
            ends.timestamp() if ends else None,
            config.comment,
        )


@dataclass(frozen=True)
class EngineState:
    jobs: Mapping[JobKey, JobView] = field(default_factory=dict)
    alerts: Mapping[Key, Alert] = field(default_factory=dict)
    # which alerts each job has: a result moves its own job's alerts without a walk
    # over every alert (hundreds are active when many targets fail at once)
    by_job: Mapping[JobKey, frozenset[Key]] = field(default_factory=dict)


def with_jobs(
    state: EngineState, jobs: Iterable[tuple[str, str, float]], now: float
) -> EngineState:
    """Track exactly these (target, probe, interval) jobs, keeping the runs of known ones."""
    views = {}
    for target, probe, interval in jobs:
        old = state.jobs.get((target, probe))
        views[(target, probe)] = (
            replace(old, interval=interval) if old else JobView(target, probe, interval, now, ())
        )
    return replace(state, jobs=views)


def observe(state: EngineState, seq: int, result: ProbeResult, rules: Rules) -> EngineState:
    """Add one completed run to its job's recent history."""
    key = (result.target, result.probe)
    job = state.jobs.get(key)
    if job is None:
        return state
    runs = (*job.runs, Run.of(seq, result))[-history_needed(rules) :]
    return replace(state, jobs={**state.jobs, key: replace(job, runs=runs)})


def evaluate(
    state: EngineState,
    now: float,
    rules: Rules,
    silences: Sequence[Silence] = (),
    external_url: str = "",
    *,
    only: JobKey | None = None,
) -> tuple[EngineState, list[Notification]]:
    """Move every alert along pending → firing → resolved; say what to notify.

    With `only`, just that job's alerts move and the others stay as they are: after a
    result, the cost does not grow with the number of jobs (the timer moves them all).
    """
    notes: list[Notification] = []
    if only is None:
        current: dict[Key, Alert] = {}
        by_job: dict[JobKey, frozenset[Key]] = {}
        jobs: Iterable[JobView] = state.jobs.values()
        gone = set(state.alerts)
    else:
        current, by_job = dict(state.alerts), dict(state.by_job)
        jobs = [state.jobs[only]] if only in state.jobs else []
        gone = set(by_job.pop(only, frozenset()))
        for key in gone:
            del current[key]
    for job in jobs:
        keys = set()
        for cond in conditions(job, rules, now):
            alert = _step(state.alerts, job, cond, now, rules, silences, external_url, notes)
            current[alert.key] = alert
            keys.add(alert.key)
        gone -= keys
        if keys:
            by_job[(job.target, job.probe)] = frozenset(keys)
    for key in sorted(gone):
        old = state.alerts[key]
        if old.state == "firing":
            muted = not old.notified or _muted(old.labels, silences, now)
            notes.append(Notification("resolved", old, now, muted))
    return replace(state, alerts=current, by_job=by_job), notes


def _step(
    alerts: Mapping[Key, Alert],
    job: JobView,
    cond: Condition,
    now: float,
    rules: Rules,
    silences: Sequence[Silence],
    external_url: str,
    notes: list[Notification],
) -> Alert:
    fresh = _alert(job, cond, now, external_url)
    old = alerts.get(fresh.key)
    alert = replace(old, annotations=fresh.annotations) if old else fresh
    muted = _muted(alert.labels, silences, now)
    if alert.state == "pending" and now - alert.active_since >= _hold(rules, cond.alertname):
        alert = replace(alert, state="firing", fired_at=now, notified=not muted)
        notes.append(Notification("firing", alert, now, muted))
    elif alert.state == "firing" and not alert.notified and not muted:
        alert = replace(alert, notified=True)
        notes.append(Notification("firing", alert, now, False))
    return alert


def _alert(job: JobView, cond: Condition, now: float, external_url: str) -> Alert:
    labels = {
        "alertname": cond.alertname,
        "target": job.target,
        "probe": job.probe,
        "severity": cond.severity,
    }
    if cond.kind:
        labels["kind"] = cond.kind
    annotations = {"summary": cond.summary, "description": cond.description}
    if cond.seq is not None:
        annotations["link"] = f"{external_url.rstrip('/')}/results/{cond.seq}"
    return Alert(labels, annotations, "pending", now)


_RULE_OF = {
    "ConsistencyInconsistency": "inconsistency",
    "ConsistencySyncLatencyHigh": "sync_latency",
    "ConsistencySuccessRatioLow": "success_ratio",
    "ConsistencyProbeErrors": "probe_errors",
    "ConsistencyProbeStale": "stale_probe",
}


def _hold(rules: Rules, alertname: str) -> float:
    rule = getattr(rules, _RULE_OF[alertname])
    return float(rule.for_)


def _muted(labels: Mapping[str, str], silences: Sequence[Silence], now: float) -> bool:
    return any(s.mutes(labels, now) for s in silences)
