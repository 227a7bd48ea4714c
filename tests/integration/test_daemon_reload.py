"""Live reload, by `POST /-/reload` and by SIGHUP: the job set follows the file; a bad
file changes nothing and says what is wrong; the admin endpoint is never open.

The reload turns BEFORE into AFTER: `create_sync` and `transaction` unchanged,
`delete_cascade` removed, `rollback`'s interval 1h → 2h, `concurrent` added.
`create_sync` has a random jitter, so its next run time is kept only if its job is.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.monitor_daemon import (
    Scrape,
    base_url,
    every_job_ran,
    get_status,
    jobs_of,
    monitor_config,
    monitor_process,
    post_reload,
    running_daemon,
    scrape,
    sim_target,
    write_config,
)
from support.waiting import eventually, polled

from monitor.probes import PROBE_NAMES

pytestmark = pytest.mark.integration

TOKEN = "test-admin-token"
EVERY_SECOND = {"interval": "1s"}
SERVER = {"admin_token": TOKEN}
BEFORE = {
    "create_sync": {"interval": "1h", "jitter": "30m"},
    "transaction": {"interval": "1s"},
    "delete_cascade": {"interval": "1h"},
    "rollback": {"interval": "1h"},
}
AFTER = {
    "create_sync": {"interval": "1h", "jitter": "30m"},
    "transaction": {"interval": "1s"},
    "rollback": {"interval": "2h"},
    "concurrent": {"interval": "1s"},
}
CHANGES = {
    "added": ["sim:concurrent"],
    "removed": ["sim:delete_cascade"],
    "changed": ["sim:rollback"],
    "unchanged": 2,
}
# Two problems, each reported with its key path.
BAD_KEYS = ("targets[0].simulator.sync_delay", "server.history")


def config_file(path: Path, probes: Mapping[str, Any], server: Mapping[str, Any] | None) -> Path:
    return write_config(path, monitor_config(sim_target("sim", probes=probes), server=server))


def bad_file(path: Path) -> Path:
    config = monitor_config(sim_target("sim", probes=BEFORE, sync_delay="fast"), server=SERVER)
    config["server"]["history"] = 0
    return write_config(path, config)


async def assert_after_applied(
    http: aiohttp.ClientSession, url: str, before: Mapping[str, Any]
) -> None:
    """The job set is AFTER: added runs, removed is gone, the new interval shows."""
    status = await eventually(
        lambda: get_status(http, url),
        lambda s: jobs_of(s).keys() == {f"sim:{p}" for p in AFTER},
        within=15,
        what="the reloaded job set",
    )
    jobs = jobs_of(status)
    assert jobs["sim:rollback"]["interval_seconds"] == 7200
    assert (
        jobs["sim:create_sync"]["next_run_timestamp"]
        == before["sim:create_sync"]["next_run_timestamp"]
    ), "an unchanged job keeps its schedule"
    await eventually(
        lambda: get_status(http, url),
        lambda s: jobs_of(s)["sim:concurrent"]["last"] is not None,
        within=15,
        what="a run of the added job",
    )
    scraped = await scrape(http, url)
    interval = "consistency_probe_interval_seconds"
    assert scraped.value(interval, target="sim", probe="rollback") == 7200
    assert scraped.value(interval, target="sim", probe="concurrent") == 1
    assert ("delete_cascade",) not in scraped.label_sets(interval, "probe")
    assert ("delete_cascade",) not in scraped.label_sets("consistency_probe_runs_total", "probe")
    assert scraped.value("consistency_config_last_reload_successful") == 1


async def assert_bad_file_changed_nothing(
    http: aiohttp.ClientSession, url: str, before: Mapping[str, Any]
) -> None:
    """Same jobs, still running; the reload metric says the file was refused."""
    scraped = await eventually(
        lambda: scrape(http, url),
        lambda s: s.value("consistency_config_last_reload_successful") == 0,
        within=15,
        what="the failed reload in the metrics",
    )
    assert scraped.value("consistency_config_last_reload_success_timestamp_seconds")
    last_seq = before["sim:transaction"]["last"]["seq"]
    status = await eventually(
        lambda: get_status(http, url),
        lambda s: (jobs_of(s)["sim:transaction"]["last"] or {}).get("seq", 0) > last_seq,
        within=15,
        what="the old jobs still running",
    )
    assert jobs_of(status).keys() == before.keys()
    assert status["config"]["last_reload_successful"] is False


async def settled_status(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """The jobs once the 1 s job has run, so 'still running' can be told afterwards."""
    status = await eventually(
        lambda: get_status(http, url),
        lambda s: jobs_of(s)["sim:transaction"]["last"] is not None,
        within=15,
        what="a run of sim:transaction",
    )
    return jobs_of(status)


# -- by HTTP -------------------------------------------------------------------------------


async def test_http_reload_adds_removes_and_reschedules_jobs(tmp_path: Path) -> None:
    path = config_file(tmp_path / "monitor.yaml", BEFORE, SERVER)
    async with (
        running_daemon(path, tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        before = await settled_status(http, url)
        config_file(path, AFTER, SERVER)
        status, body = await post_reload(http, url, token=TOKEN)
        assert (status, json.loads(body)["changes"]) == (200, CHANGES)
        await assert_after_applied(http, url, before)


async def test_http_reload_of_a_bad_file_keeps_the_old_jobs_and_names_every_key(
    tmp_path: Path,
) -> None:
    path = config_file(tmp_path / "monitor.yaml", BEFORE, SERVER)
    async with (
        running_daemon(path, tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        before = await settled_status(http, url)
        bad_file(path)
        status, body = await post_reload(http, url, token=TOKEN)
        answer = json.loads(body)
        assert (status, answer["status"]) == (400, "error")
        for key in BAD_KEYS:
            assert any(e.startswith(f"{path}: {key}: ") for e in answer["errors"]), key
        await assert_bad_file_changed_nothing(http, url, before)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Bearer {TOKEN}x", TOKEN, f"Basic {TOKEN}"],
    ids=["missing", "wrong", "longer", "no-scheme", "basic"],
)
async def test_reload_without_the_right_bearer_token_is_401_and_changes_nothing(
    tmp_path: Path, authorization: str | None
) -> None:
    path = config_file(tmp_path / "monitor.yaml", BEFORE, SERVER)
    async with (
        running_daemon(path, tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        config_file(path, AFTER, SERVER)
        headers = {"Authorization": authorization} if authorization else {}
        async with http.post(f"{url}/-/reload", headers=headers) as resp:
            status, challenge = resp.status, resp.headers.get("WWW-Authenticate")
        jobs = jobs_of(await get_status(http, url))
    assert (status, challenge) == (401, "Bearer")
    assert jobs.keys() == {f"sim:{p}" for p in BEFORE}


@pytest.mark.parametrize("server", [None, {"admin_token": ""}], ids=["absent", "empty"])
async def test_reload_is_404_when_no_admin_token_is_configured(
    tmp_path: Path, server: dict[str, str] | None
) -> None:
    path = config_file(tmp_path / "monitor.yaml", BEFORE, server)
    async with (
        running_daemon(path, tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        config_file(path, AFTER, server)
        missing = await post_reload(http, url, token=None)
        any_token = await post_reload(http, url, token="")
        jobs = jobs_of(await get_status(http, url))
    assert (missing[0], any_token[0]) == (404, 404)
    assert jobs.keys() == {f"sim:{p}" for p in BEFORE}


# -- by SIGHUP -----------------------------------------------------------------------------


async def test_sighup_reloads_the_job_set_and_refuses_a_bad_file(tmp_path: Path) -> None:
    path = config_file(tmp_path / "monitor.yaml", BEFORE, None)
    async with (
        monitor_process(path, tmp_path / "state") as monitor,
        aiohttp.ClientSession() as http,
    ):
        before = await settled_status(http, monitor.url)
        config_file(path, AFTER, None)
        monitor.send(signal.SIGHUP)
        await assert_after_applied(http, monitor.url, before)

        reloaded = await settled_status(http, monitor.url)
        bad_file(path)
        monitor.send(signal.SIGHUP)
        await assert_bad_file_changed_nothing(http, monitor.url, reloaded)
    log = monitor.log()
    assert "reloaded: " in log
    for key in BAD_KEYS:
        assert f"reload failed, keeping the running config: {path}: {key}: " in log, key


async def test_reload_that_removes_a_target_drops_every_series_of_it(tmp_path: Path) -> None:
    def with_targets(*names: str) -> Path:
        targets = [sim_target(n, probes={"create_sync": {"interval": "1s"}}) for n in names]
        return write_config(tmp_path / "monitor.yaml", monitor_config(*targets, server=SERVER))

    def series_of(scraped: Scrape, target: str) -> set[str]:
        return {
            s.name for f in scraped.families for s in f.samples if s.labels.get("target") == target
        }

    path = with_targets("kept", "gone")
    async with (
        running_daemon(path, tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        await every_job_ran(http, url)
        before = series_of(await scrape(http, url), "gone")
        with_targets("kept")
        status, _ = await post_reload(http, url, token=TOKEN)
        after = await scrape(http, url)
    assert status == 200
    assert {"consistency_call_duration_seconds_count", "consistency_sync_timeouts_total"} <= before
    assert series_of(after, "gone") == set()
    assert series_of(after, "kept") == before


async def test_a_changed_job_keeps_its_counters_and_history(tmp_path: Path) -> None:
    """A target whose simulator settings change is rebuilt, but its jobs are the same
    target × probe: their counters go on from where they were and the history stays."""

    def with_delay(delay: str) -> Path:
        probes = {"transaction": {"interval": "1s"}}
        target = sim_target("sim", probes=probes, sync_delay=delay)
        return write_config(tmp_path / "monitor.yaml", monitor_config(target, server=SERVER))

    runs = "consistency_probe_runs_total"
    path = with_delay("5ms")
    async with (
        running_daemon(path, tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        counted = await eventually(
            lambda: scrape(http, url),
            lambda s: s.value(runs, target="sim", probe="transaction", outcome="pass") >= 3,
            within=20,
            what="three passing runs",
        )
        before = counted.value(runs, target="sim", probe="transaction", outcome="pass")
        seqs = [
            h["seq"] for h in jobs_of(await get_status(http, url))["sim:transaction"]["history"]
        ]
        with_delay("6ms")
        status, body = await post_reload(http, url, token=TOKEN)
        after = await scrape(http, url)
        history = jobs_of(await get_status(http, url))["sim:transaction"]["history"]
    assert (status, json.loads(body)["changes"]["changed"]) == (200, ["sim:transaction"])
    assert after.value(runs, target="sim", probe="transaction", outcome="pass") >= before
    assert [h["seq"] for h in history][: len(seqs)] == seqs


async def test_reloads_that_rebuild_every_target_never_leave_a_job_without_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reload gives the loop turns while it reschedules; jobs that fire meanwhile must
    find a target (the old one, or its rebuilt self), never none."""

    def with_delay(ms: int) -> Path:
        targets = [
            sim_target(
                f"t{i}", probes={p: {"interval": "1s"} for p in PROBE_NAMES}, sync_delay=f"{ms}ms"
            )
            for i in range(12)
        ]
        return write_config(tmp_path / "monitor.yaml", monitor_config(*targets, server=SERVER))

    path = with_delay(5)
    async with (
        running_daemon(path, tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        await every_job_ran(http, url)
        for round_ in range(10):
            with_delay(6 + round_ % 2)  # every target changes: all rebuilt
            status, _ = await post_reload(http, url, token=TOKEN)
            assert status == 200
            await asyncio.sleep(0.3)
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == []


SERVING_A_CONNECTION = "RequestHandler.start"  # aiohttp's, per open client connection


def running_tasks() -> collections.Counter[str]:
    """The tasks alive in this loop by coroutine: not the test's own, not those already
    told to stop (a timer replaced at start-up), not the server's per-connection ones."""
    mine = asyncio.current_task()
    return collections.Counter(
        name
        for task in asyncio.all_tasks()
        if task is not mine and not task.cancelling()
        if (name := task.get_coro().__qualname__) != SERVING_A_CONNECTION
    )


async def test_reloads_that_rebuild_busy_targets_leave_no_task_behind(tmp_path: Path) -> None:
    """Runs in flight, faults firing, every target rebuilt again and again: once nothing
    runs any more, the daemon holds exactly the tasks it held before it ran anything."""

    def write(interval: str, delay_ms: int, faults: dict[str, float] | None = None) -> Path:
        probes = {name: {"interval": interval} for name in PROBE_NAMES}
        targets = [
            sim_target(f"t{i}", probes=probes, sync_delay=f"{delay_ms}ms", faults=faults)
            for i in range(6)
        ]
        return write_config(tmp_path / "monitor.yaml", monitor_config(*targets, server=SERVER))

    async def quiet(daemon: Any) -> collections.Counter[str]:
        await eventually(
            polled(lambda: daemon.scheduler.in_flight), lambda n: n == 0, within=15, what="no run"
        )
        return running_tasks()

    path = write("1h", 5)
    async with (
        running_daemon(path, tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        before = await quiet(daemon)
        for round_ in range(8):
            write("1s", 5 + round_ % 2, {"drop_sync": 0.3, "auth_errors": 0.1, "skip_cascade": 0.3})
            assert (await post_reload(http, url, token=TOKEN))[0] == 200
            await asyncio.sleep(1.0)
        write("1h", 5)
        assert (await post_reload(http, url, token=TOKEN))[0] == 200
        after = await eventually(
            polled(running_tasks), lambda tasks: tasks == before, within=15, what=f"{before}"
        )
    assert after == before
