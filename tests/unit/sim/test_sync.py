"""The sync pipeline: Auth's changes land in Backend in order, after the sync delay."""

from __future__ import annotations

import asyncio

import pytest

from monitor.config import SimulatorConfig
from monitor.sim.world import World
from monitor.vtime import run_virtual

ALICE = {"email": "alice@example.com", "display_name": "Alice", "profile.city": "Oslo"}


def world(**config: object) -> World:
    return World(SimulatorConfig.model_validate({"seed": 1, "auth_latency": 0, **config}))


def latencies(w: World) -> list[float | None]:
    return [c.latency for c in w.truth.changes.values()]


def test_a_change_lands_in_backend_after_the_sync_delay() -> None:
    w = world(sync_delay=0.3)

    async def scenario() -> None:
        uid = await w.auth.create(dict(ALICE))
        await asyncio.sleep(0.29)
        assert w.backend.records == {}
        await asyncio.sleep(0.02)
        assert uid in w.backend.records

    run_virtual(scenario())

    assert latencies(w) == [pytest.approx(0.3)]


def test_changes_land_in_the_order_auth_made_them_whatever_the_jitter() -> None:
    w = world(sync_delay=0.1, latency_jitter=0.1)

    async def scenario() -> list[str]:
        uid = await w.auth.create(dict(ALICE))
        for n in range(20):
            await w.auth.update(uid, {"display_name": f"v{n}"})
        await w.settle()
        return [r.fields["display_name"] for r in w.backend.records[uid]]

    assert run_virtual(scenario()) == ["v19"]
    visible = [c.visible_at for c in w.truth.changes.values()]
    assert visible == sorted(visible)


def test_a_change_made_during_an_outage_is_lost() -> None:
    w = world()

    async def scenario() -> None:
        uid = await w.auth.create(dict(ALICE))
        await w.settle()
        await w.outage(True)
        await w.auth.update(uid, {"display_name": "Al"})
        await asyncio.sleep(1.0)
        assert w.backend.records[uid][0].fields["display_name"] == "Alice"

    run_virtual(scenario())

    assert latencies(w)[-1] is None


def test_a_reordered_update_lands_after_the_next_change_of_its_user() -> None:
    w = world(faults={"reorder_sync": 1})

    async def scenario() -> str:
        uid = await w.auth.create(dict(ALICE))
        await w.auth.update(uid, {"display_name": "older"})
        await w.auth.update(uid, {"display_name": "newer"})
        await w.settle()
        return w.backend.records[uid][0].fields["display_name"]

    assert run_virtual(scenario()) == "older"
    assert [f.version for f in w.truth.faults if f.fault == "reorder_sync"] == [2]


def test_a_reordered_update_with_nothing_newer_lands_reorder_hold_late() -> None:
    w = world(sync_delay=0.04, reorder_hold=0.25, faults={"reorder_sync": 1})

    async def scenario() -> None:
        uid = await w.auth.create(dict(ALICE))
        await w.auth.update(uid, {"display_name": "Al"})
        await w.settle()

    run_virtual(scenario())

    assert latencies(w) == [pytest.approx(0.04, abs=1e-5), pytest.approx(0.29, abs=1e-5)]


def test_a_reordered_update_suffers_no_other_fault_when_it_lands() -> None:
    w = world(faults={"reorder_sync": 1, "clobber_update": 1})

    async def scenario() -> None:
        uid = await w.auth.create(dict(ALICE))
        await w.auth.update(uid, {"display_name": "Al"})
        await w.settle()

    run_virtual(scenario())

    assert [f.fault for f in w.truth.faults] == ["reorder_sync"]


def test_close_cancels_every_delivery_in_flight() -> None:
    w = world(sync_delay=1.0)

    async def scenario() -> None:
        await w.auth.create(dict(ALICE))
        w.close()
        await asyncio.sleep(2.0)

    run_virtual(scenario())

    assert w.idle
    assert w.backend.records == {}
