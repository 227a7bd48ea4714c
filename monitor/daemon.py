"""The long-running monitor: scheduler, recorder, HTTP server, reload and graceful stop.

The lifecycle is explicit (AppRunner/TCPSite) rather than in the app's cleanup_ctx
because the order matters: on SIGTERM the HTTP server must keep answering (/readyz
503) while running probes get their grace period, and only then close.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from monitor import __version__
from monitor.alerts.service import AlertsCollector, AlertService
from monitor.alerts.silences import SilenceStore
from monitor.clock import SYSTEM_CLOCK, Clock
from monitor.config import Config, ConfigError, TargetConfig, load_config
from monitor.exposition import Registry
from monitor.janitor import JanitorService
from monitor.ledger import Ledger
from monitor.metrics import LastRunCollector, Metrics, TasksCollector
from monitor.recorder import Recorded, Recorder
from monitor.scheduler import Changes, ProbeScheduler
from monitor.sharding import Shard, select
from monitor.status import (
    alert_to_dict,
    iso,
    job_status,
    job_status_json,
    runtime,
    synthetic_users_left,
)
from monitor.targets.base import Target
from monitor.targets.build import build_target
from monitor.web import make_app

log = logging.getLogger("monitor.daemon")

LEDGER_FILE = "ledger.sqlite3"
LAG_PERIOD = 0.25  # how often the event-loop lag is sampled
UNRESPONSIVE_AFTER = 10.0  # /healthz fails when the lag sampler has not run for this long


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` → (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen address {listen!r}: expected HOST:PORT, e.g. 0.0.0.0:9465")
    return host.strip("[]") or "0.0.0.0", int(port)


def state_dir_from(arg: str | None) -> Path:
    """`--state-dir`, else `$MONITOR_STATE_DIR`, else `$XDG_STATE_HOME/consistency-monitor`."""
    chosen = arg or os.environ.get("MONITOR_STATE_DIR")
    if chosen:
        return Path(chosen)
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "consistency-monitor"


def config_deadlines(config: Config) -> set[float]:
    """Every sync and give_up deadline in use: sync-latency histogram bounds include them."""
    found = set()
    for target in config.targets:
        for probe in config.probe_names(target):
            d = config.probe_settings(target, probe).deadlines
            found |= {d.sync, d.give_up}
    return found


@dataclass
class ReloadOutcome:
    """What a reload did, or why it changed nothing."""

    ok: bool
    changes: Changes | None = None
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        if not self.ok:
            return {"status": "error", "errors": self.errors}
        assert self.changes is not None
        return {"status": "ok", "changes": self.changes.as_dict(), "notes": self.notes}


class Daemon:
    """Everything `consistency-monitor run` keeps alive."""

    def __init__(
        self,
        config: Config,
        *,
        config_path: Path | None,
        state_dir: Path,
        listen: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
        shard: Shard | None = None,
    ) -> None:
        self.shard = shard
        self.config = config
        self.config_path = config_path
        self.state_dir = state_dir
        self.listen = listen or config.server.listen
        self.clock = clock
        self._runner: web.AppRunner | None = None
        self.registry = Registry()
        self._bounds = config_deadlines(config)  # the sync-latency buckets, fixed at start
        self.metrics = Metrics(self.registry, deadlines=self._bounds, shard=str(shard or "none"))
        self.recorder = Recorder(self.metrics, history=config.server.history)
        self.registry.register(LastRunCollector(self.recorder))
        self.scheduler = ProbeScheduler(self.recorder, self._make_target, clock)
        self.alerts = AlertService(
            config.alerts,
            jobs=self._job_list,
            clock=clock,
            state_dir=state_dir,
            external_url=self.external_url(config),
            notifications=self.metrics.notifications,
        )
        self.recorder.listeners.append(self.alerts.on_result)
        self.registry.register(AlertsCollector(self.alerts.alerts))
        self.ledger: Ledger | None = None
        self.janitor: JanitorService | None = None
        self._lag_task: asyncio.Task[None] | None = None
        self._tasks_collector: TasksCollector | None = None
        self._last_tick = 0.0
        self._reloading = asyncio.Lock()
        self._last_reload: tuple[bool, float | None] = (False, None)
        self._stopping = False
        self.started_at = clock.wall()

    def _make_target(self, config: TargetConfig) -> Target:
        return build_target(config, clock=self.clock, ledger=self.ledger)

    def _start_janitor(self) -> None:
        """The ledger of real targets lives in the state dir; the janitor sweeps it."""
        self.ledger = Ledger(self.state_dir / LEDGER_FILE)
        self.janitor = JanitorService(
            self.ledger,
            lookup=self.scheduler.target,
            removed=self.metrics.janitor_removed,
            clock=self.clock,
        )
        self.janitor.configure(self._mine(self.config))
        self.janitor.start()

    def _mine(self, config: Config) -> Config:
        """The part of the config this shard runs."""
        return select(config, self.shard)

    def _job_list(self) -> list[tuple[str, str, float]]:
        return [(r.target, r.probe, r.interval) for r in self.recorder.last_runs()]

    def external_url(self, config: Config) -> str:
        """Links in alerts: `server.external_url`, else the address served on."""
        if config.server.external_url:
            return config.server.external_url.rstrip("/")
        host, port = parse_listen(self._served_on())
        if host in ("0.0.0.0", "::"):
            host = "localhost"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def silences(self) -> SilenceStore:
        return self.alerts.silences

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Serve HTTP (not ready yet), then schedule every job and start the lag sampler.

        Binding first means a taken port fails before any probe runs, and alert links
        can name the port actually bound (`--listen 127.0.0.1:0`).
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        self._last_tick = loop.time()
        if self._tasks_collector is None:
            self._tasks_collector = TasksCollector(loop)
            self.registry.register(self._tasks_collector)
        self._runner = web.AppRunner(make_app(self), access_log=None)
        await self._runner.setup()
        host, port = parse_listen(self.listen)
        await web.TCPSite(self._runner, host, port).start()
        await self.alerts.reconfigure(self.config.alerts, self.external_url(self.config))
        self._start_janitor()
        await self.scheduler.apply(self._mine(self.config))
        self.scheduler.start()
        self.alerts.start()
        self._reload_succeeded()
        self._lag_task = loop.create_task(self._sample_lag())
        log.info("serving on %s (%d jobs)", self.address, len(self.recorder.jobs()))

    @property
    def address(self) -> str:
        """The bound address, e.g. `127.0.0.1:9465` (the real port when 0 was asked)."""
        assert self._runner is not None
        host, port = self._runner.addresses[0][:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def _served_on(self) -> str:
        """The bound address once serving, else the configured one."""
        return self.address if self._runner and self._runner.addresses else self.listen

    async def stop(self, *, grace: float = 5.0) -> None:
        """Not ready at once; running probes get `grace`; cleanups finish; then close."""
        self._stopping = True
        log.info("stopping: letting running probes finish for up to %g s", grace)
        targets = self._live_targets()
        await self.scheduler.shutdown(grace=grace)
        left = synthetic_users_left(targets)
        log.info("synthetic users left in %d simulator targets: %d", len(left), sum(left.values()))
        await self.alerts.close()
        if self.janitor is not None:
            await self.janitor.close()
        if self.ledger is not None:
            self.ledger.close()
        if self._lag_task is not None:
            self._lag_task.cancel()
            await asyncio.gather(self._lag_task, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        log.info("stopped")

    async def _sample_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_PERIOD)
            self._last_tick = loop.time()
            self.metrics.loop_lag.observe(max(0.0, self._last_tick - before - LAG_PERIOD))

    # -- reload -----------------------------------------------------------------------

    async def reload(self) -> ReloadOutcome:
        """Re-read the config file; on any error keep the running config untouched."""
        async with self._reloading:
            try:
                new = load_config(self.config_path)
            except ConfigError as exc:
                return self._reload_failed(exc)
            await asyncio.sleep(0)  # parsing a large file took a while: let probes read
            notes = self._restart_notes(new)
            changes = await self.scheduler.apply(self._mine(new))
            if self.janitor is not None:
                self.janitor.configure(self._mine(new))
            self.recorder.set_history(new.server.history)
            await self.alerts.reconfigure(new.alerts, self.external_url(new))
            self.config = new
            self._reload_succeeded()
            log.info("reloaded: %s", changes.summary())
            return ReloadOutcome(True, changes, notes=notes)

    def _restart_notes(self, new: Config) -> list[str]:
        notes = []
        if new.server.listen != self.config.server.listen:
            notes.append("server.listen changed: it takes effect after a restart")
        if not config_deadlines(new) <= self._bounds:
            notes.append("new deadlines: sync-latency histogram bounds follow after a restart")
        for note in notes:
            log.warning("reload: %s", note)
        return notes

    def _reload_failed(self, exc: ConfigError) -> ReloadOutcome:
        self.metrics.reload_ok.set(0)
        self._last_reload = (False, self._last_reload[1])
        for line in exc.errors:
            log.error("reload failed, keeping the running config: %s: %s", exc.source, line)
        return ReloadOutcome(False, errors=[f"{exc.source}: {e}" for e in exc.errors])

    def _reload_succeeded(self) -> None:
        now = self.clock.wall()
        self.metrics.reload_ok.set(1)
        self.metrics.reload_time.set(now)
        self._last_reload = (True, now)

    # -- what the web layer reads -----------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.scheduler.running and not self._stopping

    @property
    def responsive(self) -> bool:
        return asyncio.get_running_loop().time() - self._last_tick < UNRESPONSIVE_AFTER

    def admin_token(self) -> str | None:
        """The admin token; an empty one (say, `${VAR}` set to "") counts as none: never open."""
        token = self.config.server.admin_token
        return (token.get_secret_value() if token is not None else None) or None

    def alert_list(self) -> list[dict[str, Any]]:
        return [alert_to_dict(a) for a in self.alerts.alerts()]

    def _live_targets(self) -> list[Target]:
        names = dict.fromkeys(t for t, _ in self.recorder.jobs())
        return [t for t in map(self.scheduler.target, names) if t is not None]

    def find_result(self, seq: int) -> Recorded | None:
        return self.recorder.find(seq)

    def status_head(self) -> dict[str, Any]:
        """`/api/status` but its jobs: version, readiness, config, runtime."""
        ok, when = self._last_reload
        return {
            "version": __version__,
            "shard": str(self.shard) if self.shard else None,
            "ready": self.ready,
            "started_at": iso(self.started_at),
            "config": {
                "source": str(self.config_path) if self.config_path else "embedded default",
                "last_reload_successful": ok,
                "last_reload_success_at": iso(when),
            },
            "runtime": {
                **runtime(self._live_targets()),
                "runs_in_flight": self.scheduler.in_flight,
            },
        }

    def status_jobs(self) -> list[tuple[str, str]]:
        """Every target × probe with a status, in order."""
        return self.recorder.jobs()

    def job_status(
        self, target: str, probe: str, history: int | None, *, detail: bool = True
    ) -> dict[str, Any]:
        """Last result, last and next run, recent results (in full, or without `detail`
        only what a history strip shows)."""
        return job_status(self.recorder, self.scheduler, target, probe, history, detail=detail)

    def job_status_json(self, target: str, probe: str, history: int | None) -> Iterator[str]:
        """`job_status` in full, as JSON text in pieces."""
        return job_status_json(self.recorder, self.scheduler, target, probe, history)


async def serve(daemon: Daemon, *, grace: float) -> None:
    """Run until SIGTERM/SIGINT; SIGHUP reloads."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[ReloadOutcome]] = set()

    def on_hup() -> None:
        task = loop.create_task(daemon.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hup)
    await daemon.start()
    # What start-up built (modules, config, targets) lives as long as the process: out of
    # the collector's sight, a full collection stops walking it (tens of ms of loop lag).
    gc.collect()
    gc.freeze()
    await stop.wait()
    await daemon.stop(grace=grace)
