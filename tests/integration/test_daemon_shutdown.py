"""Health, readiness, a taken port, and graceful stop: SIGTERM during a slow probe exits 0
in time, and the cancelled probe's cleanup leaves no synthetic user in Auth.

The simulator takes 3 s to sync, so a `create_sync` run spends seconds waiting with its
synthetic user created: the moment a stop is most likely to leave one behind.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from support.monitor_daemon import (
    ROOT,
    base_url,
    get_status,
    get_text,
    monitor_config,
    monitor_process,
    running_daemon,
    scrape,
    sim_target,
    write_config,
)
from support.waiting import eventually

from monitor.daemon import Daemon
from monitor.sim.world import World
from monitor.targets.base import synthetic_pattern

pytestmark = pytest.mark.integration

GRACE = 0.5
CLEANUP_DEADLINE = 2.0
SLACK = 5.0  # teardown on a loaded machine; the point is "bounded", not a benchmark


def slow_config(tmp_path: Path) -> Path:
    config = monitor_config(
        sim_target("slow", probes=["create_sync"], sync_delay="3s"),
        defaults={
            "timeout": "10s",
            "cleanup_deadline": f"{CLEANUP_DEADLINE}s",
            "deadlines": {"sync": "1s", "give_up": "5s", "load": "2s"},
        },
    )
    return write_config(tmp_path / "slow.yaml", config)


async def run_in_flight(daemon: Daemon) -> bool:
    return daemon.scheduler.in_flight > 0


def synthetic_users(world: World, domain: str) -> list[str]:
    """Ids of the users in the world's Auth that carry the synthetic tag."""
    pattern = synthetic_pattern(domain)
    return [uid for uid, u in world.auth.users.items() if pattern.match(u.fields["email"])]


async def test_healthz_and_readyz_answer_200_while_running(tmp_path: Path) -> None:
    async with (
        running_daemon(slow_config(tmp_path), tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        health = await get_text(http, f"{url}/healthz")
        ready = await get_text(http, f"{url}/readyz")
    assert (health, ready) == ((200, "ok\n"), (200, "ready\n"))


async def test_status_runtime_reports_the_leak_indicators(tmp_path: Path) -> None:
    async with (
        running_daemon(slow_config(tmp_path), tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        status = await eventually(
            lambda: get_status(http, url),
            lambda s: s["runtime"]["synthetic_users_left"] == {"slow": 1},
            every=0.02,
            what="the user of the run in flight reported as left in Auth",
        )
        found = status["runtime"]
        tasks = (await scrape(http, url)).value("consistency_asyncio_tasks")
    assert set(found) == {
        "asyncio_tasks",
        "open_fds",
        "open_sockets",
        "tcp_connections",
        "synthetic_users_left",
        "runs_in_flight",
    }
    assert found["tcp_connections"] >= 2, "this very request, seen from both ends"
    assert found["open_sockets"] >= 3, "the listener and both ends of the request"
    assert tasks is not None and tasks >= 1


async def test_readyz_is_503_while_running_probes_get_their_grace(tmp_path: Path) -> None:
    async with (
        running_daemon(slow_config(tmp_path), tmp_path / "state") as daemon,
        aiohttp.ClientSession() as http,
    ):
        url = base_url(daemon.address)
        await eventually(lambda: run_in_flight(daemon), bool, every=0.02, what="a run")
        stopping = asyncio.create_task(daemon.stop(grace=1.0))
        ready = await eventually(
            lambda: get_text(http, f"{url}/readyz"),
            lambda answer: answer[0] != 200,
            within=5,
            every=0.02,
            what="not ready",
        )
        still_running = daemon.scheduler.in_flight
        health = await get_text(http, f"{url}/healthz")
        await stopping
    assert ready == (503, "not ready\n")
    assert still_running > 0, "the 503 came while a probe was in its grace period"
    assert health[0] == 200, "alive while shutting down"


async def test_stop_during_a_slow_probe_leaves_no_synthetic_user_in_auth(tmp_path: Path) -> None:
    async with running_daemon(slow_config(tmp_path), tmp_path / "state") as daemon:
        target = daemon.scheduler.target("slow")  # shutdown forgets its targets: keep it now
        assert target is not None
        world = target.state["world"]
        assert isinstance(world, World)

        async def created() -> list[str]:
            return synthetic_users(world, target.domain)

        await eventually(created, bool, every=0.02, what="the probe's synthetic user in Auth")
        assert daemon.scheduler.in_flight > 0, "the run is mid-wait, not finished"
        started = time.monotonic()
        await daemon.stop(grace=0.2)
        took = time.monotonic() - started
    assert synthetic_users(world, target.domain) == []
    assert took < 0.2 + CLEANUP_DEADLINE + SLACK


async def test_sigterm_during_a_slow_probe_exits_0_within_grace_and_cleanup(
    tmp_path: Path,
) -> None:
    async with (
        monitor_process(slow_config(tmp_path), tmp_path / "state", "--grace", "500ms") as monitor,
        aiohttp.ClientSession() as http,
    ):
        await eventually(
            lambda: get_status(http, monitor.url),
            lambda s: s["runtime"]["runs_in_flight"] > 0,
            every=0.02,
            what="a run in flight",
        )
        started = time.monotonic()
        monitor.send(signal.SIGTERM)
        exit_status = await monitor.wait(within=60)
        took = time.monotonic() - started
    log = monitor.log()
    assert exit_status == 0, log
    assert took < GRACE + CLEANUP_DEADLINE + SLACK, log
    assert "waiting up to 0.5 s for 1 running probes" in log
    assert "cleanup of" not in log, "the cancelled run cleaned up"
    assert "synthetic users left in 1 simulator targets: 0" in log
    assert "ERROR" not in log and "Traceback" not in log, "a graceful stop is no error"
    assert log.rstrip().endswith("monitor.daemon: stopped"), log


async def test_run_on_a_taken_port_exits_1_naming_the_address(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "monitor", "run", "--config", str(slow_config(tmp_path))),
            *("--listen", listen, "--state-dir", str(tmp_path / "state")),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert f"consistency-monitor run: cannot serve on {listen}: " in output.decode()
