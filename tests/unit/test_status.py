"""The `runtime` leak indicators of /api/status: tasks, descriptors, connections, users left."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from monitor.sim.world import World
from monitor.status import runtime, synthetic_users_left, tcp_established
from monitor.targets.base import Target

SimTarget = Callable[..., Target]


def world_of(target: Target) -> World:
    world = target.state["world"]
    assert isinstance(world, World)
    return world


async def test_runtime_reports_every_leak_indicator() -> None:
    found = runtime()

    assert set(found) == {
        "asyncio_tasks",
        "open_fds",
        "open_sockets",
        "tcp_connections",
        "synthetic_users_left",
    }
    assert found["asyncio_tasks"] >= 1, "this test runs in a task"
    assert found["open_fds"] >= 3, "stdin, stdout and stderr at least"


async def test_an_open_loopback_connection_is_counted_at_both_ends() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        before = runtime()["tcp_connections"]
        with socket.create_connection(server.getsockname()):
            accepted, _ = server.accept()
            with accepted:
                during = runtime()
        after = runtime()["tcp_connections"]

    assert during["tcp_connections"] == before + 2
    assert after == before
    assert during["open_sockets"] >= 3, "listener, client and accepted sockets"


def test_tcp_established_ignores_sockets_of_other_processes() -> None:
    assert tcp_established(set()) == 0


async def test_only_tagged_users_of_simulator_targets_count_as_left(sim_target: SimTarget) -> None:
    target = sim_target()
    auth = world_of(target).auth
    auth.new_user({"email": target.new_email()})
    auth.new_user({"email": target.new_email()})
    auth.new_user({"email": "someone@example.com"})

    assert synthetic_users_left([target]) == {"sim": 2}


def test_a_simulator_target_with_no_users_left_reports_zero(sim_target: SimTarget) -> None:
    assert synthetic_users_left([sim_target(name="idle")]) == {"idle": 0}


def test_runtime_counts_tasks_of_the_running_loop() -> None:
    async def scenario() -> int:
        idle = asyncio.get_running_loop().create_task(asyncio.sleep(1))
        count: int = runtime()["asyncio_tasks"]
        idle.cancel()
        return count

    assert asyncio.run(scenario()) == 2
