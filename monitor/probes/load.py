"""load: three sequential create+update+delete cycles complete within `deadlines.load`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from monitor.probes._expect import (
    created,
    delete_user,
    deletion_reaches_backend,
    update_reaches_backend,
    update_user,
)
from monitor.probes._run import ProbeRun, SyntheticUser, probe_runner
from monitor.settings import Deadlines

GROUP = "core"
KINDS = ("missing", "stale", "partial", "duplicate", "orphan", "slow")
NEEDS = ("auth.create", "auth.update", "auth.delete", "backend.get_user", "backend.count_users")
EXCLUSIVE = False
CYCLES = 3


def worst_case(deadlines: Deadlines) -> float:
    """No new step starts once the budget is spent; the wait under way may run to give_up."""
    return deadlines.load + deadlines.give_up


async def check(probe: ProbeRun) -> None:
    started = probe.clock.monotonic()
    budget = probe.deadlines.load
    for done in range(CYCLES):
        for step in Cycle(probe).steps():
            if probe.clock.monotonic() - started > budget:
                spent = f"load budget of {budget:g} s spent after {done} of {CYCLES} cycles"
                probe.found("slow", spent)
                return
            if not await step():
                return
    took = probe.clock.monotonic() - started
    if took > budget:
        probe.found("slow", f"{CYCLES} cycles took {took:.3f} s (budget {budget:g} s)")


class Cycle:
    """One create, update and delete of a user, each waited for until it arrived."""

    def __init__(self, probe: ProbeRun) -> None:
        self.probe = probe
        self.user: SyntheticUser | None = None

    def steps(self) -> tuple[Callable[[], Awaitable[bool]], ...]:
        """Each step returns False once its change never arrived."""
        return (self.create, self.update, self.delete)

    async def create(self) -> bool:
        self.user = await created(self.probe)
        return self.user is not None

    async def update(self) -> bool:
        assert self.user is not None
        field = self.probe.mutable_fields[0]
        changes = {field: f"{self.user.fields[field]}-load"}
        acked = await update_user(self.probe, self.user, changes)
        return await update_reaches_backend(self.probe, self.user, acked)

    async def delete(self) -> bool:
        assert self.user is not None
        acked = await delete_user(self.probe, self.user)
        return await deletion_reaches_backend(self.probe, self.user, acked)


run = probe_runner("load", check)
