"""The project's metrics: counters from 0 for a new job, series gone with a removed job or
target, the last-run gauges, and the whole exposition as prometheus_client writes it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from monitor.alerts.engine import Alert
from monitor.alerts.service import AlertsCollector
from monitor.exposition import Registry
from monitor.metrics import LastRunCollector, Metrics
from monitor.recorder import Recorder
from monitor.results import OPERATIONS, OUTCOMES, ProbeResult, Step, Sync
from monitor.scrape import render

TRICKY = 'sim "one"\\two\nthree'
Parse = Callable[[str], Iterable[Metric]]


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="monitor")


def daemon_like() -> tuple[Registry, Metrics, Recorder]:
    registry = Registry()
    metrics = Metrics(registry, deadlines=(0.2, 0.5), shard="1/2")
    recorder = Recorder(metrics, history=3)
    registry.register(LastRunCollector(recorder))
    alert = Alert(
        {"alertname": "A", "target": TRICKY, "probe": "p", "severity": "warning"}, {}, "firing", 0.0
    )
    registry.register(AlertsCollector(lambda: [alert]))
    return registry, metrics, recorder


def result(target: str, probe: str, outcome: str = "pass") -> ProbeResult:
    syncs = (Sync("create", 0.05, 3), Sync("delete", None, 9))
    steps = (Step("auth.create", 0.01), Step("backend.get_user", 0.002))
    return ProbeResult(target, probe, outcome, 1_790_000_000.5, 0.25, syncs, steps)


def test_a_new_job_has_every_counter_at_zero() -> None:
    registry, _, recorder = daemon_like()
    recorder.add_job(TRICKY, "delete_cascade", interval=30.0, kinds=("cascade",))
    job = {"target": TRICKY, "probe": "delete_cascade"}
    for outcome in OUTCOMES:
        assert (
            registry.get_sample_value("consistency_probe_runs_total", {**job, "outcome": outcome})
            == 0
        )
    kind = {**job, "kind": "cascade"}
    assert registry.get_sample_value("consistency_inconsistencies_total", kind) == 0
    for operation in OPERATIONS:
        labels = {"target": TRICKY, "operation": operation}
        assert registry.get_sample_value("consistency_sync_timeouts_total", labels) == 0


def test_a_removed_target_leaves_no_series_of_its_own() -> None:
    registry, _, recorder = daemon_like()
    for target in ("kept", "gone"):
        recorder.add_job(target, "create_sync", interval=30.0, kinds=("missing",))
        recorder.record(result(target, "create_sync"))
    recorder.remove_job("gone", "create_sync")
    text = render(registry).decode()
    assert 'target="kept"' in text
    assert 'target="gone"' not in text


def test_last_run_gauges_follow_the_recorded_results() -> None:
    registry, _, recorder = daemon_like()
    recorder.add_job("t", "create_sync", interval=30.0, kinds=())
    job = {"target": "t", "probe": "create_sync"}
    assert registry.get_sample_value("consistency_probe_success", job) is None
    recorder.record(result("t", "create_sync", "fail"))
    scraped = {
        s.name: s.value
        for family in text_string_to_metric_families(render(registry).decode())
        for s in family.samples
        if s.labels == job
    }
    assert scraped["consistency_probe_success"] == 0.0
    assert scraped["consistency_probe_last_run_timestamp_seconds"] == 1_790_000_000.75
    assert scraped["consistency_probe_interval_seconds"] == 30.0
    assert "consistency_probe_last_success_timestamp_seconds" not in scraped


@pytest.mark.parametrize(
    ("openmetrics", "client", "parse"),
    [
        (False, generate_latest, text_string_to_metric_families),
        (True, openmetrics_latest, openmetrics_families),
    ],
)
def test_the_daemons_exposition_is_what_prometheus_client_writes_for_it(
    openmetrics: bool, client: Callable[[Registry], bytes], parse: Parse
) -> None:
    """Our pieces against prometheus_client rendering the same registry's collect()."""
    registry, metrics, recorder = daemon_like()
    for target in ("a", TRICKY):
        recorder.add_job(target, "create_sync", interval=30.0, kinds=("missing", "slow"))
        recorder.record(result(target, "create_sync"))
    metrics.loop_lag.observe(0.003)
    metrics.reload_time.set(1_790_000_000.0)
    ours = _without_process(parse(render(registry, openmetrics=openmetrics).decode()))
    theirs = _without_process(parse(client(registry).decode()))
    assert ours == theirs
    assert len(ours) > 100


def _without_process(families: Iterable[Metric]) -> list[tuple[str, str, dict[str, str], float]]:
    """Samples but the process_* ones, which move between two renders."""
    return [
        (f.name, s.name, s.labels, s.value)
        for f in families
        for s in f.samples
        if not f.name.startswith("process_")
    ]
