"""`run --shard i/n`: each replica runs its targets only and says which shard it is."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from support.monitor_daemon import (
    get_status,
    jobs_of,
    monitor_config,
    monitor_process,
    scrape,
    sim_target,
    write_config,
)

from monitor.sharding import shard_of

pytestmark = pytest.mark.integration

NAMES = [f"t{i}" for i in range(8)]


@pytest.mark.parametrize("how", ["flag", "env"])
async def test_each_shard_runs_only_its_targets_and_shows_its_shard(
    tmp_path: Path, how: str
) -> None:
    config = write_config(
        tmp_path / "monitor.yaml",
        monitor_config(*[sim_target(n, probes=["create_sync"]) for n in NAMES]),
    )
    seen: list[str] = []
    async with aiohttp.ClientSession() as session:
        for index in range(2):
            args = ("--shard", f"{index}/2") if how == "flag" else ()
            env = {"MONITOR_SHARD": f"{index}/2"} if how == "env" else None
            state = tmp_path / f"state-{index}"
            async with monitor_process(config, state, *args, env=env) as monitor:
                status = await get_status(session, monitor.url)
                targets = {job["target"] for job in jobs_of(status).values()}
                assert targets == {n for n in NAMES if shard_of(n, 2) == index}
                assert status["shard"] == f"{index}/2"
                metrics = await scrape(session, monitor.url)
                assert metrics.label_sets("consistency_build_info", "shard") == {(f"{index}/2",)}
                seen += targets
    assert sorted(seen) == sorted(NAMES)
