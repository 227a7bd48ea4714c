"""partial_update: updating two fields changes exactly those two; the others keep their value."""

from __future__ import annotations

from monitor.probes._expect import reaches_backend, update_reaches_backend, update_user
from monitor.probes._run import ProbeRun
from monitor.results import ProbeResult
from monitor.settings import Deadlines, ProbeSettings
from monitor.targets.base import Target

GROUP = "integrity"
KINDS = ("missing", "stale", "partial", "duplicate", "slow")
NEEDS = ("auth.create", "auth.update", "auth.delete", "backend.get_user", "backend.count_users")
EXCLUSIVE = False


def worst_case(deadlines: Deadlines) -> float:
    return 2 * deadlines.give_up


async def run(target: Target, settings: ProbeSettings) -> ProbeResult:
    async with ProbeRun("partial_update", target, settings) as probe:
        await check(probe)
    return probe.result()


async def check(probe: ProbeRun) -> None:
    user, acked = await probe.create_user()  # every field holds a non-default value
    if not await reaches_backend(probe, user, acked):
        return
    two = probe.mutable_fields[:2]
    acked = await update_user(probe, user, {f: f"{user.fields[f]}-new" for f in two})
    await update_reaches_backend(probe, user, acked)
