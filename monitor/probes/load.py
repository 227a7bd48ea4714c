"""load: three sequential create+update+delete cycles complete within `deadlines.load`."""

from __future__ import annotations

from monitor.probes._expect import (
    delete_user,
    deletion_reaches_backend,
    reaches_backend,
    update_reaches_backend,
    update_user,
)
from monitor.probes._run import ProbeRun
from monitor.results import ProbeResult
from monitor.settings import Deadlines, ProbeSettings
from monitor.targets.base import Target

GROUP = "core"
KINDS = ("missing", "stale", "partial", "duplicate", "orphan", "slow")
NEEDS = ("auth.create", "auth.update", "auth.delete", "backend.get_user", "backend.count_users")
EXCLUSIVE = False
CYCLES = 3


def worst_case(deadlines: Deadlines) -> float:
    """No new step starts once the budget is spent; the wait under way may run to give_up."""
    return deadlines.load + deadlines.give_up


async def run(target: Target, settings: ProbeSettings) -> ProbeResult:
    async with ProbeRun("load", target, settings) as probe:
        await check(probe)
    return probe.result()


async def check(probe: ProbeRun) -> None:
    started = probe.clock.monotonic()
    budget = probe.deadlines.load
    for done in range(CYCLES):
        if probe.clock.monotonic() - started > budget:
            probe.found("slow", f"load budget of {budget:g} s spent after {done} of {CYCLES} cycles")
            return
        if not await cycle(probe):
            return
    took = probe.clock.monotonic() - started
    if took > budget:
        probe.found("slow", f"{CYCLES} cycles took {took:.3f} s (budget {budget:g} s)")


async def cycle(probe: ProbeRun) -> bool:
    """One create, update and delete, each waited for; False once one never arrived."""
    user, acked = await probe.create_user()
    if not await reaches_backend(probe, user, acked):
        return False
    field = probe.mutable_fields[0]
    before, acked = await update_user(probe, user, {field: f"{user.fields[field]}-load"})
    if not await update_reaches_backend(probe, user, before, acked):
        return False
    acked = await delete_user(probe, user)
    return await deletion_reaches_backend(probe, user, acked)
