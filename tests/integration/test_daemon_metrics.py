"""The daemon's /metrics on a faulty simulator: the counters move as the faults dictate.

Two simulator targets, `healthy` and `faulty` (`skip_cascade: 1`: every deletion leaves
the user's dependents behind), every probe every second. Checked in-process and through
`consistency-monitor run` in a subprocess, with Prometheus' own parsers and `promtool`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from support.components import require_binary
from support.monitor_daemon import (
    Scrape,
    base_url,
    every_job_ran,
    get_status,
    monitor_config,
    monitor_process,
    running_daemon,
    scrape,
    sim_target,
    write_config,
)
from support.waiting import eventually

from monitor.metrics import SKIP_REASONS
from monitor.probes import PROBE_NAMES, REGISTRY
from monitor.results import OUTCOMES

pytestmark = pytest.mark.integration

TARGETS = ("healthy", "faulty")
CASCADE = {"kind": "cascade", "probe": "delete_cascade", "target": "faulty"}
# What Prometheus 2.x sends: OpenMetrics first, the text format as a fallback.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def faulty_config(tmp_path: Path) -> Path:
    config = monitor_config(sim_target("healthy"), sim_target("faulty", faults={"skip_cascade": 1}))
    return write_config(tmp_path / "faulty.yaml", config)


async def assert_counters_follow_the_faults(http: aiohttp.ClientSession, url: str) -> None:
    """The cascade counter grows; only faulty:delete_cascade fails, every other probe passes."""
    await every_job_ran(http, url)
    first = await scrape(http, url)
    seen = first.value("consistency_inconsistencies_total", **CASCADE)
    assert seen is not None and seen >= 1
    later = await eventually(
        lambda: scrape(http, url),
        lambda s: (s.value("consistency_inconsistencies_total", **CASCADE) or 0) > seen,
        within=15,
        what="the cascade counter growing",
    )
    for target in TARGETS:
        for probe in PROBE_NAMES:
            failing = (target, probe) == ("faulty", "delete_cascade")
            success = later.value("consistency_probe_success", target=target, probe=probe)
            assert success == (0.0 if failing else 1.0), f"{target}:{probe}"
    assert_only_delete_cascade_fails_on_faulty(later)


def assert_only_delete_cascade_fails_on_faulty(scraped: Scrape) -> None:
    runs = "consistency_probe_runs_total"
    cascade_runs = scraped.value(runs, target="faulty", probe="delete_cascade", outcome="fail")
    assert cascade_runs is not None and cascade_runs >= 2
    assert scraped.value(runs, target="faulty", probe="delete_cascade", outcome="pass") == 0
    healthy = {**CASCADE, "target": "healthy"}
    assert scraped.value("consistency_inconsistencies_total", **healthy) == 0
    others = [
        s
        for s in scraped.samples("consistency_inconsistencies_total")
        if s.value > 0 and s.labels != CASCADE
    ]
    assert others == [], "only the injected fault may be found"


async def test_cascade_fault_moves_the_counters_in_process(tmp_path: Path) -> None:
    async with (
        running_daemon(faulty_config(tmp_path), tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        await assert_counters_follow_the_faults(http, base_url(daemon.address))


async def test_cascade_fault_moves_the_counters_of_the_run_command(tmp_path: Path) -> None:
    async with (
        monitor_process(faulty_config(tmp_path), tmp_path / "state") as monitor,
        aiohttp.ClientSession() as http,
    ):
        await assert_counters_follow_the_faults(http, monitor.url)


async def test_counters_start_at_zero_and_probe_success_is_absent_before_the_first_run(
    tmp_path: Path,
) -> None:
    config = monitor_config(sim_target("healthy"), defaults={"interval": "24h"})
    path = write_config(tmp_path / "daily.yaml", config)
    async with (
        running_daemon(path, tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        scraped = await scrape(http, url)
        status = await get_status(http, url)
    assert all(j["last"] is None for j in status["jobs"]), "precondition: nothing ran yet"
    for probe in PROBE_NAMES:
        job = {"target": "healthy", "probe": probe}
        assert scraped.value("consistency_probe_success", **job) is None
        assert scraped.value("consistency_probe_last_run_timestamp_seconds", **job) is None
        assert scraped.value("consistency_probe_interval_seconds", **job) == 86400
        for outcome in OUTCOMES:
            assert scraped.value("consistency_probe_runs_total", **job, outcome=outcome) == 0
        for reason in SKIP_REASONS:
            assert scraped.value("consistency_probe_skipped_total", **job, reason=reason) == 0
        for kind in REGISTRY[probe].KINDS:
            assert scraped.value("consistency_inconsistencies_total", **job, kind=kind) == 0
    kinds = scraped.label_sets("consistency_inconsistencies_total", "probe", "kind")
    assert kinds == {(p, k) for p in PROBE_NAMES for k in REGISTRY[p].KINDS}


async def test_openmetrics_is_served_when_the_scraper_asks_for_it(tmp_path: Path) -> None:
    async with (
        running_daemon(faulty_config(tmp_path), tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        await every_job_ran(http, url)
        async with http.get(f"{url}/metrics", headers={"Accept": PROMETHEUS_ACCEPT}) as resp:
            content_type, text = resp.headers["Content-Type"], await resp.text()
        async with http.get(f"{url}/metrics") as resp:
            plain_type = resp.headers["Content-Type"]
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert plain_type.startswith("text/plain; version=0.0.4")
    assert text.endswith("# EOF\n")
    scraped = Scrape(text, openmetrics=True)
    assert (scraped.value("consistency_inconsistencies_total", **CASCADE) or 0) >= 1
    assert scraped.value("consistency_probe_success", target="faulty", probe="delete_cascade") == 0


async def test_no_created_series_are_exported(tmp_path: Path) -> None:
    async with (
        running_daemon(faulty_config(tmp_path), tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        await every_job_ran(http, url)
        texts = [
            (await scrape(http, url, accept=accept)).text for accept in ("", PROMETHEUS_ACCEPT)
        ]
    for text in texts:
        assert "_created" not in text


async def test_promtool_check_metrics_finds_no_problem_in_a_real_scrape(tmp_path: Path) -> None:
    promtool = require_binary("promtool", package="prometheus")
    async with (
        running_daemon(faulty_config(tmp_path), tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        await every_job_ran(http, url)
        text = (await scrape(http, url)).text
    check = await asyncio.create_subprocess_exec(
        promtool,
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(check.communicate(text.encode()), 60)
    assert "consistency_sync_latency_seconds_bucket" in text, "a scrape with histograms filled"
    assert (check.returncode, output.decode()) == (0, "")
