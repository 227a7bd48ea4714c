"""A real Prometheus scrapes the daemon: our series are queryable and the target is up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.components import require_binary
from support.monitor_daemon import monitor_config, running_daemon, sim_target, write_config
from support.prometheus import JOB, running_prometheus, scrape_config
from support.waiting import eventually

from monitor.probes import PROBE_NAMES

pytestmark = pytest.mark.integration


def values(result: list[dict[str, Any]], *labels: str) -> dict[tuple[str, ...], float]:
    """An instant vector as {label values: sample value}."""
    return {tuple(r["metric"][k] for k in labels): float(r["value"][1]) for r in result}


async def test_prometheus_scrapes_our_series_and_sees_the_target_up(tmp_path: Path) -> None:
    binary = require_binary("prometheus", package="prometheus")
    config = monitor_config(sim_target("healthy"), sim_target("faulty", faults={"skip_cascade": 1}))
    path = write_config(tmp_path / "faulty.yaml", config)
    async with running_daemon(path, tmp_path / "state") as daemon:
        scraping = scrape_config([daemon.address])
        async with running_prometheus(binary, scraping, tmp_path / "prometheus") as prom:
            up = await eventually(
                lambda: prom.query(f'up{{job="{JOB}"}}'),
                lambda r: values(r, "instance") == {(daemon.address,): 1.0},
                within=30,
                what="up == 1",
            )
            success = await eventually(
                lambda: prom.query("consistency_probe_success"),
                lambda r: len(r) == 2 * len(PROBE_NAMES),
                within=30,
                what="a success series per target × probe",
            )
            cascades = await eventually(
                lambda: prom.query(
                    'consistency_inconsistencies_total{kind="cascade",target="faulty"}'
                ),
                lambda r: bool(r) and float(r[0]["value"][1]) >= 1,
                within=30,
                what="the cascade counter in Prometheus",
            )
            targets = await prom.targets()
            exit_status = await prom.stop()
    assert up[0]["metric"]["job"] == JOB
    assert values(success, "target", "probe")[("faulty", "delete_cascade")] == 0
    assert [r["metric"]["probe"] for r in cascades] == ["delete_cascade"]
    assert [(t["health"], t["lastError"]) for t in targets] == [("up", "")]
    assert exit_status == 0, "Prometheus stops cleanly"
