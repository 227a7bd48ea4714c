"""One APScheduler job per target × probe; reload diffs the job set; shutdown is graceful.

Each job fires at a stable offset within its interval (a hash of its id, as Prometheus
spreads scrapes), so restarts and reloads do not make every probe fire at once. Runs
never overlap (max_instances=1): a run that would is skipped and counted. Every run
goes through `runner.run_probe`, under the target's concurrency limit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.clock import Clock
from monitor.config import Config, TargetConfig
from monitor.probes import REGISTRY
from monitor.recorder import Recorder
from monitor.runner import run_probe
from monitor.settings import ProbeSettings
from monitor.targets.base import Target

log = logging.getLogger("monitor.scheduler")

TargetFactory = Callable[[TargetConfig], Target]


def job_id(target: str, probe: str) -> str:
    return f"{target}:{probe}"


def stable_offset(job: str, interval: float) -> float:
    """Seconds into the interval at which this job fires, the same in every process."""
    digest = hashlib.sha256(job.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * interval


@dataclass(frozen=True)
class JobSpec:
    """A job's identity and everything that, when changed, means it must restart."""

    target: str
    probe: str
    settings: ProbeSettings
    target_fingerprint: str

    @property
    def id(self) -> str:
        return job_id(self.target, self.probe)

    @functools.cached_property
    def fingerprint(self) -> str:
        return json.dumps([asdict(self.settings), self.target_fingerprint], sort_keys=True)


@dataclass
class Changes:
    """What a reload did to the job set."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "unchanged": self.unchanged,
        }

    def summary(self, most: int = 5) -> str:
        """One log line's worth: counts, and the first few job ids of each kind."""
        parts = []
        for kind, jobs in (
            ("added", self.added),
            ("removed", self.removed),
            ("changed", self.changed),
        ):
            if jobs:
                shown = ", ".join(jobs[:most]) + (
                    f" and {len(jobs) - most} more" if len(jobs) > most else ""
                )
                parts.append(f"{len(jobs)} {kind} ({shown})")
            else:
                parts.append(f"0 {kind}")
        return f"{'; '.join(parts)}; {self.unchanged} unchanged"


BATCH = 25  # jobs (re)scheduled between two turns the event loop gets during a reload


async def _breathe(n: int) -> None:
    """Let the running probes have the loop now and then: rescheduling a thousand jobs at
    once held it for over 100 ms, and every wait in flight would have read that late."""
    if n % BATCH == 0:
        await asyncio.sleep(0)


def target_fingerprint(target: TargetConfig) -> str:
    return json.dumps(target.model_dump(mode="json", exclude={"probes"}), sort_keys=True)


def job_specs(config: Config) -> dict[str, JobSpec]:
    specs = {}
    for target in config.targets:
        fingerprint = target_fingerprint(target)
        for probe in config.probe_names(target):
            spec = JobSpec(target.name, probe, config.probe_settings(target, probe), fingerprint)
            specs[spec.id] = spec
    return specs


