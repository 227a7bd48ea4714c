"""The alerting service in the daemon: feeds the pure engine, runs the notifiers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from monitor.alerts.config import AlertsConfig
from monitor.alerts.engine import (
    Alert,
    EngineState,
    JobKey,
    Notification,
    evaluate,
    observe,
    with_jobs,
)
from monitor.alerts.notifiers import AlertmanagerNotifier, LogNotifier, WebhookNotifier
from monitor.alerts.silences import SilenceStore
from monitor.clock import Clock
from monitor.exposition import Row, RowGauge, RowsCollector
from monitor.metric_types import Counter
from monitor.recorder import Recorded

log = logging.getLogger("monitor.alerts")

Jobs = Callable[[], Sequence[tuple[str, str, float]]]


class Notifier(Protocol):
    name: str

    def submit(self, notes: list[Notification]) -> None: ...
    async def close(self) -> None: ...


class AlertService:
    """Evaluates after every result and on a timer; re-sends firing alerts to Alertmanager."""

    def __init__(
        self,
        config: AlertsConfig,
        *,
        jobs: Jobs,
        clock: Clock,
        state_dir: Path,
        external_url: str,
        notifications: Counter,
    ) -> None:
        self._jobs = jobs
        self._clock = clock
        self._counter = notifications
        self._external_url = external_url
        self.silences = SilenceStore(state_dir)
        self.state = EngineState()
        self._tasks: list[asyncio.Task[None]] = []
        self._log = LogNotifier(notifications)
        self._configure(config)

    def _configure(self, config: AlertsConfig) -> None:
        self.config = config
        self.silences.configure(config.silences)
        self._alertmanagers = [
            AlertmanagerNotifier(
                a.url,
                timeout=a.timeout,
                queue_size=config.queue_size,
                counter=self._counter,
                resend_interval=config.resend_interval,
                external_url=self._external_url,
            )
            for a in config.alertmanagers
        ]
        self._webhooks = [
            WebhookNotifier(
                w.url,
                timeout=w.timeout,
                queue_size=config.queue_size,
                counter=self._counter,
                bearer_token=w.bearer_token.get_secret_value() if w.bearer_token else None,
                secret=w.secret.get_secret_value() if w.secret else None,
                external_url=self._external_url,
            )
            for w in config.webhooks
        ]

    async def reconfigure(self, config: AlertsConfig, external_url: str) -> None:
        """On reload: new rules, silences and notifiers; alert state is kept."""
        if config == self.config and external_url == self._external_url:
            return
        old = self._http_notifiers()
        self._external_url = external_url
        self._configure(config)
        await asyncio.gather(*(n.close() for n in old))
        self._restart_timers()

    def start(self) -> None:
        self._restart_timers()

    def _restart_timers(self) -> None:
        for task in self._tasks:
            task.cancel()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._every(self.config.evaluation_interval, self.evaluate)),
            loop.create_task(self._every(self.config.resend_interval, self._resend)),
        ]

    async def _every(self, period: float, action: Callable[[], None]) -> None:
        while True:
            await self._clock.sleep(period)
            try:
                action()
            except Exception:  # a timer must survive a bad evaluation
                log.exception("alert timer failed")

    def on_result(self, recorded: Recorded) -> None:
        """Evaluate the result's own job at once; a new job is tracked first."""
        job = (recorded.result.target, recorded.result.probe)
        known = self.state if job in self.state.jobs else self._tracked()
        self.state = observe(known, recorded.seq, recorded.result, self.config.rules)
        self.evaluate(only=job)

    def _tracked(self) -> EngineState:
        return with_jobs(self.state, self._jobs(), self._clock.wall())

    def evaluate(self, only: JobKey | None = None) -> None:
        """Every job (the timer), or one job after its result."""
        now = self._clock.wall()
        self.silences.prune(now)
        state, notes = evaluate(
            self.state if only is not None else self._tracked(),
            now,
            self.config.rules,
            self.silences.active(now),
            self._external_url,
            only=only,
        )
        self.state = state
        if notes:
            self._dispatch(notes)

    def _dispatch(self, notes: list[Notification]) -> None:
        self._log.submit(notes)
        for notifier in self._http_notifiers():
            notifier.submit(notes)

    def _resend(self) -> None:
        firing = [a for a in self.state.alerts.values() if a.state == "firing"]
        for am in self._alertmanagers:
            am.resend(firing, self._clock.wall())

    def alerts(self) -> list[Alert]:
        return list(self.state.alerts.values())

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(n.close() for n in self._http_notifiers()))

    def _http_notifiers(self) -> list[Notifier]:
        return [*self._alertmanagers, *self._webhooks]


ALERT_LABELS = ("alertname", "target", "probe", "severity", "kind", "state")


class AlertsCollector(RowsCollector):
    """`consistency_alerts`: 1 per pending or firing alert, like Prometheus' ALERTS."""

    def __init__(self, source: Callable[[], list[Alert]]) -> None:
        self._source = source
        self._gauge = RowGauge(
            "consistency_alerts",
            "1 for each pending or firing built-in alert, like Prometheus' ALERTS; no series "
            "when none. Labels say which alert, where, how severe, which kind (inconsistency "
            "alerts; empty otherwise) and in which state.",
            ALERT_LABELS,
        )

    def families(self) -> Iterator[tuple[RowGauge, Iterable[Row]]]:
        yield self._gauge, [(_alert_labels(alert), 1.0) for alert in self._source()]


def _alert_labels(alert: Alert) -> tuple[str, ...]:
    lab = alert.labels
    kind = lab.get("kind", "")
    return (lab["alertname"], lab["target"], lab["probe"], lab["severity"], kind, alert.state)
