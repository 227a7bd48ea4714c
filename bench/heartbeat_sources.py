"""Where the heartbeat benchmark's changes happen, and the ground truth for each.

In process: the simulator's world, written directly (the user is created in Auth and its
change event published in the same instant, so the write takes no time) and read from
its Backend. Over PostgreSQL: `simulate --backend-dsn` in its own process, written
through the HTTP Auth side and read from the Backend's PostgreSQL table through the SQL
side (config/examples/http-sql.yaml), with /admin/truth as ground truth (a change is
visible from its transaction's commit).
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.heartbeat_pair import Pair, Scored, measure_many
from bench.simulate_proc import SQL_EXAMPLE, Simulate
from monitor.config import SimulatorConfig
from monitor.sim.model import FIELDS
from monitor.sim.world import World
from monitor.targets.base import Fields, synthetic_email

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "consistency-monitor.invalid"
GIVE_UP = 5.0
SYNC_DELAY, JITTER = 0.04, 0.01


@dataclass
class Run:
    """One repeat over one pipeline: scored pairs, and changes that could not be scored."""

    scored: list[Scored] = field(default_factory=list)
    lost: int = 0  # never seen within give_up
    unmatched: int = 0  # no visible change in the truth for the user
    load: float = 0.0
    seconds: float = 0.0


Truth = tuple[float, float]  # (visible_at - emitted_at, emitted_at)


def score(pairs: list[Pair | None], truths: Mapping[str, Truth], warm_up: int) -> Run:
    """Pairs after the warm-up, each with the truth about its change."""
    run = Run()
    for pair in pairs[warm_up:]:
        truth = truths.get(pair.user_id) if pair is not None else None
        if pair is None:
            run.lost += 1
        elif truth is None:
            run.unmatched += 1
        else:
            run.scored.append(Scored(pair, *truth))
    return run


def new_fields(rng: random.Random, names: tuple[str, ...] = FIELDS) -> Fields:
    """A tagged email and a value in every other field (the stamp overwrites one)."""
    values = {f: f"hb-{rng.getrandbits(32):08x}" for f in names if f != "email"}
    return {"email": synthetic_email(DOMAIN, time.time(), rng), **values}


async def in_process(*, count: int, warm_up: int, loops: int, seed: int) -> Run:
    """Changes written straight into a simulator world and read from its Backend."""
    world = World(SimulatorConfig(sync_delay=SYNC_DELAY, latency_jitter=JITTER, seed=seed))
    rng, started, load = random.Random(seed), time.monotonic(), os.getloadavg()[0]

    async def write(fields: Mapping[str, str]) -> str:
        user_id = world.auth.new_user(dict(fields))
        world.auth.publish("create", user_id, world.auth.users[user_id].fields)
        return user_id

    try:
        pairs = await measure_many(
            write,
            world.backend.get_user,
            lambda: new_fields(rng),
            count=warm_up + count,
            loops=loops,
            give_up=GIVE_UP,
        )
    finally:
        world.close()
    truths = {
        c.user_id: (c.latency, c.emitted_at)
        for c in world.truth.changes.values()
        if c.op == "create" and c.latency is not None
    }
    run = score(pairs, truths, warm_up)
    run.load, run.seconds = load, time.monotonic() - started
    return run


async def over_postgres(
    sim: Simulate, dsn: str, *, count: int, warm_up: int, loops: int, seed: int
) -> Run:
    """Changes written to `simulate`'s Auth over HTTP, read from its PostgreSQL Backend."""
    config = sim.config(example=SQL_EXAMPLE, dsn=dsn)
    target = sim.target(config)
    rng, started, load = random.Random(seed), time.monotonic(), os.getloadavg()[0]
    try:
        pairs = await measure_many(
            target.auth.create,
            target.backend.get_user,
            lambda: new_fields(rng, target.backend.fields),
            count=warm_up + count,
            loops=loops,
            give_up=GIVE_UP,
        )
    finally:
        await target.close()
    async with aiohttp.ClientSession() as http:
        truth = await sim.truth(http)
    truths = {
        c["user_id"]: (c["visible_at"] - c["emitted_at"], c["emitted_at"])
        for c in truth["changes"]
        if c["op"] == "create" and c["visible_at"] is not None
    }
    run = score(pairs, truths, warm_up)
    run.load, run.seconds = load, time.monotonic() - started
    return run


class PostgresUnavailable(Exception):
    """No throwaway PostgreSQL cluster could be started here; the message says why."""


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    """A fresh database on a throwaway cluster (the tests' helper), as an asyncpg DSN."""
    sys.path.insert(0, str(ROOT / "tests"))
    import pytest
    from support.postgres import Clusters

    clusters = Clusters()
    try:
        try:
            cluster = clusters.get("heartbeat")
        except (Exception, pytest.skip.Exception, pytest.fail.Exception) as exc:
            raise PostgresUnavailable(str(exc)) from None
        yield cluster.dsn(cluster.new_database("simulate"))
    finally:
        clusters.close()
