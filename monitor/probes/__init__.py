"""The probes: one module each, all with `run(target, settings) -> ProbeResult`."""

from __future__ import annotations

from types import ModuleType
from typing import Protocol

from monitor.probes import (
    concurrent,
    create_sync,
    delete_cascade,
    duplicate,
    load,
    orphan_cleanup,
    partial_update,
    rollback,
    transaction,
    update_propagation,
)
from monitor.results import ProbeResult
from monitor.settings import Deadlines, ProbeSettings
from monitor.targets.base import Target


class Probe(Protocol):
    """What every probe module provides."""

    GROUP: str  # "core" or "integrity"
    KINDS: tuple[str, ...]  # the inconsistency kinds it can report
    NEEDS: tuple[str, ...]  # the calls it makes, as `side.call`
    EXCLUSIVE: bool  # must run alone on its target

    def worst_case(self, deadlines: Deadlines) -> float: ...
    async def run(self, target: Target, settings: ProbeSettings) -> ProbeResult: ...


_MODULES: tuple[ModuleType, ...] = (
    create_sync,
    update_propagation,
    delete_cascade,
    transaction,
    rollback,
    concurrent,
    load,
    duplicate,
    orphan_cleanup,
    partial_update,
)

REGISTRY: dict[str, Probe] = {m.__name__.rsplit(".", 1)[-1]: m for m in _MODULES}
PROBE_NAMES: tuple[str, ...] = tuple(REGISTRY)
GROUPS: dict[str, tuple[str, ...]] = {
    group: tuple(name for name, probe in REGISTRY.items() if group == probe.GROUP)
    for group in ("core", "integrity")
}


def expand(names: list[str]) -> list[str]:
    """Probe names with the group names `core` and `integrity` expanded, order kept."""
    out: list[str] = []
    for name in names:
        for probe in GROUPS.get(name, (name,)):
            if probe not in out:
                out.append(probe)
    return out
