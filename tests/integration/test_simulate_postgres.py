"""`simulate --backend-dsn`: the Backend kept in a real PostgreSQL, probed through the
shipped config/examples/http-sql.yaml (Auth over HTTP, Backend read from the tables) and
http-sim.yaml (both over HTTP, the Backend service answering from the tables).

Simulate runs in-process on free ports with a database of its own per test, and once
as `python -m monitor simulate`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from support.network import free_port
from support.postgres import Cluster
from support.simulate_client import PROFILE, TOKEN, Sim, output_line, soon

from monitor.cli import main, run_check
from monitor.clock import SYSTEM_CLOCK
from monitor.config import Config, SimulatorConfig, parse_config
from monitor.probes import PROBE_NAMES, delete_cascade
from monitor.sim.model import SimError
from monitor.sim.postgres import PgBackend
from monitor.sim.server import SimulatorServer
from monitor.sim.world import World
from monitor.targets.build import build_target

pytestmark = pytest.mark.integration

FAST = {"auth_latency": 0.0, "sync_delay": 0.005, "reorder_hold": 0.05, "seed": 1}
EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
DEADLINES = {"sync": "300ms", "give_up": "1s", "load": "2s"}
DSN_ENV = "SIMULATE_BACKEND_DSN"
SQL_PROBES = [p for p in PROBE_NAMES if p != "orphan_cleanup"]
WAITING = (
    "SELECT pid FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
)
NAME = "Robert'); DROP TABLE users; --"
CITY = "O'Brien \\ \"quoted\" \\' $1 :id %s"
THEME = "'; DELETE FROM sessions; --"
ROW = (
    "SELECT email, display_name, locale, timezone, plan, city, theme, version "
    "FROM users WHERE auth_id = $1"
)


@dataclass
class Served:
    """simulate on PostgreSQL: its HTTP client and its database."""

    sim: Sim
    cluster: Cluster
    database: str
    world: World | None = None  # in-process only

    @property
    def dsn(self) -> str:
        return self.cluster.dsn(self.database)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Rows read straight from simulate's database."""
        conn = await self.cluster.connect(self.database)
        try:
            return [dict(row) for row in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    async def rows(self, user_id: str) -> list[dict[str, Any]]:
        return await self.fetch(ROW, user_id)

    def example(self, name: str) -> Config:
        """A shipped example pointed at this simulate, with short deadlines."""
        document = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
        document["defaults"]["deadlines"] = DEADLINES
        target = document["targets"][0]
        target["auth"]["base_url"] = self.sim.auth
        if target["backend"]["kind"] == "http":
            target["backend"]["base_url"] = self.sim.backend
        return parse_config(document, source=name, env={DSN_ENV: self.dsn})


def pg_world(dsn: str) -> World:
    return World(SimulatorConfig.model_validate(FAST), backend=functools.partial(PgBackend, dsn))


@pytest.fixture
async def served(postgres: Cluster) -> AsyncIterator[Served]:
    database = postgres.new_database("simulate")
    world = pg_world(postgres.dsn(database))
    server = SimulatorServer(world, admin_token=TOKEN)
    try:
        await world.open()
        await server.start(auth=("127.0.0.1", 0), backend=("127.0.0.1", 0))
        async with aiohttp.ClientSession() as http:
            sim = Sim(server.url("auth"), server.url("backend"), http)
            yield Served(sim, postgres, database, world)
    finally:
        await server.stop()
        await world.aclose()


async def check(config: Config, probes: list[str]) -> dict[str, tuple[str, set[str]]]:
    """Each probe's outcome and the kinds it reported."""
    results = await run_check(config, {config.targets[0].name: probes}, 1)
    return {r.probe: (r.outcome, set(r.kinds)) for r in results}


# -- the tables ------------------------------------------------------------------------


async def test_a_created_user_is_a_row_in_postgres(served: Served) -> None:
    user = await served.sim.create()
    rows = await soon(lambda: served.rows(user["id"]), bool, "the row")
    assert rows == [{"email": "ann@example.test", "display_name": "Ann", **PROFILE, "version": 1}]


async def test_a_change_is_visible_in_ground_truth_when_its_write_committed(
    served: Served,
) -> None:
    locker = await served.cluster.connect(served.database)
    try:
        held = locker.transaction()
        await held.start()
        await locker.execute("LOCK TABLE users IN EXCLUSIVE MODE")  # the insert waits
        user = await served.sim.create()
        await soon(lambda: served.fetch(WAITING), bool, "the insert waiting for the lock")
        released = asyncio.get_running_loop().time()
        await held.commit()
    finally:
        await locker.close()
    await served.sim.synced(user["id"])
    [change] = (await served.sim.truth())["changes"]
    assert change["emitted_at"] + FAST["sync_delay"] < released < change["visible_at"]


async def test_an_update_and_a_delete_reach_the_tables_and_the_backend_deletes_dependents(
    served: Served,
) -> None:
    sim, uid = served.sim, (await served.sim.create())["id"]
    await sim.synced(uid)
    await sim.call("POST", f"{sim.backend}/users/{uid}/dependents", {"token": "session-1"})
    await sim.call("PATCH", f"{sim.auth}/admin/users/{uid}", {"profile": {"city": "Köln"}})
    await soon(lambda: served.rows(uid), lambda r: r[0]["city"] == "Köln", "the update")
    assert (await served.rows(uid))[0]["version"] == 2
    await sim.call("DELETE", f"{sim.auth}/admin/users/{uid}")
    await sim.gone(uid)
    sessions = "SELECT token FROM sessions WHERE user_auth_id = $1"
    assert (await served.rows(uid), await served.fetch(sessions, uid)) == ([], [])


async def test_an_outage_answers_503_and_the_sweeper_deletes_the_orphan_rows(
    served: Served,
) -> None:
    sim, uid = served.sim, (await served.sim.create())["id"]
    await sim.synced(uid)
    outage = f"{sim.backend}/admin/outage"
    await sim.call("POST", outage, {"active": True})
    assert (await sim.backend_user(uid))[0] == 503
    await sim.call("DELETE", f"{sim.auth}/admin/users/{uid}")  # this delete is lost
    await sim.call("POST", outage, {"active": False})
    await soon(lambda: served.rows(uid), lambda rows: rows == [], "swept")
    [delete] = [c for c in (await sim.truth())["changes"] if c["op"] == "delete"]
    assert delete["visible_at"] is not None


async def test_field_values_with_sql_syntax_are_stored_verbatim_and_harmless(
    served: Served,
) -> None:
    profile = {**PROFILE, "city": CITY}
    sim = served.sim
    uid = (await sim.create("bobby@example.test", display_name=NAME, profile=profile))["id"]
    await sim.synced(uid)
    await sim.call("PATCH", f"{sim.auth}/admin/users/{uid}", {"profile": {"theme": THEME}})
    [row] = await soon(lambda: served.rows(uid), lambda r: r[0]["theme"] == THEME, "update")
    assert (row["display_name"], row["city"]) == (NAME, CITY)
    tables = "SELECT to_regclass('users') IS NOT NULL AND to_regclass('sessions') IS NOT NULL"
    assert await served.fetch(tables) == [{"?column?": True}]
    target = build_target(served.example("http-sql.yaml").targets[0], clock=SYSTEM_CLOCK)
    try:
        shown = await target.backend.get_user(uid)
    finally:
        await target.close()
    assert shown is not None
    assert (shown["display_name"], shown["profile.city"], shown["profile.theme"]) == (
        NAME,
        CITY,
        THEME,
    )


async def test_tables_of_another_shape_are_refused_not_emptied(postgres: Cluster) -> None:
    database = postgres.new_database("foreign")
    postgres.psql("CREATE TABLE users (id bigint, name text)", database)
    postgres.psql("INSERT INTO users VALUES (1, 'kept')", database)
    world = pg_world(postgres.dsn(database))
    try:
        with pytest.raises(SimError, match=r"table users in \S+ has other columns than simulate's"):
            await world.open()
    finally:
        await world.aclose()
    assert postgres.psql("SELECT name FROM users", database) == "kept"


# -- the monitor against it ------------------------------------------------------------


async def test_every_probe_of_the_http_sim_example_passes_with_the_backend_in_postgres(
    served: Served,
) -> None:
    outcomes = await check(served.example("http-sim.yaml"), list(PROBE_NAMES))
    assert outcomes == dict.fromkeys(PROBE_NAMES, ("pass", set()))


async def test_every_probe_the_http_sql_example_can_run_passes_reading_the_tables(
    served: Served,
) -> None:
    config = served.example("http-sql.yaml")
    assert config.probe_names(config.targets[0]) == SQL_PROBES
    assert config.targets[0].runnable("orphan_cleanup") == ["backend.outage"]
    outcomes = await check(config, SQL_PROBES)
    assert outcomes == dict.fromkeys(SQL_PROBES, ("pass", set()))


async def test_skip_cascade_set_live_is_reported_as_cascade_through_the_tables(
    served: Served,
) -> None:
    await served.sim.set_faults({"skip_cascade": 1.0})
    outcomes = await check(served.example("http-sql.yaml"), ["delete_cascade"])
    assert outcomes == {"delete_cascade": ("fail", {"cascade"})}
    [fired] = await served.sim.faults_fired("skip_cascade")
    left = "SELECT count(*) AS n FROM sessions WHERE user_auth_id = $1"
    assert await served.fetch(left, fired["user_id"]) == [{"n": delete_cascade.DEPENDENTS}]
    assert served.world is not None  # ground truth sees the dependents the monitor wrote
    [record] = [f for f in served.world.truth.faults if f.fault == "skip_cascade"]
    assert served.world.observable(record)


# (id, faults, a probe that notices, the kind it reports): rows of the fault table, run
# through http-sql.yaml, or http-sim.yaml for the probe that needs an outage
FAULT_ROWS: list[tuple[str, dict[str, Any], str, str]] = [
    ("drop_sync.create", {"drop_sync": {"create": 1}}, "create_sync", "missing"),
    ("duplicate_sync", {"duplicate_sync": 1}, "duplicate", "duplicate"),
    ("drop_sync.delete", {"drop_sync": {"delete": 1}}, "delete_cascade", "orphan"),
    ("drop_sync.update", {"drop_sync": {"update": 1}}, "update_propagation", "stale"),
    ("partial_update", {"partial_update": 1}, "partial_update", "partial"),
    ("clobber_update", {"clobber_update": 1}, "update_propagation", "partial"),
    ("reorder_sync", {"reorder_sync": 1}, "update_propagation", "stale"),
    ("half_commit", {"half_commit": 1}, "transaction", "missing"),
    ("non_atomic_rollback", {"non_atomic_rollback": 1}, "rollback", "rollback"),
    ("no_orphan_sweep", {"no_orphan_sweep": 1}, "orphan_cleanup", "orphan"),
]
FAULTS = [pytest.param(faults, probe, kind, id=name) for name, faults, probe, kind in FAULT_ROWS]


@pytest.mark.parametrize(("faults", "probe", "kind"), FAULTS)
async def test_a_fault_through_postgres_is_reported_with_its_kind(
    served: Served, faults: dict[str, Any], probe: str, kind: str
) -> None:
    await served.sim.set_faults(faults)
    example = "http-sql.yaml" if probe in SQL_PROBES else "http-sim.yaml"
    outcomes = await check(served.example(example), [probe])
    assert outcomes == {probe: ("fail", {kind})}
    fault = next(iter(faults))
    assert await served.sim.faults_fired(fault)


# -- the command -----------------------------------------------------------------------


async def test_the_simulate_command_keeps_the_backend_in_postgres_for_the_http_sql_example(
    postgres: Cluster,
) -> None:
    database = postgres.new_database("command")
    dsn = f"postgresql://postgres@{postgres.host}:{postgres.port}/{database}"
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "monitor", "simulate", "--auth-latency", "0ms"],
        *["--auth-listen", "127.0.0.1:0", "--backend-listen", "127.0.0.1:0"],
        *["--sync-delay", "5ms", "--reorder-hold", "50ms"],
        env={**os.environ, "SIMULATE_ADMIN_TOKEN": TOKEN, DSN_ENV: dsn},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        urls = dict([(await output_line(proc)).split(), (await output_line(proc)).split()])
        async with aiohttp.ClientSession() as http:
            sim = Sim(urls["auth"], urls["backend"], http)
            served = Served(sim, postgres, database)
            outcomes = await check(served.example("http-sql.yaml"), SQL_PROBES)
            assert outcomes == dict.fromkeys(SQL_PROBES, ("pass", set()))
            left = "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM sessions) AS n"
            await soon(lambda: served.fetch(left), lambda rows: rows == [{"n": 0}], "cleaned up")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_the_simulate_command_exits_1_when_the_database_refuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    argv = ["--auth-listen", "127.0.0.1:0", "--backend-listen", "127.0.0.1:0"]
    assert main(["simulate", "--backend-dsn", dsn, *argv]) == 1
    assert "backend database: connection refused (127.0.0.1:" in capsys.readouterr().err
