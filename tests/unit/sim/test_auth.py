"""The simulated Auth service: users, their versions, and a change event per write."""

from __future__ import annotations

import asyncio

import pytest

from monitor.config import SimulatorConfig
from monitor.sim.model import BadRequest, ConflictError, NotFoundError, ServerError
from monitor.sim.world import World
from monitor.vtime import run_virtual

ALICE = {"email": "alice@example.com", "display_name": "Alice"}


def world(**config: object) -> World:
    return World(SimulatorConfig.model_validate({"seed": 1, **config}))


def emitted(w: World) -> list[tuple[str, int]]:
    return [(c.op, c.version) for c in w.truth.changes.values()]


def test_each_call_answers_after_the_auth_latency() -> None:
    w = world(auth_latency=0.2)

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await w.auth.create(dict(ALICE))
        return loop.time() - start

    assert run_virtual(scenario()) == pytest.approx(0.2)


def test_create_update_delete_each_emit_a_change_with_the_version() -> None:
    w = world()

    async def scenario() -> None:
        uid = await w.auth.create(dict(ALICE))
        await w.auth.update(uid, {"display_name": "Al"})
        assert await w.auth.get(uid) == {**ALICE, "display_name": "Al"}
        await w.auth.delete(uid)
        assert await w.auth.get(uid) is None

    run_virtual(scenario())

    assert emitted(w) == [("create", 1), ("update", 2), ("delete", 2)]


def test_a_second_user_with_the_same_email_is_a_conflict() -> None:
    w = world()

    async def scenario() -> None:
        await w.auth.create(dict(ALICE))
        await w.auth.create(dict(ALICE))

    with pytest.raises(ConflictError):
        run_virtual(scenario())


def test_the_email_cannot_change() -> None:
    w = world()

    async def scenario() -> None:
        uid = await w.auth.create(dict(ALICE))
        await w.auth.update(uid, {"email": "bob@example.com"})

    with pytest.raises(BadRequest):
        run_virtual(scenario())


def test_updating_an_unknown_user_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        run_virtual(world().auth.update("u-nobody", {"display_name": "x"}))


def test_list_finds_users_by_email_suffix() -> None:
    w = world()

    async def scenario() -> list[tuple[str, str]]:
        await w.auth.create(dict(ALICE))
        uid = await w.auth.create({"email": "probe-1-ab@consistency-monitor.invalid"})
        return [(uid, "probe-1-ab@consistency-monitor.invalid")]

    expected = run_virtual(scenario())

    assert run_virtual(w.auth.list("@consistency-monitor.invalid")) == expected


def test_auth_errors_answer_500_and_are_recorded_in_the_ground_truth() -> None:
    w = world(faults={"auth_errors": 1})

    with pytest.raises(ServerError, match="during create"):
        run_virtual(w.auth.create(dict(ALICE)))

    assert [(f.fault, f.operation) for f in w.truth.faults] == [("auth_errors", "create")]
    assert w.auth.users == {}
