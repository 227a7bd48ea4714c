"""The fault campaign through the daemon: faults switched live in `simulate` show up in
/metrics and at a real Alertmanager with the right kind.

The daemon probes the simulator over HTTP, as config/examples/http-sim.yaml does
(SimulatorServer in-process on free ports), every probe every second. Faults are set
through simulate's admin endpoint, PUT /admin/faults, in two phases whose faults do not
mask each other; each phase must raise `consistency_inconsistencies_total` for every
(probe, kind) the fault table says it must, raise no kind its faults do not cause, and
reach Alertmanager as ConsistencyInconsistency with that kind.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from support.alertmanager import Alertmanager, running_alertmanager, webhook_config
from support.components import require_binary
from support.monitor_daemon import (
    FAST_DEFAULTS,
    Scrape,
    every_job_ran,
    get_status,
    running_daemon,
    scrape,
    write_config,
)
from support.simulate_client import TOKEN, Sim
from support.waiting import eventually

from bench.fault_scoring import KIND_OF_DROP, KIND_OF_FAULT
from monitor.config import SimulatorConfig
from monitor.daemon import Daemon
from monitor.sim.server import SimulatorServer
from monitor.sim.world import World

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "examples" / "http-sim.yaml"
TARGET = "http-sim"
SIMULATOR = {"auth_latency": 0.002, "sync_delay": 0.005, "reorder_hold": 0.05, "seed": 3}
COUNTER = "consistency_inconsistencies_total"

# (faults for PUT /admin/faults, the (probe, kind) pairs the fault table says must follow)
PHASES: list[tuple[dict[str, Any], set[tuple[str, str]]]] = [
    (
        {
            "skip_cascade": 1.0,
            "partial_update": 1.0,
            "half_commit": 1.0,
            "non_atomic_rollback": 1.0,
            "duplicate_sync": 1.0,
        },
        {
            ("delete_cascade", "cascade"),
            ("partial_update", "partial"),
            ("transaction", "missing"),
            ("rollback", "rollback"),
            ("create_sync", "duplicate"),
        },
    ),
    (
        {"drop_sync": {"update": 1.0, "delete": 1.0}, "no_orphan_sweep": 1.0},
        {
            ("update_propagation", "stale"),
            ("delete_cascade", "orphan"),
            ("orphan_cleanup", "orphan"),
        },
    ),
]


def kinds_caused(faults: Mapping[str, Any]) -> set[str]:
    """Every kind the fault table maps these faults to."""
    kinds = set()
    for name, value in faults.items():
        if name == "drop_sync":
            kinds |= {KIND_OF_DROP[op] for op, p in value.items() if p}
        else:
            kinds.add(KIND_OF_FAULT[name])
    return kinds


@pytest.fixture
async def simulate() -> AsyncIterator[Sim]:
    world = World(SimulatorConfig.model_validate(SIMULATOR))
    server = SimulatorServer(world, admin_token=TOKEN)
    await server.start(auth=("127.0.0.1", 0), backend=("127.0.0.1", 0))
    try:
        async with aiohttp.ClientSession() as http:
            yield Sim(server.url("auth"), server.url("backend"), http)
    finally:
        await server.stop()
        world.close()


def daemon_config(sim: Sim, alertmanager: str) -> dict[str, Any]:
    """The http-sim example pointed at these services, fast, alerting to Alertmanager."""
    config: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    target = config["targets"][0]
    target["auth"]["base_url"], target["backend"]["base_url"] = sim.auth, sim.backend
    config["defaults"] = dict(FAST_DEFAULTS)
    config["server"] = {"history": 20}
    config["alerts"] = {
        "evaluation_interval": "1s",
        "resend_interval": "2s",
        "alertmanagers": [{"url": alertmanager}],
    }
    return config


def counts(scraped: Scrape) -> dict[tuple[str, str], float]:
    """The target's inconsistency counters by (probe, kind)."""
    return {
        (s.labels["probe"], s.labels["kind"]): s.value
        for s in scraped.samples(COUNTER)
        if s.labels["target"] == TARGET
    }


def grown(before: Mapping[tuple[str, str], float], now: Scrape) -> set[tuple[str, str]]:
    return {key for key, n in counts(now).items() if n > before.get(key, 0.0)}


def alerted(alerts: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(probe, kind) of the target's ConsistencyInconsistency alerts."""
    return {
        (a["labels"]["probe"], a["labels"]["kind"])
        for a in alerts
        if a["labels"].get("alertname") == "ConsistencyInconsistency"
        and a["labels"].get("target") == TARGET
    }


async def runs_since(http: aiohttp.ClientSession, url: str, since: float) -> None:
    """Wait until every job's last completed run started after `since` (wall clock)."""

    def fresh(status: dict[str, Any]) -> bool:
        return all(
            j["last"] and dt.datetime.fromisoformat(j["last"]["started_at"]).timestamp() > since
            for j in status["jobs"]
        )

    await eventually(lambda: get_status(http, url), fresh, within=15, what="a run of every job")


async def run_phase(
    sim: Sim, daemon: Daemon, am: Alertmanager, faults: dict[str, Any], due: set[tuple[str, str]]
) -> None:
    """Switch to these faults; once every job ran under them, the due (probe, kind) pairs
    must be counted, nothing the faults do not cause, and the kinds reach Alertmanager."""
    url = f"http://{daemon.address}"
    async with aiohttp.ClientSession() as http:
        await sim.set_faults(faults)
        await runs_since(http, url, time.time())  # runs begun before the switch are done
        before = counts(await scrape(http, url))
        found = await eventually(
            lambda: scrape(http, url),
            lambda s: due <= grown(before, s),
            within=15,
            what=f"{sorted(due)} counted in /metrics after {faults}",
        )
    assert {kind for _, kind in grown(before, found)} <= kinds_caused(faults)
    await eventually(
        am.alerts,
        lambda alerts: due <= alerted(alerts),
        within=15,
        what=f"ConsistencyInconsistency for {sorted(due)} in Alertmanager",
    )


async def test_faults_set_live_reach_metrics_and_alertmanager_with_their_kind(
    tmp_path: Path, simulate: Sim
) -> None:
    binary = require_binary("prometheus-alertmanager", package="prometheus-alertmanager")
    am_config = webhook_config("http://127.0.0.1:9/unused")
    async with running_alertmanager(binary, am_config, tmp_path / "am") as am:
        path = write_config(tmp_path / "monitor.yaml", daemon_config(simulate, am.url))
        async with running_daemon(path, tmp_path / "state") as daemon:
            url = f"http://{daemon.address}"
            async with aiohttp.ClientSession() as http:
                await every_job_ran(http, url, within=15)
                healthy = counts(await scrape(http, url))
            assert {key: n for key, n in healthy.items() if n} == {}
            for faults, due in PHASES:
                await run_phase(simulate, daemon, am, faults, due)
