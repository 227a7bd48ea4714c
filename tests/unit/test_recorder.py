"""The recorder's log lines: a failure is a warning naming what was found, a pass is debug."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from monitor.metrics import Metrics
from monitor.recorder import Recorder
from monitor.results import Inconsistency, ProbeResult


def recorder() -> Recorder:
    found = Recorder(Metrics(CollectorRegistry()), history=3)
    found.add_job("shop", "delete_cascade", interval=30.0, kinds=("cascade",))
    return found


def test_a_failed_run_is_a_warning_with_what_it_found(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="monitor.results")
    failed = ProbeResult(
        "shop",
        "delete_cascade",
        "fail",
        1.0,
        0.25,
        inconsistencies=(Inconsistency("cascade", "2 orders left"),),
    )
    recorder().record(failed)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "shop:delete_cascade fail in 0.250 s found cascade: 2 orders left"


def test_an_errored_run_is_a_warning_with_its_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="monitor.results")
    errored = ProbeResult("shop", "delete_cascade", "error", 1.0, 0.5, error="auth: HTTP 503")
    recorder().record(errored)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "shop:delete_cascade error in 0.500 s error auth: HTTP 503"


def test_a_pass_is_logged_only_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="monitor.results")
    rec = recorder()
    rec.record(ProbeResult("shop", "delete_cascade", "pass", 1.0, 0.125))
    assert caplog.records == []
    caplog.set_level(logging.DEBUG, logger="monitor.results")
    rec.record(ProbeResult("shop", "delete_cascade", "pass", 2.0, 0.125))
    [record] = caplog.records
    assert record.levelno == logging.DEBUG
    assert record.getMessage() == "shop:delete_cascade pass in 0.125 s"
