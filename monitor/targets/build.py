"""Build a Target from its config."""

from __future__ import annotations

from monitor.clock import Clock
from monitor.config import TargetConfig
from monitor.targets.base import Target
from monitor.targets.simulator import simulator_target


def build_target(config: TargetConfig, *, clock: Clock) -> Target:
    """The adapters a target's config asks for."""
    return simulator_target(config, clock=clock)