class ProbeScheduler:
    """Owns the APScheduler instance, the live targets and the runs in flight."""

    def __init__(self, recorder: Recorder, make_target: TargetFactory, clock: Clock) -> None:
        self._recorder = recorder
        self._make_target = make_target
        self._clock = clock
        self._aps = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1}, timezone=dt.UTC
        )
        self._aps.add_listener(self._on_skip, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        self._specs: dict[str, JobSpec] = {}
        self._targets: dict[str, Target] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._runs: dict[asyncio.Task[None], str] = {}  # run → target name
        self._stopping = False
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return bool(self._aps.running) and not self._stopping

    @property
    def in_flight(self) -> int:
        return len(self._runs)

    def target(self, name: str) -> Target | None:
        return self._targets.get(name)

    def start(self) -> None:
        self._aps.start()

    def next_run(self, target: str, probe: str) -> float | None:
        job = self._aps.get_job(job_id(target, probe))
        when = job.next_run_time if job is not None else None
        return when.timestamp() if when is not None else None

    # -- applying a config ------------------------------------------------------------

    async def apply(self, config: Config) -> Changes:
        """Make the job set match the config; unchanged jobs keep their schedule.

        The loop gets turns while jobs are rescheduled, so a job not yet handled may run
        meanwhile: a target is swapped for its rebuilt self in the same step that
        reschedules its first job, and dropped only after its last job is gone, so every
        scheduled job always finds one.
        """
        wanted = job_specs(config)
        changes = Changes()
        stale = self._stale_names(wanted)
        retired: list[Target] = []
        await asyncio.sleep(0)
        for n, jid in enumerate([j for j in self._specs if j not in wanted], start=1):
            self._remove(jid)
            changes.removed.append(jid)
            await _breathe(n)
        for n, (jid, spec) in enumerate(wanted.items(), start=1):
            old = self._specs.get(jid)
            if old is not None and old.fingerprint == spec.fingerprint:
                changes.unchanged += 1
                continue
            if old is not None:  # its counters and history carry on: same target × probe
                self._unschedule(jid)
            if spec.target in stale:
                stale.discard(spec.target)
                retired += self._drop_target(spec.target)
            self._add(spec, config.target(spec.target))
            (changes.changed if old is not None else changes.added).append(jid)
            await _breathe(n)
        for name in stale:  # removed targets: their jobs are gone by now
            retired += self._drop_target(name)
        await self._retire(retired)
        return changes

    def _stale_names(self, wanted: dict[str, JobSpec]) -> set[str]:
        """Live targets whose config changed or that were removed: they get rebuilt."""
        fingerprints = {s.target: s.target_fingerprint for s in wanted.values()}
        running = {s.target: s.target_fingerprint for s in self._specs.values()}
        return {name for name in self._targets if fingerprints.get(name) != running.get(name)}

    def _drop_target(self, name: str) -> list[Target]:
        self._slots.pop(name, None)
        target = self._targets.pop(name, None)
        return [target] if target is not None else []

    async def _retire(self, targets: list[Target]) -> None:
        """Close replaced targets once the runs they have in flight are done."""
        loop = asyncio.get_running_loop()
        for target in targets:
            runs = [task for task, name in self._runs.items() if name == target.name]
            task = loop.create_task(self._close_after(target, runs))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close_after(target: Target, runs: list[asyncio.Task[None]]) -> None:
        await asyncio.gather(*runs, return_exceptions=True)
        await target.close()

    def _add(self, spec: JobSpec, target_config: TargetConfig) -> None:
        if spec.target not in self._targets:
            self._targets[spec.target] = self._make_target(target_config)
            self._slots[spec.target] = asyncio.Semaphore(target_config.max_concurrency)
        interval = spec.settings.interval
        start = dt.datetime.fromtimestamp(stable_offset(spec.id, interval), tz=dt.UTC)
        trigger = IntervalTrigger(
            seconds=interval, start_date=start, jitter=spec.settings.jitter or None
        )
        self._aps.add_job(
            self._run,
            trigger,
            args=(spec.id,),
            id=spec.id,
            name=spec.id,
            misfire_grace_time=max(1, int(min(interval / 2, 30))),
            replace_existing=True,
        )
        self._specs[spec.id] = spec
        self._recorder.add_job(
            spec.target, spec.probe, interval=interval, kinds=REGISTRY[spec.probe].KINDS
        )

    def _remove(self, jid: str) -> None:
        spec = self._unschedule(jid)
        self._recorder.remove_job(spec.target, spec.probe)

    def _unschedule(self, jid: str) -> JobSpec:
        spec = self._specs.pop(jid)
        if self._aps.get_job(jid) is not None:
            self._aps.remove_job(jid)
        return spec

    # -- running ----------------------------------------------------------------------

    async def _run(self, jid: str) -> None:
        """The job function, in the task APScheduler made for it. Shutdown, not
        APScheduler, decides when a run stops: a run it cancels ends here, quietly
        (APScheduler would log the cancellation as a job error)."""
        spec = self._specs.get(jid)
        task = asyncio.current_task()
        if spec is None or self._stopping or task is None:
            return
        self._runs[task] = spec.target
        try:
            await self._run_once(spec)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
        finally:
            del self._runs[task]

    async def _run_once(self, spec: JobSpec) -> None:
        target = self._targets[spec.target]
        async with self._slots[spec.target]:
            if self._stopping:
                return
            result = await run_probe(target, spec.probe, spec.settings)
        if self._specs.get(spec.id) is spec:
            self._recorder.record(result)

    def _on_skip(self, event: JobEvent) -> None:
        spec = self._specs.get(event.job_id)
        if spec is not None:
            reason = "overlap" if event.code == EVENT_JOB_MAX_INSTANCES else "misfire"
            self._recorder.skipped(spec.target, spec.probe, reason)

    # -- stopping ---------------------------------------------------------------------

    async def shutdown(self, *, grace: float) -> None:
        """Stop starting runs; let running ones finish for `grace` s, then cancel them.

        Cancelled runs clean up under their own shielded deadline; this waits for that too.
        """
        self._stopping = True
        if self._aps.running:
            self._aps.pause()
        if self._runs:
            log.info("waiting up to %g s for %d running probes", grace, len(self._runs))
            _, pending = await asyncio.wait(set(self._runs), timeout=grace)
            if pending:
                log.info("cancelling %d probes still running; their cleanup goes on", len(pending))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.gather(*self._closing, return_exceptions=True)
        for target in self._targets.values():
            await target.close()
        self._targets.clear()
        if self._aps.running:
            self._aps.shutdown(wait=False)
