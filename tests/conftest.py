"""Fixtures shared by every test suite."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from monitor.config import TargetConfig
from monitor.sim.world import World
from monitor.targets.base import Target
from monitor.targets.simulator import simulator_target
from monitor.vtime import virtual_clock

pytest_plugins = ("support.postgres",)  # `postgres`, `postgres_clusters`: throwaway clusters

SimTarget = Callable[..., Target]


def make_sim_target(
    simulator: Mapping[str, Any] | None = None, *, world: World | None = None, **target: Any
) -> Target:
    """A simulator target on virtual time (run it under `monitor.vtime.run_virtual`).

    `simulator` holds `SimulatorConfig` settings (seed 1 unless given); `target` holds
    further `TargetConfig` settings; `world` replaces the world the config would build.
    """
    options = {"name": "sim", **target}
    config = TargetConfig(simulator={"seed": 1, **(simulator or {})}, **options)
    return simulator_target(config, clock=virtual_clock(), world=world)


@pytest.fixture
def sim_target() -> SimTarget:
    """Builds simulator targets on virtual time: `sim_target({"sync_delay": 2})`."""
    return make_sim_target
