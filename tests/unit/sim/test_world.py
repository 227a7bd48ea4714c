"""The simulated deployment: transactions, outages and the sweeper, and which faults show."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from monitor.config import FaultsConfig, SimulatorConfig
from monitor.sim.backend import SimBackend
from monitor.sim.model import Event
from monitor.sim.world import World
from monitor.vtime import run_virtual

ALICE = {"email": "alice@example.com", "display_name": "Alice", "profile.city": "Oslo"}


def world(**config: object) -> World:
    return World(SimulatorConfig.model_validate({"seed": 1, **config}))


def sides(w: World, uid: str) -> tuple[bool, bool]:
    """Whether Auth and Backend hold the user."""
    return uid in w.auth.users, uid in w.backend.records


def judged(w: World) -> list[tuple[str, bool | None]]:
    return [(f.fault, f.observable) for f in w.truth.faults]


def test_a_committed_transaction_writes_both_sides_at_once() -> None:
    w = world()

    uid, committed = run_virtual(w.transaction(dict(ALICE), fail=False))

    assert committed
    assert sides(w, uid) == (True, True)


def test_a_failed_transaction_leaves_neither_side() -> None:
    w = world()

    uid, committed = run_virtual(w.transaction(dict(ALICE), fail=True))

    assert not committed
    assert sides(w, uid) == (False, False)


def test_half_commit_leaves_the_user_in_auth_only() -> None:
    w = world(faults={"half_commit": 1})

    uid, committed = run_virtual(w.transaction(dict(ALICE), fail=False))

    assert committed
    assert sides(w, uid) == (True, False)


def test_non_atomic_rollback_leaves_the_user_in_backend_only() -> None:
    w = world(faults={"non_atomic_rollback": 1})

    uid, _ = run_virtual(w.transaction(dict(ALICE), fail=True))

    assert sides(w, uid) == (False, True)


async def delete_during_outage(w: World) -> str:
    uid = await w.auth.create(dict(ALICE))
    await w.settle()
    await w.outage(True)
    await w.auth.delete(uid)
    await w.outage(False)
    await w.settle()
    return uid


def test_the_sweeper_removes_orphans_after_an_outage_and_their_deletion_shows() -> None:
    w = world(sync_delay=0.5)

    uid = run_virtual(delete_during_outage(w))

    deletion = list(w.truth.changes.values())[-1]
    assert sides(w, uid) == (False, False)
    assert deletion.op == "delete" and deletion.latency is not None and deletion.latency >= 0.5


def test_no_orphan_sweep_leaves_the_orphan_and_records_it() -> None:
    w = world(faults={"no_orphan_sweep": 1})

    uid = run_virtual(delete_during_outage(w))

    assert sides(w, uid) == (False, True)
    assert [(f.fault, f.user_id) for f in w.truth.faults] == [("no_orphan_sweep", uid)]


def test_idle_means_nothing_is_left_in_flight() -> None:
    w = world(sync_delay=1.0)

    async def scenario() -> list[bool]:
        seen = [w.idle]
        await w.auth.create(dict(ALICE))
        seen.append(w.idle)
        await w.settle()
        return [*seen, w.idle]

    assert run_virtual(scenario()) == [True, False, True]


def test_faults_are_judged_as_cleanup_starts_and_later_ones_are_marked_during_cleanup() -> None:
    w = world(faults={"drop_sync": 1})

    async def scenario() -> None:
        uid = await w.auth.create(dict(ALICE))
        await w.settle()
        w.cleanup_started([uid])
        await w.auth.delete(uid)
        await w.settle()

    run_virtual(scenario())

    assert [(f.operation, f.observable, f.during_cleanup) for f in w.truth.faults] == [
        ("create", True, False),
        ("delete", None, True),
    ]


def test_a_duplicate_is_judged_when_auth_deletes_the_user_before_it_vanishes() -> None:
    w = world(faults={"duplicate_sync": 1})

    async def scenario() -> None:
        uid = await w.auth.create(dict(ALICE))
        await w.settle()
        await w.auth.delete(uid)
        await w.settle()
        w.cleanup_started([uid])

    run_virtual(scenario())

    assert judged(w) == [("duplicate_sync", True)]


def test_a_partial_update_repaired_by_a_later_update_is_not_observable() -> None:
    w = world(faults={"partial_update": 1})

    async def scenario() -> None:
        uid = await w.auth.create(dict(ALICE))
        await w.auth.update(uid, {"display_name": "B", "profile.city": "Rome"})
        await w.settle()
        w.dice.config = FaultsConfig()
        await w.auth.update(uid, {"display_name": "C", "profile.city": "Rome"})
        await w.settle()
        w.cleanup_started([uid])

    run_virtual(scenario())

    assert judged(w) == [("partial_update", False)]


def test_a_clobbered_field_stays_observable_after_a_later_update_of_other_fields() -> None:
    w = world(faults={"clobber_update": 1})

    async def scenario() -> None:
        uid = await w.auth.create(dict(ALICE))
        await w.auth.update(uid, {"display_name": "B"})
        await w.settle()
        w.dice.config = FaultsConfig()
        await w.auth.update(uid, {"display_name": "C"})
        await w.settle()
        w.cleanup_started([uid])

    run_virtual(scenario())

    assert judged(w) == [("clobber_update", True)]


def test_a_dropped_update_overtaken_by_a_newer_one_is_not_observable() -> None:
    w = world(faults={"drop_sync": {"update": 1}})

    async def scenario() -> None:
        uid = await w.auth.create(dict(ALICE))
        await w.auth.update(uid, {"display_name": "B"})
        await w.settle()
        w.dice.config = FaultsConfig()
        await w.auth.update(uid, {"display_name": "C"})
        await w.settle()
        w.cleanup_started([uid])

    run_virtual(scenario())

    assert judged(w) == [("drop_sync", False)]


class Deferred:
    """A storage that carries deliveries out a while later, one by one, as PostgreSQL's
    worker does; everything else is the in-memory Backend's."""

    def __init__(self, shadow: SimBackend) -> None:
        self._shadow = shadow
        self._jobs: list[Callable[[], None]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shadow, name)

    def apply(self, event: Event, now: float, *, faults: bool = True) -> None:
        def carry_out() -> None:  # visible when written, not when delivered
            self._shadow.apply(event, asyncio.get_running_loop().time(), faults=faults)

        self._jobs.append(carry_out)

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    async def drain(self) -> None:
        await asyncio.sleep(0.5)
        while self._jobs:
            self._jobs.pop(0)()


def test_a_world_on_another_storage_settles_once_its_writes_are_carried_out() -> None:
    w = World(SimulatorConfig(seed=1, auth_latency=0, sync_delay=0.1), backend=Deferred)

    async def scenario() -> list[bool]:
        uid = await w.auth.create(dict(ALICE))
        await asyncio.sleep(0.2)
        seen = [w.idle, uid in w.shadow.records]
        await w.settle()
        return [*seen, w.idle, uid in w.shadow.records]

    assert run_virtual(scenario()) == [False, False, True, True]
    [change] = w.truth.changes.values()
    assert change.latency == pytest.approx(0.2 + 0.5)  # written as settle drained it
