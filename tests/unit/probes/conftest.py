"""Running one probe on a simulator target, on virtual time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from monitor.results import ProbeResult
from monitor.runner import run_probe
from monitor.settings import ProbeSettings
from monitor.sim.world import World
from monitor.targets.base import Target
from monitor.vtime import run_virtual


@dataclass
class Ran:
    """One probe run: its result, the world it ran on (settled), and the target."""

    result: ProbeResult
    world: World
    target: Target


def world_of(target: Target) -> World:
    world = target.state["world"]
    assert isinstance(world, World)
    return world


@pytest.fixture
def run_once(sim_target: Callable[..., Target]) -> Callable[..., Ran]:
    """`run_once("create_sync", {"faults": {...}}, settings)`: one run through the runner."""

    def run(
        probe: str,
        simulator: Mapping[str, Any] | None = None,
        settings: ProbeSettings | None = None,
        *,
        target: Target | None = None,
    ) -> Ran:
        async def scenario() -> Ran:
            chosen = target or sim_target(simulator)
            result = await run_probe(chosen, probe, settings or ProbeSettings())
            await world_of(chosen).settle()
            await chosen.close()
            return Ran(result, world_of(chosen), chosen)

        return run_virtual(scenario())

    return run
